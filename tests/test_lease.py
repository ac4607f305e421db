"""The run lease of the engines without a session lock (sync/engines/lease.py), step by step.

Specifications, on an in-memory DuckDB table with the columns dbt creates, and a clock and a
pause the test drives, so every interleaving is exact: the earliest claim wins and every
other claimant withdraws and refuses naming it; a claim too slow to be seen in time withdraws
itself; expired and released leases hold nothing; the holder renews once a third of the time
to live has passed and stops, writing nothing, once its lease ran out. The same protocol runs on
every lease engine through its own driver in tests/engines/test_sync_contract.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from sync.engines.base import Params
from sync.engines.lease import LOCKS, LeaseLock
from sync.errors import WarehouseError

T0 = datetime(2026, 12, 3, 10, 0, 0)
TTL = LeaseLock.lease_ttl
SETTLE = LeaseLock.lease_commit_bound + LeaseLock.lease_clock_skew


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, by: timedelta) -> None:
        self.now += by


class TableLease(LeaseLock):
    """A lease engine over one DuckDB connection (shared by every claimant in a test)."""

    types = ("test",)

    def __init__(self, con: duckdb.DuckDBPyConnection, clock: Clock) -> None:
        super().__init__("TestDB", "main")
        self.driver_errors = (duckdb.Error,)
        self._con = con
        self.clock = clock
        self.lease_clock = clock
        self.lease_sleep = self._pause
        self.during_pause: Callable[[], None] = lambda: None
        self.during_write: Callable[[], None] = lambda: None
        self.writes: list[str] = []

    def _pause(self, seconds: float) -> None:
        self.clock.advance(timedelta(seconds=seconds))
        self.during_pause()

    def relation(self, identifier: str) -> str:
        return identifier

    def present_relations(self) -> set[str]:
        return {LOCKS}

    def write(self, sql: str, params: Params = ()) -> None:
        self.during_write()
        self._con.execute(sql, list(params))
        self.writes.append(sql)

    def fetch(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]:
        return self._con.execute(sql, list(params)).fetchall()

    def stream(self, sql: str, params: Params, batch_rows: int) -> Iterator[pa.RecordBatch]:
        raise NotImplementedError

    def close(self) -> None:
        pass


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    with duckdb.connect() as connection:
        connection.execute(
            f"create table {LOCKS} (holder varchar, event varchar, claimed_at timestamp, "
            "expires_at timestamp, host varchar, process_id bigint, event_at timestamp)"
        )
        yield connection


@pytest.fixture
def clock() -> Clock:
    return Clock()


def events(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    return [
        (str(h), str(e))
        for h, e in con.execute(f"select holder, event from {LOCKS} order by rowid").fetchall()
    ]


def claim(
    con: duckdb.DuckDBPyConnection, holder: str, at: datetime, expires: datetime | None = None
) -> None:
    """A claim another process appended (as `acquire` writes it)."""
    con.execute(
        f"insert into {LOCKS} values (?, 'claimed', ?, ?, 'elsewhere', 42, ?)",
        [holder, at, expires or at + TTL, at],
    )


def test_a_lone_claimant_holds_after_the_settle_and_releases_at_the_end(
    con: duckdb.DuckDBPyConnection, clock: Clock
) -> None:
    engine = TableLease(con, clock)

    engine.acquire_run_lock("run-a")

    assert clock.now == T0 + SETTLE  # it waited for claims stamped before its own to show
    assert events(con) == [("run-a", "claimed")]
    assert [lease.holder for lease in engine.active_leases()] == ["run-a"]
    engine.release_run_lock()
    assert events(con) == [("run-a", "claimed"), ("run-a", "released")]
    assert engine.active_leases() == []
    engine.release_run_lock()  # once only
    assert len(events(con)) == 2


def test_a_held_lease_refuses_the_next_run_at_once_naming_the_holder(
    con: duckdb.DuckDBPyConnection, clock: Clock
) -> None:
    claim(con, "run-a", T0 - timedelta(minutes=1))
    engine = TableLease(con, clock)

    with pytest.raises(WarehouseError) as refused:
        engine.acquire_run_lock("run-b")

    message = str(refused.value)
    assert "locked by run run-a (process 42 on elsewhere" in message
    assert "wait for it to finish" in message and "\n" not in message
    assert refused.value.exit_code == 2
    assert events(con) == [("run-a", "claimed")]  # no claim written, no settle waited
    assert clock.now == T0


def test_a_claim_stamped_earlier_but_seen_later_wins_and_the_later_one_withdraws(
    con: duckdb.DuckDBPyConnection, clock: Clock
) -> None:
    # run-a stamped its claim before run-b did, but it became visible only after run-b's first
    # read (within the commit bound): run-b sees it after the settle, yields and says so.
    late = TableLease(con, clock)
    late.during_pause = lambda: claim(con, "run-a", T0 - timedelta(seconds=1))

    with pytest.raises(WarehouseError, match=r"locked by run run-a .*wait for it to finish"):
        late.acquire_run_lock("run-b")

    assert events(con) == [("run-b", "claimed"), ("run-a", "claimed"), ("run-b", "released")]
    assert [lease.holder for lease in late.active_leases()] == ["run-a"]


def test_a_claim_committed_after_a_rivals_settle_withdraws_so_the_rival_alone_holds(
    con: duckdb.DuckDBPyConnection, clock: Clock
) -> None:
    # run-a stamps its claim first, but its INSERT commits only after run-b has claimed,
    # settled and read: run-b saw no earlier claim and holds. run-a measures its slow commit
    # and withdraws; were it to count it, both would hold.
    slow, rival = TableLease(con, clock), TableLease(con, clock)

    def rival_claims_meanwhile() -> None:
        slow.during_write = lambda: None
        rival.acquire_run_lock("run-b")

    slow.during_write = rival_claims_meanwhile
    with pytest.raises(WarehouseError, match=r"took 7\.0 s to record"):
        slow.acquire_run_lock("run-a")

    assert [lease.holder for lease in rival.active_leases()] == ["run-b"]
    assert events(con) == [("run-b", "claimed"), ("run-a", "claimed"), ("run-a", "released")]


def test_a_claim_that_took_too_long_to_record_withdraws_and_refuses(
    con: duckdb.DuckDBPyConnection, clock: Clock
) -> None:
    # A rival may have read the table between this claim's stamp and its commit.
    engine = TableLease(con, clock)
    engine.during_write = lambda: clock.advance(LeaseLock.lease_commit_bound + timedelta(0, 1))

    with pytest.raises(WarehouseError, match=r"took 6\.0 s to record .*nothing was sent; retry"):
        engine.acquire_run_lock("run-a")

    assert events(con) == [("run-a", "claimed"), ("run-a", "released")]
    assert engine.active_leases() == []


@pytest.mark.parametrize(
    "other",
    [
        pytest.param("expired", id="expired"),
        pytest.param("released", id="released"),
    ],
)
def test_an_expired_or_released_lease_holds_nothing(
    con: duckdb.DuckDBPyConnection, clock: Clock, other: str
) -> None:
    if other == "expired":  # a run that crashed an hour ago
        claim(con, "crashed", T0 - timedelta(hours=1))
    else:  # a run that finished a minute ago, its lease not yet expired
        claim(con, "finished", T0 - timedelta(minutes=2))
        con.execute(
            f"insert into {LOCKS} values ('finished', 'released', ?, null, 'elsewhere', 42, ?)",
            [T0 - timedelta(minutes=2), T0 - timedelta(minutes=1)],
        )
    engine = TableLease(con, clock)

    engine.acquire_run_lock("run-a")

    assert [lease.holder for lease in engine.active_leases()] == ["run-a"]


def test_writes_renew_the_lease_once_a_third_of_its_time_has_passed(
    con: duckdb.DuckDBPyConnection, clock: Clock
) -> None:
    engine = TableLease(con, clock)
    engine.acquire_run_lock("run-a")
    con.execute("create table ledger (n int)")

    clock.advance(TTL / 3 - SETTLE - timedelta(seconds=1))
    engine.execute("insert into ledger values (1)")
    assert events(con) == [("run-a", "claimed")]  # not due yet: no statement
    clock.advance(timedelta(seconds=1))
    engine.execute("insert into ledger values (2)")
    assert events(con) == [("run-a", "claimed"), ("run-a", "renewed")]
    (lease,) = engine.active_leases()
    assert lease.claimed_at == T0 and lease.expires_at == T0 + TTL / 3 + TTL
    engine.renew_run_lock()  # just renewed: nothing
    assert len(events(con)) == 2


def test_a_run_whose_lease_ran_out_writes_nothing_more(
    con: duckdb.DuckDBPyConnection, clock: Clock
) -> None:
    # It stalled past its expiry: another run may hold the warehouse by now.
    engine = TableLease(con, clock)
    engine.acquire_run_lock("run-a")
    con.execute("create table ledger (n int)")
    clock.now = T0 + TTL - SETTLE

    with pytest.raises(WarehouseError, match=r"lease of run run-a .* ran out at .*run again"):
        engine.execute("insert into ledger values (1)")

    assert con.execute("select count(*) from ledger").fetchall() == [(0,)]
    engine.release_run_lock()  # it holds nothing to release
    assert events(con) == [("run-a", "claimed")]


def test_a_renewal_recorded_after_the_old_lease_ran_out_stops_the_run(
    con: duckdb.DuckDBPyConnection, clock: Clock
) -> None:
    engine = TableLease(con, clock)
    engine.acquire_run_lock("run-a")
    clock.now = T0 + TTL / 2
    engine.during_write = lambda: clock.advance(TTL)  # the renewal's INSERT hung

    with pytest.raises(WarehouseError, match=r"ran out"):
        engine.renew_run_lock()
