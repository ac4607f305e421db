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
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import sync.warehouse
from sync.apply import customer_file
from sync.engines.base import Engine
from sync.warehouse import Warehouse
from tests.sync_support import SyncEnv, demo_day1_members, sync_env
from tests.warehouses import Warehouses

ROUND_TRIP = {"segment/mapping/": {"fixed": 0.2, "jitter": 0.1}}
BOUND = 4
NEW = "demo_high_value_customers"  # streaming


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


def _creates_and_mappings_of(
    env: SyncEnv, audience_id: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The segment creates in order of arrival, and the mappings sent to `audience_id`."""
    log = sorted(env.api_requests(), key=lambda entry: entry["time"])
    creates = [entry for entry in log if entry["endpoint"] == "segment/audience/"]
    mappings = [
        entry
        for entry in log
        if entry["endpoint"] == "segment/mapping/"
        and {a for row in entry["body"]["batch_data"] for item in row for a in item["audience_ids"]}
        == {audience_id}
    ]
    return creates, mappings


def test_the_next_new_audience_is_begun_while_the_last_requests_of_one_are_in_flight(
    env: SyncEnv,
) -> None:
    # TikTok holds the first audience's two mappings (one per id type) HELD seconds each: one
    # audience after the other, the second create could not leave before they were answered.
    held = 2.0
    env.emulator.configure(latency={})
    env.emulator.set_faults(
        [{"kind": "slow", "path": "segment/mapping/", "count": 2, "delay": held}]
    )

    result = env.run_engine(env.client())

    assert result.exit_code == 0
    first_id = result.audiences[0].audience_id
    assert first_id is not None
    creates, first = _creates_and_mappings_of(env, first_id)
    assert len(creates) == 2 and len(first) == 2
    assert all(entry["fault"] == "slow" for entry in first)
    # Sent while both were held: before the earliest answer could have left TikTok.
    assert creates[1]["time"] < min(entry["time"] for entry in first) + held
    env.assert_converged()
    assert len(env.emulator.audiences()) == 3
    assert [h["audience_key"] for h in env.history()] == [
        a.plan.audience_key for a in result.audiences
    ]


def test_an_audience_begun_early_is_finished_when_the_one_before_stops_the_run(
    env: SyncEnv,
) -> None:
    # The first audience's first mapping is refused for the token (40105): that stops the run,
    # after the next audience was begun beside its requests in flight. The next one is
    # finished (its create recorded, its members sent); the one after is not attempted.
    env.emulator.configure(latency={})
    env.emulator.set_faults(
        [{"kind": "server_error", "path": "segment/mapping/", "count": 1, "code": 40105}]
    )

    stopped = env.run_engine(env.client())

    first, begun, after = stopped.audiences
    assert first.stops_run and first.error is not None and first.error.code == 40105
    assert begun.status == "success" and begun.audience_id is not None
    assert env.registry()[begun.plan.audience_key] == begun.audience_id
    assert env.tiktok()[begun.plan.audience_key] == env.desired()[begun.plan.audience_key]
    assert after.status == "failed" and after.error is not None
    assert "not attempted" in after.error.message

    again = env.run_engine(env.client())

    assert again.exit_code == 0
    env.assert_converged()
    assert len(env.emulator.audiences()) == 3


def test_a_new_audience_goes_out_while_the_rest_of_its_members_are_copied(
    env: SyncEnv, engine: Warehouses, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Parts of ~50 members and batches of 20: the audience's members are copied into the ledger
    # in several parts; on DuckDB (a file the run holds) the later ones while the first are
    # out. Every member goes out once, in batches within the limit, and the audience converges.
    env.emulator.configure(latency={})
    monkeypatch.setattr(sync.warehouse, "PART_ROWS", 50)
    copied: list[float] = []
    copy_part = Warehouse._copy_part

    def noting(self: Warehouse, *args: Any) -> bool:
        done = copy_part(self, *args)
        if done:
            copied.append(time.time())
        return done

    monkeypatch.setattr(Warehouse, "_copy_part", noting)

    result = env.run_engine(env.client(mapping_batch_limit=20), [NEW], max_in_flight=BOUND)

    assert result.exit_code == 0
    assert env.tiktok()[NEW] == env.desired()[NEW]
    assert env.acknowledged()[NEW] == env.desired()[NEW]
    mappings = [e for e in env.api_requests() if e["endpoint"] == "segment/mapping/"]
    sent = [
        (audience_id, item["id"])
        for entry in mappings
        for row in entry["body"]["batch_data"]
        for item in row
        for audience_id in item["audience_ids"]
    ]
    assert len(sent) == len(set(sent))  # none twice
    assert all(len(entry["body"]["batch_data"]) <= 20 for entry in mappings)
    if engine.engine == "duckdb":
        assert len(copied) > 2
        assert max(copied) > min(entry["time"] for entry in mappings)
    else:  # a server warehouse copies each audience's members at once
        assert not copied
