"""The Warehouse API on every engine: the same specifications, one warehouse per engine.

Each engine's warehouse is built by dbt from integration_tests/ (tests/engines/sync_targets.py,
one builder per engine; a double says so in its builder). Then, through `tiktok-sync`'s own
connection to it:

* it opens, finds every relation dbt built, and an unbuilt schema says to run dbt build;
* targets, registry and counts read what dbt built;
* frozen changes stream in batches of exactly the requested size while batch events are
  appended, and acknowledged batches leave the diff;
* registry events and run history land as written (timestamps unchanged: naive UTC);
* one run at a time: on lease engines a second holder is refused (exit 2, one line), an expired
  or released lease blocks nothing, of two runs claiming together exactly one holds, and
  `dbt build` of the sync models stops while a run holds the lease;
* `tiktok-sync run` against the emulator converges; a second run, `plan`, `check` and
  `audiences` send nothing.

Every test but the first starts from empty ledgers (`SyncTarget.reset`): the state of a
warehouse dbt built and nothing synced.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import closing
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import sync.warehouse as warehouse_module
from sync import engines
from sync.emulator import Emulator, EmulatorConfig
from sync.engines.base import Engine
from sync.errors import WarehouseError
from sync.warehouse import REQUIRED_RELATIONS, Batch, HistoryRow, Warehouse, utc_now
from tests.engines.sync_targets import BUILDERS, EngineSyncEnv, SyncTarget
from tests.reporting import add_summary
from tests.sync_support import WRITE_PATHS, mapping_batch

HIGH_VALUE = "demo_high_value_customers"
MOBILE = "demo_mobile_app_users"
NEWSLETTER = "demo_newsletter_subscribers"
AUDIENCE_ID = "7100000000000000001"
ADVERTISER = "7000000000000000001"


# Targets whose contract does not hold yet: skipped with what was seen, until it is fixed.
NOT_HOLDING = {
    "spark-lease": (
        "the lease on plain parquet tables does not hold yet: two claims at once made Spark's "
        "file committer fail (FileNotFoundException: tiktok_sync_locks/_temporary/0 does not "
        "exist; concurrent INSERTs into one plain table share that staging directory), and a "
        "run under the lease failed copying its changes (ExecutionException: Boxed Exception); "
        "README 'The sync job on Spark and Databricks'"
    ),
}


def _engine_param(name: str) -> Any:
    """DuckDB runs in make test; every other engine behind its marker (pyproject), the name up
    to a dash ("spark-lease" is marked spark)."""
    if name == "duckdb":
        return name
    marks = [getattr(pytest.mark, name.partition("-")[0])]
    if name in NOT_HOLDING:
        marks.append(pytest.mark.skip(reason=NOT_HOLDING[name]))
    return pytest.param(name, marks=marks)


@pytest.fixture(scope="module", params=[_engine_param(name) for name in sorted(BUILDERS)])
def target(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SyncTarget]:
    name = str(request.param)
    with BUILDERS[name](tmp_path_factory, tmp_path_factory.mktemp(f"sync-{name}")) as built:
        yield built


@pytest.fixture
def clean(target: SyncTarget) -> SyncTarget:
    target.reset()
    return target


def grouped(target: SyncTarget, sql: str) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for key, id_type, n in target.query(sql):
        out.setdefault(str(key), {})[str(id_type)] = int(n)
    return out


# --- opening --------------------------------------------------------------------------------


def test_the_warehouse_opens_and_finds_every_relation_dbt_built(clean: SyncTarget) -> None:
    with clean.open() as warehouse:
        present = warehouse.engine.present_relations()
        assert warehouse.missing_relations() == []
        name = warehouse.table("tiktok_sync_batches")

    assert set(REQUIRED_RELATIONS) <= present
    assert all(relation == relation.lower() for relation in present)
    assert name.lower().replace('"', "").replace("`", "").endswith(".tiktok_sync_batches")


def test_a_schema_dbt_did_not_build_says_to_run_dbt_build(target: SyncTarget) -> None:
    settings = target.settings(schema="nothing_built_here")

    for lock_holder in (None, "run-unbuilt"):  # plan/check, and run (a lease engine claims first)
        with pytest.raises(WarehouseError, match=r"run `dbt build`") as refused:
            Warehouse.open(settings, lock_holder=lock_holder)
        assert refused.value.exit_code == 2 and "\n" not in str(refused.value)


def test_a_driver_error_is_one_line_naming_the_engine_and_the_step(clean: SyncTarget) -> None:
    with clean.open() as warehouse:
        with pytest.raises(WarehouseError) as failed:
            warehouse._fetch("reading the void", "select * from no_such_relation_here")
        name = warehouse.engine.name

    message = str(failed.value)
    assert message.startswith(name) and "failed while reading the void" in message
    assert "\n" not in message and failed.value.exit_code == 2


@pytest.mark.parametrize("divisor", [10_000, 3_000_000])
def test_batch_numbers_divide_exactly_even_by_large_divisors(
    clean: SyncTarget, divisor: int
) -> None:
    # freeze_changes numbers batches with the engine's integer division of a row number.
    values = [0, 1, divisor - 1, divisor, 2 * divisor - 1, 2 * divisor, 41 * divisor + 7]
    with clean.open() as warehouse:
        engine = warehouse.engine
        got = [
            int(engine.fetch(f"select {engine.integer_division(str(v), divisor)}")[0][0])
            for v in values
        ]

    assert got == [v // divisor for v in values]


# --- reading --------------------------------------------------------------------------------


def test_targets_registry_and_counts_read_what_dbt_built(clean: SyncTarget) -> None:
    desired = grouped(
        clean,
        "select audience_key, id_type, count(*) from tiktok_audience_desired_members "
        "group by audience_key, id_type",
    )
    rejected = {
        str(k): int(n)
        for k, n in clean.query(
            "select audience_key, count(*) from tiktok_rejected_identifiers group by audience_key"
        )
    }

    with clean.open() as warehouse:
        targets = warehouse.targets()
        registry = warehouse.registry()
        counts = warehouse.counts()
        pending = warehouse.pending(HIGH_VALUE)

    assert [(t.audience_key, t.api, t.mode) for t in targets] == [
        (HIGH_VALUE, "streaming", "mirror"),
        (MOBILE, "streaming", "add_only"),
        (NEWSLETTER, "customer_file", "mirror"),
    ]
    assert all(t.audience_id is None and not t.is_audience_id_configured for t in targets)
    assert registry == {}
    assert set(counts) == set(desired)
    for key, sizes in desired.items():
        assert counts[key].desired == sizes
        assert counts[key].pending_adds == sizes  # nothing synced yet
        assert counts[key].acknowledged == {} and counts[key].pending_removes == {}
        assert counts[key].rejected == rejected.get(key, 0)
    assert pending == (sum(desired[HIGH_VALUE].values()), 0)


# --- the run's changes ----------------------------------------------------------------------


def test_frozen_changes_stream_in_exact_batches_while_batch_events_are_appended(
    clean: SyncTarget,
) -> None:
    (expected,) = clean.query(
        "select count(*) from tiktok_audience_desired_members "
        f"where audience_key = '{HIGH_VALUE}' and id_type = 'EMAIL_SHA256'"
    )[0]
    seen: list[str] = []
    sizes: list[int] = []
    batch_nos: list[int] = []
    window: list[Batch] = []
    with clean.open(lock_holder="test-run") as warehouse:

        def record(batches: list[Batch]) -> None:
            warehouse.batches_sent(batches)
            warehouse.batches_acknowledged([(b, f"request-{b.batch_no}") for b in batches])
            batches.clear()

        warehouse.begin_run("test-run")
        warehouse.register_pending(HIGH_VALUE, ADVERTISER, "streaming", HIGH_VALUE, "test-run")
        warehouse.register_created(HIGH_VALUE, AUDIENCE_ID)
        changes = warehouse.freeze_changes(HIGH_VALUE, 100)
        for chunk in warehouse.frozen(changes, 100):
            assert chunk.action == "add"
            if chunk.id_type != "EMAIL_SHA256":
                continue
            sizes.append(len(chunk.hashes))
            seen += chunk.hashes.to_list()
            batch_nos.append(chunk.batch_no)
            # Appended while the reader is open: what it still has to read must not change.
            batch = mapping_batch(warehouse, changes, chunk, AUDIENCE_ID, ADVERTISER)
            window.append(batch)
            if len(window) == 3:  # events of several batches in one statement, as in flight
                record(window)
        record(window)
        left = warehouse.counts([HIGH_VALUE])[HIGH_VALUE]

    assert len(seen) == len(set(seen)) == expected
    assert sizes == [100] * (expected // 100) + ([expected % 100] if expected % 100 else [])
    assert len(set(batch_nos)) == len(batch_nos)  # one chunk per batch
    # Acknowledged batches leave the diff; the rest of the audience is still to send.
    assert "EMAIL_SHA256" not in left.pending_adds and left.pending_adds
    assert left.acknowledged == {"EMAIL_SHA256": expected}
    events = clean.query(
        "select event, count(*), count(distinct batch_seq) from tiktok_sync_batches group by event"
    )
    assert sorted(events) == [
        ("acknowledged", len(sizes), len(sizes)),
        ("sent", len(sizes), len(sizes)),
    ]


def test_batches_sent_without_an_answer_count_both_ways(clean: SyncTarget) -> None:
    with clean.open(lock_holder="test-run") as warehouse:
        warehouse.begin_run("test-run")
        warehouse.register_pending(HIGH_VALUE, ADVERTISER, "streaming", HIGH_VALUE, "test-run")
        warehouse.register_created(HIGH_VALUE, AUDIENCE_ID)
        changes = warehouse.freeze_changes(HIGH_VALUE, 10_000)
        with closing(warehouse.frozen(changes, 10_000)) as chunks:
            chunk = next(chunks)
        batch = mapping_batch(warehouse, changes, chunk, AUDIENCE_ID, ADVERTISER)
        warehouse.batch_sent(batch)  # ... and no answer
        counts = warehouse.counts([HIGH_VALUE])[HIGH_VALUE]

    unconfirmed = clean.query("select count(*) from tiktok_sync_unconfirmed_changes")[0][0]
    assert unconfirmed == len(chunk.hashes)
    assert counts.unconfirmed_adds == {chunk.id_type: len(chunk.hashes)}
    assert counts.pending_adds[chunk.id_type] == counts.desired[chunk.id_type]  # still to send


def test_registry_events_and_run_history_land_as_written(clean: SyncTarget) -> None:
    started = datetime(2026, 12, 3, 9, 59, 58, 123456)
    finished = datetime(2026, 12, 3, 10, 0, 1, 654321)
    with clean.open(lock_holder="test-run") as warehouse:
        warehouse.begin_run("test-run")
        pending = warehouse.register_pending(
            HIGH_VALUE, ADVERTISER, "streaming", HIGH_VALUE, "test-run"
        )
        assert warehouse.registry()[HIGH_VALUE].audience_id is None
        warehouse.register_pending(MOBILE, ADVERTISER, "streaming", MOBILE, "test-run")
        warehouse.drop_pending(MOBILE, "test-run")  # a create that surely did not happen
        warehouse.register_created(HIGH_VALUE, AUDIENCE_ID)
        registry = warehouse.registry()
        warehouse.append_run_history(
            [
                HistoryRow(
                    run_id="test-run",
                    audience_key=HIGH_VALUE,
                    audience_id=AUDIENCE_ID,
                    advertiser_id=ADVERTISER,
                    api="streaming",
                    started_at=started,
                    finished_at=finished,
                    status="partial",
                    adds_sent=10_000,
                    removes_sent=0,
                    adds_pending=5,
                    removes_pending=0,
                    rejected_identifiers=3,
                    error_code=40002,
                    error_message="it's \\ 'processing' 100%",
                    request_id=None,
                )
            ]
        )
        warehouse.forget_audience(HIGH_VALUE, AUDIENCE_ID, ADVERTISER)
        forgotten = warehouse.registry()

    entry = registry[HIGH_VALUE]
    assert set(registry) == {HIGH_VALUE}
    assert (entry.audience_id, entry.advertiser_id, entry.api, entry.created_by_run_id) == (
        AUDIENCE_ID,
        ADVERTISER,
        "streaming",
        "test-run",
    )
    assert entry.created_at == pending.created_at  # naive UTC, to the microsecond
    assert forgotten == {}
    assert clean.query(
        "select started_at, finished_at, status, adds_sent, error_code, error_message, "
        "request_id from tiktok_sync_run_history"
    ) == [(started, finished, "partial", 10_000, 40002, "it's \\ 'processing' 100%", None)]


# --- one run at a time ----------------------------------------------------------------------


def lease_engine(target: SyncTarget) -> None:
    if not target.lease:
        pytest.skip(f"{target.name} holds one run at a time without a lease ({target.lock})")


def append_lease(
    warehouse: Warehouse, holder: str, event: str, claimed_at: datetime, expires_at: datetime
) -> None:
    """A lease event another process wrote (as sync/engines/lease.py writes it)."""
    warehouse.engine.execute(
        f"insert into {warehouse.table('tiktok_sync_locks')} "
        "(holder, event, claimed_at, expires_at, host, process_id, event_at) "
        "values (?, ?, cast(? as timestamp), cast(? as timestamp), ?, cast(? as bigint), "
        "cast(? as timestamp))",
        [holder, event, claimed_at, expires_at, "elsewhere", 4242, claimed_at],
    )


def test_a_second_holder_is_refused_in_one_line_with_exit_2(clean: SyncTarget) -> None:
    lease_engine(clean)
    with clean.open(lock_holder="run-first"):
        with pytest.raises(WarehouseError) as refused:
            clean.open(lock_holder="run-second")
        leases = clean.query("select holder, event from tiktok_sync_locks")

    message = str(refused.value)
    assert refused.value.exit_code == 2 and "\n" not in message
    assert "locked by run run-first" in message and "wait for it to finish" in message
    assert leases == [("run-first", "claimed")]  # refused before claiming
    assert sorted(clean.query("select holder, event from tiktok_sync_locks")) == [
        ("run-first", "claimed"),
        ("run-first", "released"),
    ]


def test_an_expired_or_released_lease_blocks_nothing(clean: SyncTarget) -> None:
    lease_engine(clean)
    now = utc_now()
    with clean.open() as warehouse:
        # A run that crashed an hour ago, and one that finished a minute ago.
        append_lease(warehouse, "run-crashed", "claimed", now - timedelta(hours=1), now)
        append_lease(
            warehouse, "run-finished", "claimed", now - timedelta(minutes=2), now + timedelta(1)
        )
        append_lease(warehouse, "run-finished", "released", now - timedelta(minutes=2), now)

    with clean.open(lock_holder="run-next") as warehouse:
        holders = [lease.holder for lease in warehouse.engine.active_leases()]  # type: ignore[attr-defined]

    assert holders == ["run-next"]


def test_of_two_runs_claiming_together_exactly_one_holds(clean: SyncTarget) -> None:
    lease_engine(clean)
    start = threading.Barrier(2)
    held = threading.Event()
    outcomes: dict[str, str] = {}

    def claim(holder: str) -> None:
        start.wait()
        try:
            with clean.open(lock_holder=holder):
                outcomes[holder] = "held"
                held.wait(timeout=60)  # hold until the other one has decided
        except WarehouseError as exc:
            outcomes[holder] = str(exc)
            held.set()

    threads = [threading.Thread(target=claim, args=(f"run-{n}",)) for n in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert sorted(o == "held" for o in outcomes.values()) == [False, True], outcomes
    winner = next(h for h, o in outcomes.items() if o == "held")
    loser = next(o for o in outcomes.values() if o != "held")
    assert f"locked by run {winner}" in loser and "wait for it to finish" in loser


def test_dbt_build_of_the_sync_models_stops_while_a_run_holds_the_lease(
    clean: SyncTarget,
) -> None:
    lease_engine(clean)
    select = ("run", "--select", "tiktok_sync_audience_registry")
    with clean.open(lock_holder="run-holding"):
        refused = clean.project.run(*select, check=False)
    # With the views that read it: dbt-postgres and dbt-redshift replace a view by renaming it
    # and dropping the old one with CASCADE, which drops the views bound to it.
    after = clean.project.run("run", "--select", "tiktok_sync_audience_registry+", check=False)

    assert refused.returncode == 1
    assert "tiktok-sync run run-holding holds the warehouse" in refused.stdout
    assert "wait for it to finish" in refused.stdout
    assert after.returncode == 0, after.stdout[-3000:]


# --- a run, end to end ----------------------------------------------------------------------


class Counted:
    """Statements the sync job sends to the warehouse, counted per engine method."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: dict[str, int] = {}
        real_open = engines.open_engine

        def open_engine(*args: Any, **kwargs: Any) -> Engine:
            engine = real_open(*args, **kwargs)
            # `write` carries a lease engine's own events; its `execute` goes through it.
            name = "write" if hasattr(engine, "write") else "execute"
            for method in (name, "fetch", "stream"):
                setattr(engine, method, self._counting(method, getattr(engine, method)))
            return engine

        monkeypatch.setattr(warehouse_module, "open_engine", open_engine)

    def _counting(self, name: str, method: Any) -> Any:
        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] = self.calls.get(name, 0) + 1
            return method(*args, **kwargs)

        return counted

    def total(self) -> int:
        return sum(self.calls.values())


