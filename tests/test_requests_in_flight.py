"""Mapping requests side by side: TikTok's quota, not its round trip, bounds a streaming sync.

Specifications (README "Running the sync"): up to --max-in-flight mapping requests are in flight
at once, paced by the rate limiter; adds before removes (every add of an audience answered
before its first remove goes out); a batch is recorded only after TikTok acknowledged it, and
every batch TikTok acknowledged is recorded, also when another one failed beside it; the ledger
events of requests in flight are written in groups, not one statement per event. The emulator
holds each mapping request for a round trip (its `latency`) and counts how many it held at once,
so concurrency shows without timing anything.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import sync.warehouse
from sync.apply import customer_file
from sync.engines.base import Engine
from tests.sync_support import SyncEnv, demo_day1_members, sync_env
from tests.warehouses import Warehouses

ROUND_TRIP = {"segment/mapping/": {"fixed": 0.2, "jitter": 0.1}}
BOUND = 4


@pytest.fixture
def env(engine: Warehouses, tmp_path: Path) -> Iterator[SyncEnv]:
    with sync_env(engine, tmp_path / "dbt", latency=ROUND_TRIP) as sync:
        yield sync


@pytest.fixture
def members(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return demo_day1_members(tmp_path_factory)


def _adds_answered_before_removes(env: SyncEnv) -> None:
    """In the emulator's log (written as each answer goes out), no add of an audience follows
    one of its removes: the first remove left only after every add was answered."""
    removing: set[str] = set()
    for entry in env.api_requests():
        if entry["endpoint"] != "segment/mapping/":
            continue
        audiences = {
            audience_id
            for row in entry["body"]["batch_data"]
            for item in row
            for audience_id in item["audience_ids"]
        }
        if entry["body"]["action"] == "delete":
            removing |= audiences
        else:
            assert audiences.isdisjoint(removing), "an add went out after a remove"


def test_requests_go_side_by_side_within_the_bound_and_converge(
    env: SyncEnv, members: Path
) -> None:
    first = env.run_engine(env.client(mapping_batch_limit=100), max_in_flight=BOUND)

    assert first.exit_code == 0
    assert 1 < env.emulator.in_flight()["peak"] <= BOUND
    env.assert_converged()

    # The next day removes as well as adds.
    env.use_members(members, demo_day=1)
    env.emulator.clear_requests()
    second = env.run_engine(env.client(mapping_batch_limit=100), max_in_flight=BOUND)

    assert second.exit_code == 0
    assert env.mapped_hashes("delete")
    _adds_answered_before_removes(env)
    assert env.emulator.in_flight()["peak"] <= BOUND
    env.assert_converged()


def test_a_failure_beside_requests_in_flight_records_theirs_and_the_next_run_converges(
    env: SyncEnv,
) -> None:
    # Throttled past the client's one attempt: some batches fail while others are in flight.
    env.emulator.set_faults([{"kind": "throttle", "path": "segment/mapping/", "rate": 0.2}], seed=5)

    first = env.run_engine(env.client(mapping_batch_limit=100, max_attempts=1), max_in_flight=BOUND)

    assert first.exit_code == 1
    assert 1 < env.emulator.in_flight()["peak"] <= BOUND
    failed = [a for a in first.audiences if a.error is not None]
    assert failed and all(a.error and a.error.code == 40100 for a in failed)
    assert all(a.adds_pending for a in failed)
    # Exactly what TikTok took is recorded: every batch answered with code 0, the ones still in
    # flight when another failed included, and none that failed.
    registry = env.registry()
    segments = {a["audience_id"] for a in env.emulator.audiences() if a["kind"] == "partner"}
    recorded = {
        (registry[key], h)
        for key, by_type in env.acknowledged().items()
        if registry[key] in segments
        for hashes in by_type.values()
        for h in hashes
    }
    assert recorded == env.mapped_hashes("add")

    env.emulator.clear_faults()
    second = env.cli("run")

    assert second.exit_code == 0, second.output
    env.assert_converged()


def _count_mapping_event_statements(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Statements the engine runs that append events of mapping batches to the ledger (one
    list item per statement: how many events it wrote)."""
    statements: list[int] = []
    open_engine = sync.warehouse.open_engine

    def counting(*args: Any, **kwargs: Any) -> Engine:
        engine = open_engine(*args, **kwargs)
        execute = engine.execute

        def counted(sql: str, params: Any = ()) -> None:
            execute(sql, params)
            if "tiktok_sync_batches" in sql and "mapping" in list(params):
                statements.append(list(params).count("mapping"))

        engine.execute = counted  # type: ignore[method-assign]
        return engine

    monkeypatch.setattr(sync.warehouse, "open_engine", counting)
    return statements


def test_ledger_events_of_requests_in_flight_are_written_in_groups(
    env: SyncEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    statements = _count_mapping_event_statements(monkeypatch)

    result = env.run_engine(env.client(mapping_batch_limit=100), max_in_flight=8)

    assert result.exit_code == 0
    env.assert_converged()
    (batches,) = env.query(
        "select count(*) from tiktok_sync_batches where kind = 'mapping' and event = 'sent'"
    )[0]
    assert batches >= 16
    # Every batch has its 'sent' and its 'acknowledged' event, written in groups of up to 8
    # (a window about to go out) and at least 4 (half of those in flight answered) but where an
    # audience starts, switches from adds to removes or ends: far fewer statements than events.
    assert sum(statements) == 2 * batches
    assert len(statements) <= batches


def test_the_files_of_a_create_are_uploaded_side_by_side(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The customer-file audience's members in five files, each upload held for a round trip.
    monkeypatch.setattr(customer_file, "ids_per_member_file", lambda _, members: members // 5 + 1)
    latency = {"dmp/custom_audience/file/upload/": {"fixed": 0.3}}
    with sync_env(tmp_path_factory, tmp_path / "dbt", latency=latency) as env:
        result = env.run_engine(env.client(), max_in_flight=BOUND)

        assert result.exit_code == 0
        env.assert_converged()
        uploads = sorted(
            (entry["time"], entry["time"] + entry["duration_ms"] / 1000)
            for entry in env.api_requests()
            if entry["endpoint"] == "dmp/custom_audience/file/upload/"
        )
    assert len(uploads) == 5
    # The first two go out together; a third never before the oldest in flight is answered.
    events = sorted([(start, 1) for start, _ in uploads] + [(end, -1) for _, end in uploads])
    at_once = list(itertools.accumulate(change for _, change in events))
    assert max(at_once) == 2
