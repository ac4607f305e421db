"""When TikTok or the network fails mid-run: nothing is lost, nothing acknowledged goes twice.

Specifications (README "Guarantees", "At-least-once, idempotent effect"; the batch is the unit
retried and recorded): a batch is recorded only after TikTok acknowledged it; a batch that fails
after the client's retries leaves it and the rest of that audience pending (exit 1) while other
audiences go on; the next run sends exactly what is pending. Faults come from the emulator
(docs/tiktok-api.md §5.2, §7); the client is given two attempts and tiny backoffs so the tests stay
fast.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.dbt_support import PROJECT_DIR
from tests.sync_support import ADVERTISER, SyncEnv, sync_env
from tests.warehouses import Warehouses

NEWSLETTER = "demo_newsletter_subscribers"


@pytest.fixture
def env(engine: Warehouses, tmp_path: Path) -> Iterator[SyncEnv]:
    with sync_env(engine, tmp_path / "dbt") as sync:
        yield sync


@pytest.mark.every_engine
def test_mapping_faults_leave_batches_pending_and_the_next_run_converges(env: SyncEnv) -> None:
    env.emulator.set_faults(
        [
            # The first batch is throttled beyond the client's two attempts (docs/tiktok-api.md
            # §5.1).
            {"kind": "throttle", "path": "segment/mapping/", "count": 2},
            {"kind": "http_5xx", "path": "segment/mapping/", "rate": 0.25},
            {"kind": "drop", "path": "segment/mapping/", "rate": 0.15},
            # TikTok applied the batch but the answer never arrived: not acknowledged.
            {"kind": "applied_then_drop", "path": "segment/mapping/", "rate": 0.1},
        ],
        seed=3,
    )
    client = env.client(max_attempts=2, mapping_batch_limit=250)

    # One request at a time: the seeded faults land on the same batches on every run.
    first = env.run_engine(client, max_in_flight=1)

    assert first.exit_code == 1
    assert first.status == "partial"
    by_key = {a.plan.audience_key: a for a in first.audiences}
    assert by_key[NEWSLETTER].status == "success"  # faults only on the segment API
    failed = [a for a in first.audiences if a.error is not None]
    assert failed and all(a.adds_pending for a in failed)
    assert {a.error.code for a in failed if a.error} >= {40100}
    # Whatever was recorded, TikTok holds (state = acknowledged, never more).
    tiktok, state = env.tiktok(), env.acknowledged()
    for key, members in state.items():
        for id_type, hashes in members.items():
            assert hashes <= tiktok[key][id_type]
    history = {h["audience_key"]: h for h in env.history()}
    for result in failed:
        row = history[result.plan.audience_key]
        assert row["status"] in ("partial", "failed")
        assert row["error_code"] == (result.error.code if result.error else None)
        assert row["adds_pending"] == result.adds_pending > 0

    env.emulator.clear_faults()
    env.emulator.clear_requests()
    second = env.cli("run")

    assert second.exit_code == 0, second.output
    assert env.tiktok() == env.desired() == env.acknowledged()
    registry = env.registry()
    acknowledged_before = {
        (registry[key], h) for key, members in state.items() for hs in members.values() for h in hs
    }
    assert env.mapped_hashes("add").isdisjoint(acknowledged_before)


@pytest.mark.engines("duckdb")  # the client's handling of TikTok; the ledger: the test above
def test_customer_file_update_failures_and_processing_lock_leave_changes_pending(
    env: SyncEnv,
) -> None:
    assert env.cli("run").exit_code == 0
    env.rebuild(demo_day=1)
    pending = env.pending()[NEWSLETTER]
    env.emulator.set_faults(
        [{"kind": "server_error", "path": "dmp/custom_audience/update/", "count": 2}]
    )

    failed = env.run_engine(env.client(max_attempts=2))

    assert failed.exit_code == 1
    result = {a.plan.audience_key: a for a in failed.audiences}
    assert result[NEWSLETTER].status == "failed"
    error = result[NEWSLETTER].error
    assert error is not None
    assert error.code == 50000
    assert error.request_id
    assert env.pending() == {NEWSLETTER: pending}  # the streaming audiences went on

    # TikTok locks a customer-file audience while it processes a change (docs/tiktok-api.md §3.4,
    # §7).
    env.emulator.clear_faults()
    env.emulator.configure(processing_seconds=1.5)
    _touch(env, env.registry()[NEWSLETTER] or "")
    locked = env.run_engine(env.client(), processing_wait=0)
    assert locked.exit_code == 1
    busy = locked.audiences[-1]
    assert (busy.plan.audience_key, busy.status) == (NEWSLETTER, "failed")
    assert busy.error is not None and busy.error.code == 40002
    assert env.pending() == {NEWSLETTER: pending}

    _touch(env, env.registry()[NEWSLETTER] or "")
    waited = env.run_engine(env.client(), processing_wait=30)
    assert waited.exit_code == 0
    assert env.pending() == {}
    assert env.tiktok()[NEWSLETTER] == env.desired()[NEWSLETTER]
    assert env.tiktok() == env.acknowledged()


def _touch(env: SyncEnv, audience_id: str) -> None:
    """An APPEND of a member the audience already has: no change, but TikTok locks it again."""
    deadline = time.monotonic() + 10
    while any(a["processing"] for a in env.emulator.audiences() if a["audience_id"] == audience_id):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    member = sorted(env.emulator.members(audience_id)["EMAIL_SHA256"])[0]
    with env.client() as client:
        path = client.upload_customer_file(ADVERTISER, f"{member}\n".encode(), "EMAIL_SHA256")
        client.update_custom_audience(ADVERTISER, audience_id, [path], "APPEND")


@pytest.mark.engines("duckdb")  # Postgres: test_concurrency.py, a run holding the lock
def test_a_second_run_while_one_is_running_exits_2_and_sends_nothing(env: SyncEnv) -> None:
    # The first run holds the warehouse from before its first request to the end; TikTok is
    # slow to answer its first mapping, so it is surely still running when the second starts.
    env.emulator.set_faults([{"kind": "slow", "path": "segment/mapping/", "count": 1, "delay": 3}])
    process_env = {k: v for k, v in env.env().items() if v is not None}
    first = subprocess.Popen(
        [sys.executable, "-m", "sync", "run", "--project-dir", str(PROJECT_DIR), "--json"],
        env={**os.environ, **process_env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not env.emulator.requests():  # the first create: the warehouse is held
            assert first.poll() is None and time.monotonic() < deadline
            time.sleep(0.02)

        second = env.cli("run")

        assert second.exit_code == 2
        assert "is locked by" in second.stderr and "wait for it to finish" in second.stderr
        assert second.stderr.count("\n") == 1
        assert "Traceback" not in second.output
        assert first.poll() is None  # the refusal came while the first run was running
    finally:
        out, err = first.communicate(timeout=60)
    assert first.returncode == 0, err
    assert json.loads(out)["status"] == "success"
    assert env.tiktok() == env.desired() == env.acknowledged()
    assert len(env.emulator.audiences()) == 3
    # Every identifier went out exactly once: nothing from the refused run.
    sent = [
        (item["audience_ids"][0], item["id"])
        for r in env.api_requests()
        if r["endpoint"] == "segment/mapping/"
        for row in r["body"]["batch_data"]
        for item in row
    ]
    assert len(sent) == len(set(sent)) == len(env.mapped_hashes("add"))


def test_a_refused_token_stops_the_run_with_exit_2(env: SyncEnv) -> None:
    result = env.cli("run", "--json", env={"TIKTOK_ACCESS_TOKEN": "not-a-valid-token"})

    assert result.exit_code == 2
    report = json.loads(result.stdout)
    assert report["status"] == "failed"
    first, *rest = report["audiences"]
    assert first["error"]["code"] == 40105
    assert all(a["error"]["message"].startswith("not attempted") for a in rest)
    assert "not-a-valid-token" not in result.output
    assert "Traceback" not in result.output
    assert env.emulator.audiences() == []
    assert env.registry() == {}  # the create surely did not happen
    assert [h["status"] for h in env.history()] == ["failed"]