def test_a_run_converges_and_the_next_run_plan_check_and_audiences_send_nothing(
    clean: SyncTarget, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    statements = Counted(monkeypatch)
    with Emulator(EmulatorConfig(qps=0)) as emulator:
        env = EngineSyncEnv(clean.project, emulator, target=clean)
        began = time.monotonic()
        first = env.cli("run", "--json")
        took = time.monotonic() - began
        assert first.exit_code == 0, first.output
        env.assert_converged()
        first_statements, first_calls = statements.total(), dict(statements.calls)
        sent = sum(int(h["adds_sent"]) + int(h["removes_sent"]) for h in env.history())

        requests = len(env.api_requests())
        second = env.cli("run", "--json")
        planned = env.cli("plan")
        checked = env.cli("check", "--json")
        listed = env.cli("audiences", "--json")

        for result in (second, planned, checked, listed):
            assert result.exit_code == 0, result.output
        later = env.api_requests()[requests:]
        assert not [r for r in later if r["endpoint"] in WRITE_PATHS]
        env.assert_converged()
        assert emulator.internal_errors() == []

    per_10k = first_statements / sent * 10_000
    add_summary(
        request.node,
        f"sync contract on {clean.name}: first run sent {sent} identifiers in {took:.1f} s with "
        f"{first_statements} statements ({per_10k:.1f} per 10,000 identifiers: "
        f"{first_calls})",
    )


def test_a_run_while_another_holds_the_lease_exits_2_in_one_line(
    clean: SyncTarget, tmp_path: Path
) -> None:
    lease_engine(clean)
    with Emulator(EmulatorConfig(qps=0)) as emulator:
        env = EngineSyncEnv(clean.project, emulator, target=clean)
        with clean.open(lock_holder="run-holding"):
            result = env.cli("run", "--json")

        assert result.exit_code == 2, result.output
        assert json.loads(result.stdout)["error"]["code"] == "warehouse"
        assert result.stderr.count("\n") == 1
        assert "locked by run run-holding" in result.stderr and "Traceback" not in result.output
        assert not [r for r in env.api_requests() if r["endpoint"] in WRITE_PATHS]
