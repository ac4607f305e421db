"""Reads started together (`Engine.fetch_soon`) on DuckDB and a real Postgres server: each
gives its own rows, a failing one raises when its rows are taken and spoils none of the others.

On Postgres they run side by side on sessions of their own (sync/engines/postgres.py: the plan's
counts, two at a time): proven by a read that stays blocked on a lock while another read
started after it comes back, and closing the engine ends a read nobody took, session and all.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from sync.errors import WarehouseError
from sync.warehouse import Warehouse
from tests.warehouses import PostgresWarehouse, Warehouses

# An advisory lock key of the test's own, far from the run lock's hashtext() keys.
HELD_KEY = 741_852_963


@contextmanager
def _opened(engine: Warehouses, tmp_path: Path) -> Iterator[tuple[Warehouse, object]]:
    with engine.demo(tmp_path / "dbt") as warehouse, Warehouse.open(warehouse.settings()) as wh:
        yield wh, warehouse


def test_reads_started_together_each_give_their_own_rows(
    engine: Warehouses, tmp_path: Path
) -> None:
    with _opened(engine, tmp_path) as (opened, _):
        members = opened.table("tiktok_audience_members")
        reads = [
            opened.engine.fetch_soon(f"select count(*) + ? from {members}", [n]) for n in range(5)
        ]
        failing = opened.engine.fetch_soon("select cast(? as integer)", ["not a number"])
        after = opened.engine.fetch_soon("select ?", ["after the failure"])
        (total,) = opened.engine.fetch(f"select count(*) from {members}")[0]

        taken = [read() for read in reversed(reads)]  # in any order
        with pytest.raises(opened.engine.driver_errors):
            failing()
        assert after() == [("after the failure",)]
        assert opened.engine.fetch("select ?", ["and the session's own reads"]) == [
            ("and the session's own reads",)
        ]

    assert total > 0
    assert [rows[0][0] for rows in taken] == [total + n for n in reversed(range(5))]


def test_a_failing_read_is_the_warehouses_one_line_error_when_taken(
    engine: Warehouses, tmp_path: Path
) -> None:
    with _opened(engine, tmp_path) as (opened, _):
        missing = opened.table("not_built_yet")
        pending = opened._fetch_soon("reading not_built_yet", f"select * from {missing}")
        with pytest.raises(WarehouseError) as raised:
            pending()

    message = str(raised.value)
    assert "failed while reading not_built_yet" in message and "\n" not in message


@pytest.mark.engines("postgres")
def test_postgres_runs_reads_side_by_side_and_closing_ends_one_nobody_took(
    engine: Warehouses, tmp_path: Path
) -> None:
    with _opened(engine, tmp_path) as (opened, held_by):
        assert isinstance(held_by, PostgresWarehouse)
        backends = (
            "select count(*) from pg_stat_activity where datname = current_database() "
            "and backend_type = 'client backend'"
        )
        (before,) = held_by.query(backends)[0]
        held_by.query("select pg_advisory_lock(?)", [HELD_KEY])
        try:
            # Never taken: the engine's close ends it.
            opened.engine.fetch_soon("select pg_advisory_lock_shared(?)", [HELD_KEY])
            later = opened.engine.fetch_soon("select 'not behind the blocked one'")
            # Taken on a thread of the test's: one at a time, this would wait forever.
            taken: list[object] = []
            taker = threading.Thread(target=lambda: taken.append(later()), daemon=True)
            taker.start()
            taker.join(timeout=60)
            assert taken == [[("not behind the blocked one",)]]
            waiting = held_by.query(
                "select count(*) from pg_stat_activity where datname = current_database() "
                "and wait_event_type = 'Lock' and query like 'select pg_advisory_lock_shared%'"
            )
            assert waiting == [(1,)]
        finally:
            opened.close()
            held_by.query("select pg_advisory_unlock(?)", [HELD_KEY])

        # Every session of the engine ends with it, its writer too (the test's own session is
        # counted both times); a backend leaves pg_stat_activity a moment after its session.
        for _ in range(100):
            (after,) = held_by.query(backends)[0]
            if after < before:
                break
            time.sleep(0.1)
        assert after == before - 1
