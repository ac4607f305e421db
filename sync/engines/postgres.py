"""Postgres: a real server, reached through dbt-postgres (psycopg2).

Large reads (a run's frozen changes) stream through COPY ... TO STDOUT on a connection of their
own, as CSV that Arrow parses while the server sends, so millions of rows arrive `batch_rows` at
a time without ever becoming Python objects (through a server-side cursor's fetches they did: 4
of a 1M first sync's 19 s on 2 cores, holding the interpreter the sending threads need). COPY
binds no parameters, so those reads' values are quoted into the query by psycopg2. Writes go
through a second connection and commit one statement at a time. The plan's counts, small
reads that do not depend on each other, run two at a time on sessions of their own
(`fetch_soon`). Every connection is opened by dbt's adapter from the profile.

One run at a time: a session-level advisory lock keyed on the target's schema, taken on the
writing connection before anything is read and held until the run ends; Postgres releases it
when the session ends, so a killed run never leaves it behind. A second run exits 2 at once
naming the backend that holds it. `dbt build` of the sync models takes the same lock in shared
mode for a moment (macros/state/check_sync_lock.sql) and stops with a clear error while a run
holds it.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from typing import Any

import pyarrow as pa
import pyarrow.csv as pa_csv

from sync.engines.base import Engine, Params, qmark_to_format
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
# sync of 1M identifiers sorted ~90MB per audience on disk); 64MB per sort or hash, for the
# statement the sync runs at a time (two during the plan's counts: SIDE_SESSIONS). None of this
# changes a result.
SESSION_SETTINGS = (
    ("enable_nestloop", "off"),
    ("enable_mergejoin", "off"),
    ("jit", "off"),
    ("work_mem", "64MB"),
)


# Reads started together (`Engine.fetch_soon`) run side by side on up to this many sessions of
# their own. Postgres runs a statement on one core: a no-change run's plan counted the diff
# (~3.5 s at 1M acknowledged members), then the acknowledged members and the orphans (~1 s
# each), one after another.
SIDE_SESSIONS = 2

# Arrow types of the Postgres types a stream may hold, by type OID (pg_type.dat); any other
# column is read as the text COPY writes for it.
ARROW_TYPES: dict[int, pa.DataType] = {
    16: pa.bool_(),  # boolean
    20: pa.int64(),  # bigint
    21: pa.int64(),  # smallint
    23: pa.int64(),  # integer
}
# Bytes Arrow parses at a time: ~12,000 rows of a freeze (run id, audience, batch, hash).
COPY_BLOCK_BYTES = 1 << 20


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

        # ArrowInvalid: a COPY's output Arrow cannot parse.
        self.driver_errors = (psycopg2.Error, pa.ArrowInvalid)
        self._psycopg2 = psycopg2
        self._target = target
        self._writer: Any = self._open("tiktok-sync")
        self._reader: Any = None
        self._locked = False
        self._side: ThreadPoolExecutor | None = None  # runs the reads of fetch_soon
        self._side_sessions: list[Any] = []
        self._idle: queue.SimpleQueue[Any] = queue.SimpleQueue()  # side sessions not reading

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
        return self._fetch_on(self._writer, sql, params)

    def _fetch_on(self, session: Any, sql: str, params: Params) -> list[tuple[Any, ...]]:
        try:
            with session.cursor() as cursor:
                cursor.execute(qmark_to_format(sql), list(params))
                rows = [tuple(r) for r in cursor.fetchall()]
            # End the read's transaction: a session idle in one holds back vacuum.
            session.commit()
            return rows
        except self._psycopg2.Error:
            session.rollback()
            raise

    def fetch_soon(self, sql: str, params: Params = ()) -> Callable[[], list[tuple[Any, ...]]]:
        if self._side is None:
            self._side = ThreadPoolExecutor(SIDE_SESSIONS, thread_name_prefix="tiktok-sync-read")
        if len(self._side_sessions) < SIDE_SESSIONS:
            # Opened here, on the calling thread, as every session of dbt's adapter is.
            session = self._open("tiktok-sync-side-read")
            self._side_sessions.append(session)
            self._idle.put(session)
        return self._side.submit(self._fetch_on_side, sql, list(params)).result

    def _fetch_on_side(self, sql: str, params: Params) -> list[tuple[Any, ...]]:
        # No more reads run than there are sessions: the pool has as many threads.
        session = self._idle.get()
        try:
            return self._fetch_on(session, sql, params)
        finally:
            self._idle.put(session)

    def stream(self, sql: str, params: Params, batch_rows: int) -> Iterator[pa.RecordBatch]:
        if self._reader is None:
            self._reader = self._open("tiktok-sync-reader")
        reader = self._reader
        try:
            with reader.cursor() as cursor:
                # COPY takes no parameters: psycopg2 quotes the values into the query.
                query = cursor.mogrify(qmark_to_format(sql), list(params)).decode()
                cursor.execute(f"select * from ({query}) as result limit 0")
                types = {
                    d.name: ARROW_TYPES.get(d.type_code, pa.string()) for d in cursor.description
                }
            reader.commit()
        except self._psycopg2.Error:
            reader.rollback()
            raise
        copy = f"copy ({query}) to stdout with (format csv, header true)"
        finished = False
        try:
            yield from copy_csv(reader, copy, types, batch_rows)
            reader.commit()
            finished = True
        finally:
            if not finished:
                # Stopped early or failed (copy_csv cancelled its COPY): the session's state is
                # unknown; a new one serves the next stream.
                self._reader = None
                with suppress(self._psycopg2.Error):
                    reader.close()

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
        if self._side is not None:
            # Reads nobody took (a failure came first) end here: queued ones are dropped,
            # running ones cancelled and awaited.
            self._side.shutdown(wait=False, cancel_futures=True)
            for session in self._side_sessions:
                with suppress(self._psycopg2.Error):
                    session.cancel()
            self._side.shutdown(wait=True)
            self._side = None
        for session in self._side_sessions:
            if not session.closed:
                session.close()
        self._side_sessions = []
        for connection in (self._reader, self._writer):
            if connection is not None and not connection.closed:
                connection.close()  # ends the session: any advisory lock goes with it
        self._reader = None


def copy_csv(
    connection: Any, copy: str, types: Mapping[str, pa.DataType], batch_rows: int
) -> Iterator[pa.RecordBatch]:
    """What `copy` (COPY ... TO STDOUT with format csv, header) writes, as record batches of at
    most `batch_rows` rows, parsed by Arrow while the server still sends.

    psycopg2 runs a COPY to a file to its end, so it runs on a thread of its own into a pipe
    that Arrow reads: memory stays at the pipe's and one block's, however large the result.
    psycopg2 writes whole rows, so a COPY that fails leaves whole rows before its error, which
    is raised here after them. Stopped early (closed) or failed, the COPY is cancelled and its
    thread awaited; the caller then discards the session.
    """
    read_end, write_end = os.pipe()
    failure: list[BaseException] = []

    def produce() -> None:
        try:
            with open(write_end, "wb") as sink, connection.cursor() as cursor:
                cursor.copy_expert(copy, sink)
        except BaseException as exc:  # raised again on the reading thread
            failure.append(exc)

    producer = threading.Thread(target=produce, name="tiktok-sync-copy", daemon=True)
    producer.start()
    finished = False
    try:
        with open(read_end, "rb") as source:
            try:
                reader = pa_csv.open_csv(
                    source,
                    read_options=pa_csv.ReadOptions(use_threads=False, block_size=COPY_BLOCK_BYTES),
                    parse_options=pa_csv.ParseOptions(newlines_in_values=True),
                    # COPY writes NULL as nothing and an empty string as "", booleans as t/f.
                    convert_options=pa_csv.ConvertOptions(
                        column_types=dict(types),
                        null_values=[""],
                        strings_can_be_null=True,
                        quoted_strings_can_be_null=False,
                        true_values=["t"],
                        false_values=["f"],
                    ),
                )
                for block in reader:
                    for offset in range(0, block.num_rows, batch_rows):
                        yield block.slice(offset, batch_rows)
            except pa.ArrowInvalid:
                producer.join()
                if failure:  # the COPY failed: Arrow saw what it left behind
                    raise failure[0] from None
                raise
            producer.join()
            if failure:
                raise failure[0]
            finished = True
    finally:
        if not finished:
            # The read end is closed: a write of the COPY fails at once; a COPY waiting on the
            # server ends with the cancel.
            with suppress(Exception):
                connection.cancel()
            producer.join()
