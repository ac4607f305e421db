"""DuckDB: the embedded default. The target's file, opened by the sync job itself.

dbt-duckdb keeps its connection in a process-wide environment the sync job has no use for, so
the file is opened here with the profile's settings as dbt-duckdb applies them: `config_options`
when opening, `settings` with SET on the connection (threads, temp_directory, ...). Except the
memory limit: `--memory-limit` / TIKTOK_SYNC_MEMORY_LIMIT replaces the profile's, which is sized
for `dbt build`; the diff is a view whose join runs inside this process, and under the limit
DuckDB spills it to disk instead of growing.

One run at a time: DuckDB lets one process hold a file read-write and shuts every other process
out, a `dbt build` as much as a second `tiktok-sync run`, so the connection itself is the lock;
it stays open for the whole run.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from typing import TYPE_CHECKING, Any, TypeVar

import duckdb
import pyarrow as pa

from sync.engines.base import Engine, Params
from sync.errors import ConfigError, WarehouseError
from sync.settings import memory_bytes

if TYPE_CHECKING:
    from sync.settings import WarehouseSettings

T = TypeVar("T")

MEMORY_LIMIT_ENV = "TIKTOK_SYNC_MEMORY_LIMIT"
# DuckDB's memory limit while a freeze is read back: a window of batches needs a few MB, and
# lowering the limit makes DuckDB let go of what the freeze's copy left in its buffer pool, which
# it otherwise keeps up to the limit for the rest of the run (in a 10M first sync's process,
# ~180 MB). The sync's own limit is never below it (settings.MIN_SYNC_MEMORY_BYTES).
READING_MEMORY_LIMIT = "64MB"
# DuckDB's memory limit for the diff's counts and a freeze's copy into the ledger, first: DuckDB
# spills their joins and sorts to its temp directory past the limit, and its RSS runs ~80 MB over
# the limit, so in a 10M first sync the plan's counts and the largest freeze (5.5M changes to
# number) peaked ~95 MB lower than at the sync's default 200MB (and took longer, spilling). A
# statement that needs more (a diff against millions of acknowledged members: its joins do)
# runs out of memory under it within seconds, and runs again under the sync's own limit; the
# statements of that kind after it in the run then start there (they read the same state).
WORKING_MEMORY_LIMIT = "100MB"
# The sequence a freeze numbers its rows with (DuckDBEngine.row_counter).
ROW_COUNTER = "tiktok_sync_freeze_rows"


class DuckDBEngine(Engine):
    types = ("duckdb",)
    lock_kind = "the DuckDB file lock: one process holds the file read-write"
    # Ten mapping batches: the query runs in this process, and sorting all 5.5M changes of a
    # 10M first sync by batch number held them (spilled under the memory limit) for the whole
    # streaming phase; a window sorts ~10 MB, and a one-batch window (a customer file's members)
    # is not sorted at all. Reading those 5.5M changes so took 5 s (2 cores).
    frozen_window_rows = 100_000

    def __init__(self, con: duckdb.DuckDBPyConnection, settings: WarehouseSettings) -> None:
        super().__init__("DuckDB", settings.schema)
        self.driver_errors = (duckdb.Error,)
        self._con = con
        self._settings = settings
        # Writes go through their own cursor so they can run while a reader streams.
        self._writer = con.cursor()
        # Readers left open (a batch failed mid-way) hold their cursor until closed; close()
        # closes them, or the next connection to the file in this process would block.
        self._readers: set[duckdb.DuckDBPyConnection] = set()
        self._closed = False
        # The memory limit in force: the sync's, lowered meanwhile by _memory_limit.
        self._limit = settings.memory_limit
        # Kinds of statement ("read", "freeze") that ran out of WORKING_MEMORY_LIMIT this run.
        self._outgrown: set[str] = set()

    @classmethod
    def open(cls, settings: WarehouseSettings, *, read_only: bool) -> DuckDBEngine:
        problem = missing_warehouse(settings)
        if problem is not None:
            raise WarehouseError("; ".join(problem))
        try:
            con = connect(settings, read_only=read_only)
        except duckdb.IOException as exc:
            raise WarehouseError("; ".join(open_failure(settings, exc))) from None
        return cls(con, settings)

    def relation(self, identifier: str) -> str:
        # "schema"."name", each part a quoted identifier (a quote doubled), so nothing in a
        # profile's schema can end the identifier and run as SQL.
        return ".".join('"' + p.replace('"', '""') + '"' for p in (self.schema, identifier))

    def execute(self, sql: str, params: Params = ()) -> None:
        try:
            self._writer.execute(sql, list(params))
        except duckdb.OutOfMemoryException:
            raise self.out_of_memory() from None

    def execute_freeze(self, sql: str, params: Params = ()) -> None:
        def attempt() -> None:
            # A counter for row_counter() that starts at 0 for this attempt (an attempt that
            # ran out of memory advanced the one before; temp: this connection's own).
            self._writer.execute(
                f"create or replace temp sequence {ROW_COUNTER} start with 0 minvalue 0"
            )
            self._writer.execute(sql, list(params))

        self._lower_limit_first("freeze", attempt)

    def row_counter(self) -> str:
        # A window numbering the 5.4M changes of a 10M first sync copied each of them (and its
        # 64-character hash) once more before the insert: 5.3 of the freeze's 7.2 s; numbered
        # by a sequence, 2.4 s.
        return f"nextval('{ROW_COUNTER}')"

    def fetch(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]:
        return self._lower_limit_first(
            "read", lambda: self._con.execute(sql, list(params)).fetchall()
        )

    def _lower_limit_first(self, kind: str, run: Callable[[], T]) -> T:
        """`run` under WORKING_MEMORY_LIMIT; if it runs out of memory there, under the limit
        in force. Only for what can run twice: a read, or one statement (a failed one is
        rolled back, nothing of it written). Once a statement of its `kind` ran out of the
        lower limit, the later ones of the run skip it: in a run over millions of acknowledged
        members each count of the diff spent seconds (5.5 s for 5.5M at 10M) failing there."""
        if kind not in self._outgrown and memory_bytes(WORKING_MEMORY_LIMIT) < memory_bytes(
            self._limit
        ):
            try:
                with self._memory_limit(WORKING_MEMORY_LIMIT):
                    return run()
            except duckdb.OutOfMemoryException:
                self._outgrown.add(kind)
        try:
            return run()
        except duckdb.OutOfMemoryException:
            raise self.out_of_memory() from None

    def stream(self, sql: str, params: Params, batch_rows: int) -> Iterator[pa.RecordBatch]:
        # A reader holds its cursor until read out; a cursor of its own leaves the main
        # connection and the writer free meanwhile. DuckDB gives the reader a snapshot, so rows
        # appended meanwhile neither appear in nor disturb the batches still to come.
        cursor = self._con.cursor()
        self._readers.add(cursor)
        try:
            try:
                reader = cursor.sql(sql, params=list(params)).to_arrow_reader(batch_rows)
            except duckdb.OutOfMemoryException:
                raise self.out_of_memory() from None
            yield from reader
        finally:
            self._readers.discard(cursor)
            cursor.close()

    def reading_frozen(self) -> AbstractContextManager[None]:
        return self._memory_limit(READING_MEMORY_LIMIT)

    @contextmanager
    def _memory_limit(self, limit: str) -> Iterator[None]:
        """DuckDB under `limit` meanwhile (if lower than the limit in force), then the limit in
        force again. Lowering it makes DuckDB let go of what its buffer pool holds beyond it;
        it is an economy: if DuckDB cannot free enough, the statements run as they are."""
        before = self._limit
        if memory_bytes(limit) >= memory_bytes(before):
            yield
            return
        with suppress(duckdb.Error):
            self._con.execute(f"SET memory_limit = '{limit}'")
            self._limit = limit
        try:
            yield
        finally:
            self._con.execute(f"SET memory_limit = '{before}'")
            self._limit = before

    def out_of_memory(self) -> WarehouseError:
        return WarehouseError(
            f"DuckDB needs more than the sync's memory limit ({self._settings.memory_limit}) to "
            f"read tiktok_audience_diff in {self._settings.path}; nothing more was sent. Raise "
            f"--memory-limit or {MEMORY_LIMIT_ENV}"
        )

    def error(self, exc: BaseException, doing: str) -> WarehouseError:
        if isinstance(exc, duckdb.OutOfMemoryException):
            return self.out_of_memory()
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return WarehouseError(f"DuckDB ({self._settings.path}) failed while {doing}: {text}")

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for reader in list(self._readers):
            reader.close()
        self._readers.clear()
        self._writer.close()
        self._con.close()


def connect(settings: WarehouseSettings, *, read_only: bool) -> duckdb.DuckDBPyConnection:
    """A connection to the target's file with the profile's DuckDB settings, then the sync job's
    own memory limit over the profile's, and a temp directory to spill to under it (DuckDB's
    default, next to the file, unless the profile names one). IOException (a lock) propagates."""
    options: dict[str, str | bool | int | float | list[str]] = dict(settings.config_options)
    assert settings.path is not None
    try:
        con = duckdb.connect(str(settings.path), read_only=read_only, config=options)
    except duckdb.IOException:
        raise
    except duckdb.Error as exc:
        raise _settings_error(settings, "config_options", exc) from None
    try:
        con.execute("SET enable_progress_bar = false")
        for name, value in settings.settings:
            con.execute(f"SET {name} = '{value.replace(chr(39), chr(39) * 2)}'")
    except duckdb.Error as exc:
        con.close()
        raise _settings_error(settings, "settings", exc) from None
    try:
        # Checked by settings.sync_memory_limit: digits and a unit, nothing to quote.
        con.execute(f"SET memory_limit = '{settings.memory_limit}'")
        spill = con.execute("select current_setting('temp_directory')").fetchone()
        if spill is None or not spill[0]:
            # An empty temp_directory turns spilling off: the diff's join would then fail
            # with an out-of-memory error instead of spilling.
            con.execute("SET temp_directory = ?", [f"{settings.path}.tmp"])
    except duckdb.Error as exc:
        con.close()
        raise ConfigError(
            f"cannot apply the sync's DuckDB memory limit {settings.memory_limit}: "
            f"{str(exc).splitlines()[0]}; set --memory-limit or {MEMORY_LIMIT_ENV}"
        ) from None
    return con


def _settings_error(settings: WarehouseSettings, key: str, exc: duckdb.Error) -> ConfigError:
    # Values can be credentials (an S3 secret, a MotherDuck token): never echo them.
    text = str(exc).splitlines()[0]
    for _, value in (*settings.config_options, *settings.settings):
        if value:
            text = text.replace(value, "[value]")
    return ConfigError(
        f"the DuckDB {key} of target '{settings.target}' (profile '{settings.profile}') cannot "
        f"be applied: {text}; fix them in profiles.yml"
    )


def missing_warehouse(settings: WarehouseSettings) -> tuple[str, str] | None:
    """(what, fix) if the target's DuckDB file does not exist. Checked before connecting: a
    read-write connect would create an empty database file instead."""
    assert settings.path is not None
    if settings.path.exists():
        return None
    return (
        f"no warehouse at {settings.path} (profile '{settings.profile}', target "
        f"'{settings.target}')",
        "run dbt build, or point --profiles-dir/--target at the warehouse dbt builds",
    )


def open_failure(settings: WarehouseSettings, exc: duckdb.Error) -> tuple[str, str]:
    """(what, fix) for a warehouse file DuckDB would not open."""
    text = str(exc)
    if "lock" in text.lower():
        # DuckDB lets one process hold a file read-write and no one else in: a dbt build or
        # a sync run is using it. Nothing was sent; waiting is the fix.
        pid = re.search(r"PID (\d+)", text)
        holder = f"another process (PID {pid.group(1)})" if pid else "another process"
        return (
            f"the warehouse {settings.path} is locked by {holder}: a dbt build, a tiktok-sync "
            "run or a DuckDB session is writing to it",
            "wait for it to finish, then retry",
        )
    return (
        f"the warehouse {settings.path} cannot be opened: {text.splitlines()[0]}",
        "check that it is the DuckDB file dbt builds; run dbt build to recreate it",
    )
