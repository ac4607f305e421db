"""Postgres: a real server, reached through dbt-postgres (psycopg2).

Reads stream through a server-side (named) cursor on a connection of their own, so a diff of
millions of rows arrives `batch_rows` at a time; writes go through a second connection and
commit one statement at a time. Both connections are opened by dbt's adapter from the profile.

One run at a time: a session-level advisory lock keyed on the target's schema, taken on the
writing connection before anything is read and held until the run ends; Postgres releases it
when the session ends, so a killed run never leaves it behind. A second run exits 2 at once
naming the backend that holds it. `dbt build` of the sync models takes the same lock in shared
mode for a moment (macros/state/check_sync_lock.sql) and stops with a clear error while a run
holds it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from sync.engines.base import Engine, Params, qmark_to_format, rows_to_record_batch
from sync.engines.dbt_target import DbtTarget, open_handle, relation_name
from sync.errors import WarehouseError

# The advisory lock's key: hashtext() of this prefix and the schema, as the dbt macro computes it.
LOCK_PREFIX = "tiktok_sync:"

# Planner settings of the sync job's own sessions (never the server's or dbt's). The ledger views
# join on several correlated columns (run_id, audience_key, batch_no) and filter on aggregates,
# which the planner cannot estimate: it takes thousands of rows for one, and for a read of one
# audience (`where audience_key = ?`) it then picks nested loops or merge joins with the
# identifier as a join filter, which are quadratic in the audience. Measured on a soak
# warehouse (30k people, 500 changes sent without an answer): 60 s and more per read of one
# audience's diff; every join a hash join instead, 0.2-0.4 s, and linear. The same wrong
# estimates, multiplied by the penalty that turns those joins off, put every read past
# jit_above_cost: JIT then compiled ~380 functions for 7.6 s of an 8 s read, so it is off too.
# work_mem: the ledger's sorts and hash aggregates spill to disk at the default 4MB (a first
# sync of 1M identifiers sorted ~90MB per audience on disk); 64MB per sort or hash, for the one
# statement the sync runs at a time. None of this changes a result.
SESSION_SETTINGS = (
    ("enable_nestloop", "off"),
    ("enable_mergejoin", "off"),
    ("jit", "off"),
    ("work_mem", "64MB"),
)


class PostgresEngine(Engine):
    types = ("postgres",)
    lock_kind = "a Postgres advisory lock on the target's schema, held by the run's session"
    # The diff materialises its shared WITH queries (desired members, acknowledged state) for
    # every audience: `where audience_key = ?` does not reach the ledger's aggregation, so
    # three audiences counted one by one cost three times one count of all.
    reads_diff_per_audience = False

    def __init__(self, target: DbtTarget) -> None:
        super().__init__("Postgres", target.schema)
        import psycopg2

        self.driver_errors = (psycopg2.Error,)
        self._psycopg2 = psycopg2
        self._target = target
        self._writer: Any = self._open("tiktok-sync")
        self._reader: Any = None
        self._locked = False

    def _open(self, name: str) -> Any:
        """A session of the target's server, opened by dbt's adapter, with our planner settings
        (committed: a SET in a transaction that rolls back is undone)."""
        handle = open_handle(self._target, name)
        try:
            with handle.cursor() as cursor:
                for setting, value in SESSION_SETTINGS:
                    cursor.execute(f"set {setting} = '{value}'")
            handle.commit()
        except self._psycopg2.Error as exc:
            handle.close()
            raise self.error(exc, "configuring its session") from None
        return handle

    @classmethod
    def open(cls, target: DbtTarget) -> PostgresEngine:
        return cls(target)

    def relation(self, identifier: str) -> str:
        return relation_name(self._target, identifier)

    def execute(self, sql: str, params: Params = ()) -> None:
        try:
            with self._writer.cursor() as cursor:
                cursor.execute(qmark_to_format(sql), list(params))
            self._writer.commit()
        except self._psycopg2.Error:
            self._writer.rollback()
            raise

    def fetch(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]:
        try:
            with self._writer.cursor() as cursor:
                cursor.execute(qmark_to_format(sql), list(params))
                rows = [tuple(r) for r in cursor.fetchall()]
            # End the read's transaction: a session idle in one holds back vacuum.
            self._writer.commit()
            return rows
        except self._psycopg2.Error:
            self._writer.rollback()
            raise

    def stream(self, sql: str, params: Params, batch_rows: int) -> Iterator[pa.RecordBatch]:
        if self._reader is None:
            self._reader = self._open("tiktok-sync-reader")
        # A named cursor is a server-side cursor: the server keeps the result and sends
        # `batch_rows` rows per fetch (psycopg2's client-side cursor would fetch them all).
        cursor = self._reader.cursor(name=f"tiktok_sync_{uuid.uuid4().hex}")
        cursor.itersize = batch_rows
        try:
            cursor.execute(qmark_to_format(sql), list(params))
            names: list[str] | None = None
            while True:
                rows = cursor.fetchmany(batch_rows)
                if names is None:
                    names = [d[0] for d in cursor.description]
                if not rows:
                    break
                yield rows_to_record_batch(names, rows)
        finally:
            try:
                cursor.close()
                self._reader.commit()
            except self._psycopg2.Error:
                self._reader.rollback()

    def integer_division(self, expression: str, divisor: int) -> str:
        # Integer division already: floor() of a bigint has two candidate signatures here.
        return f"(({expression}) / {int(divisor)})"

    def acquire_run_lock(self, holder: str) -> None:
        key = LOCK_PREFIX + self.schema
        (got,) = self.fetch("select pg_try_advisory_lock(hashtext(?))", [key])[0]
        if not got:
            holders = self.fetch(
                "select activity.pid, coalesce(activity.application_name, ''), "
                "activity.backend_start from pg_locks as locks "
                "inner join pg_stat_activity as activity on activity.pid = locks.pid "
                "where locks.locktype = 'advisory' and locks.objid = "
                "(hashtext(?)::bigint & 4294967295)::oid and locks.granted",
                [key],
            )
            who = (
                f"backend PID {holders[0][0]} (connected {holders[0][2]:%Y-%m-%d %H:%M:%S})"
                if holders
                else "another session"
            )
            raise WarehouseError(
                f"schema {self.schema} of the Postgres warehouse is locked by {who}: a "
                "tiktok-sync run (or a dbt build of the sync models) is using it; wait for it "
                "to finish, then retry"
            )
        self._locked = True

    def release_run_lock(self) -> None:
        if self._locked:
            self._locked = False
            self.fetch("select pg_advisory_unlock(hashtext(?))", [LOCK_PREFIX + self.schema])

    def error(self, exc: BaseException, doing: str) -> WarehouseError:
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return WarehouseError(f"Postgres failed while {doing}: {text}")

    def close(self) -> None:
        for connection in (self._reader, self._writer):
            if connection is not None and not connection.closed:
                connection.close()  # ends the session: any advisory lock goes with it
        self._reader = None
