"""The warehouse side of a sync: read what must change, record what TikTok acknowledged.

One DuckDB connection per run, opened on the file of the dbt profile. dbt owns every relation
read here; the sync job writes only the three state tables of the contract
(`models/sources/_tiktok_sync__sources.yml`), and only after TikTok said yes (DESIGN "Semantics" 2).

Why the connection stays open for the whole run: DuckDB lets one process hold a file read-write
and shuts every other process out (a `dbt build` as much as a second `tiktok-sync run`). So two
runs can never interleave, and the desired members cannot change under a run: what a run read
from `tiktok_audience_members` is still there when it records the acknowledgement.

Memory stays bounded however large the diff is: identifiers are read through
`to_arrow_reader(batch_size)` and handed on as one Polars Series per batch, never as a whole
table (DESIGN data flow, "Arrow batches"). Writes go through a second cursor while a reader is
open; DuckDB gives the reader a snapshot, so rows recorded mid-read neither vanish from nor repeat
in the batches still to come (checked in tests/test_sync_warehouse.py).

Each state write is its own transaction, committed before the method returns: a crash loses at
most the batch in flight, which stays in the diff and goes out again on the next run. Adds are
inserted only where missing, so re-sending an acknowledged batch never duplicates a row.

A batch is written to `tiktok_sync_unconfirmed_changes` before it is sent and leaves it when
TikTok acknowledges it (in the same transaction as the state write). What stays there had no
answer, so TikTok may or may not have applied it; the diff then counts it both ways (an
unconfirmed add is removed once the member leaves the audience, a member with an unconfirmed
remove is added again while it is wanted). Without it, an add TikTok applied but never
acknowledged would stay in TikTok after the member left the SQL, and a remove TikTok applied
silently would never be undone when the member came back. Timestamps are naive UTC.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Generator, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pyarrow as pa

from sync.errors import ConfigError, WarehouseError
from sync.settings import MEMORY_LIMIT_ENV, WarehouseSettings

# Relations the sync job reads or writes; `dbt build` creates every one of them.
REQUIRED_RELATIONS = (
    "tiktok_audience_targets",
    "tiktok_audience_diff",
    "tiktok_audience_members",
    "tiktok_rejected_identifiers",
    "tiktok_orphaned_audiences",
    "tiktok_sync_acknowledged_members",
    "tiktok_sync_unconfirmed_changes",
    "tiktok_sync_audience_registry",
    "tiktok_sync_run_history",
)

DEFAULT_BATCH_SIZE = 10_000


def utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class Target:
    """One row of `tiktok_audience_targets`: a configured audience and where it goes."""

    audience_key: str
    audience_name: str
    api: str  # streaming | customer_file
    mode: str  # mirror | add_only
    audience_id: str | None  # configured, else registered, else None (to be created)
    advertiser_id: str | None  # override, else registered, else None (the run's)
    configured_advertiser_id: str | None
    registered_advertiser_id: str | None
    retention_days: int | None
    is_audience_id_configured: bool


@dataclass(frozen=True)
class RegistryEntry:
    """One row of `tiktok_sync_audience_registry`; `audience_id` is None while a create is open."""

    audience_key: str
    audience_id: str | None
    advertiser_id: str | None
    api: str | None
    audience_name: str | None
    created_at: datetime | None
    created_by_run_id: str | None


@dataclass(frozen=True)
class Orphan:
    """An audience the warehouse still knows whose model is gone; reported, never emptied."""

    audience_key: str
    audience_id: str | None
    advertiser_id: str | None
    api: str | None
    member_count: int
    acknowledged_count: int


@dataclass(frozen=True)
class AudienceCounts:
    """Sizes of one audience, per id type."""

    desired: dict[str, int]  # tiktok_audience_members
    acknowledged: dict[str, int]  # state rows for the audience's current TikTok id
    pending_adds: dict[str, int]  # tiktok_audience_diff
    pending_removes: dict[str, int]
    rejected: int  # tiktok_rejected_identifiers
    # Added without an answer and not acknowledged: TikTok may hold them too.
    unconfirmed_adds: dict[str, int] = field(default_factory=dict)

    @staticmethod
    def empty() -> AudienceCounts:
        return AudienceCounts({}, {}, {}, {}, 0)


@dataclass(frozen=True)
class HistoryRow:
    """One row of `tiktok_sync_run_history`."""

    run_id: str
    audience_key: str
    audience_id: str | None
    advertiser_id: str | None
    api: str
    started_at: datetime
    finished_at: datetime
    status: str  # success | partial | failed | refused
    adds_sent: int
    removes_sent: int
    adds_pending: int
    removes_pending: int
    rejected_identifiers: int
    error_code: int | None
    error_message: str | None
    request_id: str | None


class Warehouse:
    """The dbt profile's DuckDB file, for one run. Use as a context manager."""

    def __init__(self, con: duckdb.DuckDBPyConnection, settings: WarehouseSettings) -> None:
        self._con = con
        self._settings = settings
        # Writes go through their own cursor so they can run while a reader streams a batch.
        self._writer = con.cursor()
        # Readers left open (a batch failed mid-way) hold their cursor until closed; close()
        # closes them, or the next connection to the file in this process would block.
        self._readers: set[duckdb.DuckDBPyConnection] = set()

    @classmethod
    def open(cls, settings: WarehouseSettings, *, read_only: bool = False) -> Warehouse:
        problem = missing_warehouse(settings)
        if problem is not None:
            raise WarehouseError("; ".join(problem))
        try:
            con = connect(settings, read_only=read_only)
        except duckdb.IOException as exc:
            raise WarehouseError("; ".join(open_failure(settings, exc))) from None
        warehouse = cls(con, settings)
        try:
            warehouse._check_relations()
        except BaseException:
            warehouse.close()
            raise
        return warehouse

    def close(self) -> None:
        for reader in list(self._readers):
            reader.close()
        self._readers.clear()
        self._writer.close()
        self._con.close()

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def path(self) -> Path:
        return self._settings.path

    def _table(self, name: str) -> str:
        return self._settings.table(name)

    def _check_relations(self) -> None:
        missing = missing_relations(self._con, self._settings)
        if missing:
            raise WarehouseError(
                f"{self.path} (schema {self._settings.schema}) lacks {', '.join(missing)}; "
                "run `dbt build` with this project and profile"
            )

    # --- reading ------------------------------------------------------------------------------

    def targets(self) -> list[Target]:
        rows = self._con.execute(
            "select audience_key, audience_name, api, mode, audience_id, advertiser_id, "
            "configured_advertiser_id, registered_advertiser_id, retention_days, "
            f"is_audience_id_configured from {self._table('tiktok_audience_targets')} "
            "order by audience_key"
        ).fetchall()
        return [
            Target(
                audience_key=str(r[0]),
                audience_name=str(r[1]),
                api=str(r[2]),
                mode=str(r[3]),
                audience_id=_opt_str(r[4]),
                advertiser_id=_opt_str(r[5]),
                configured_advertiser_id=_opt_str(r[6]),
                registered_advertiser_id=_opt_str(r[7]),
                retention_days=None if r[8] is None else int(r[8]),
                is_audience_id_configured=bool(r[9]),
            )
            for r in rows
        ]

    def registry(self) -> dict[str, RegistryEntry]:
        rows = self._con.execute(
            "select audience_key, audience_id, advertiser_id, api, audience_name, created_at, "
            f"created_by_run_id from {self._table('tiktok_sync_audience_registry')}"
        ).fetchall()
        return {
            str(r[0]): RegistryEntry(
                audience_key=str(r[0]),
                audience_id=_opt_str(r[1]),
                advertiser_id=_opt_str(r[2]),
                api=_opt_str(r[3]),
                audience_name=_opt_str(r[4]),
                created_at=r[5],
                created_by_run_id=_opt_str(r[6]),
            )
            for r in rows
        }

    def orphans(self) -> list[Orphan]:
        rows = self._con.execute(
            "select audience_key, audience_id, advertiser_id, api, member_count, "
            f"acknowledged_count from {self._table('tiktok_orphaned_audiences')} "
            "order by audience_key"
        ).fetchall()
        return [
            Orphan(str(r[0]), _opt_str(r[1]), _opt_str(r[2]), _opt_str(r[3]), int(r[4]), int(r[5]))
            for r in rows
        ]

    def counts(self, audience_keys: Sequence[str] | None = None) -> dict[str, AudienceCounts]:
        """Desired, acknowledged, pending and rejected counts of the given (default all) audiences.

        Acknowledged counts only rows of the audience's current TikTok id, as the diff does.
        """
        keys = list(audience_keys) if audience_keys is not None else None
        where = "" if keys is None else "where list_contains(?, audience_key)"
        params: list[Any] = [] if keys is None else [keys]
        desired = self._grouped(
            f"select audience_key, id_type, count(*) from "
            f"{self._table('tiktok_audience_members')} {where} group by all",
            params,
        )
        acknowledged = self._grouped(
            "select state.audience_key, state.id_type, count(*) "
            f"from {self._table('tiktok_sync_acknowledged_members')} as state "
            f"inner join {self._table('tiktok_audience_targets')} as targets "
            "on state.audience_key = targets.audience_key "
            "and state.audience_id = targets.audience_id "
            + ("" if keys is None else "where list_contains(?, state.audience_key) ")
            + "group by all",
            params,
        )
        unconfirmed_adds = self._grouped(
            "select maybe.audience_key, maybe.id_type, count(distinct maybe.id_hash) "
            f"from {self._table('tiktok_sync_unconfirmed_changes')} as maybe "
            f"inner join {self._table('tiktok_audience_targets')} as targets "
            "on maybe.audience_key = targets.audience_key "
            "and maybe.audience_id = targets.audience_id "
            f"anti join {self._table('tiktok_sync_acknowledged_members')} as state "
            "on state.audience_key = maybe.audience_key and state.audience_id = maybe.audience_id "
            "and state.id_type = maybe.id_type and state.id_hash = maybe.id_hash "
            "where maybe.action = 'add' "
            + ("" if keys is None else "and list_contains(?, maybe.audience_key) ")
            + "group by all",
            params,
        )
        # One audience at a time: the diff's join over every audience at once needs more than
        # the sync's memory limit allows (at 10M acknowledged members, 200MB fails for the
        # whole diff and suffices per audience).
        diff_rows = []
        for key in keys if keys is not None else [t.audience_key for t in self.targets()]:
            diff_rows += self._reading(
                f"select audience_key, action, id_type, count(*) from "
                f"{self._table('tiktok_audience_diff')} where audience_key = ? group by all",
                [key],
            ).fetchall()
        rejected_rows = self._con.execute(
            f"select audience_key, count(*) from {self._table('tiktok_rejected_identifiers')} "
            f"{where} group by all",
            params,
        ).fetchall()
        adds: dict[str, dict[str, int]] = {}
        removes: dict[str, dict[str, int]] = {}
        for key, action, id_type, n in diff_rows:
            (adds if action == "add" else removes).setdefault(str(key), {})[str(id_type)] = int(n)
        rejected = {str(key): int(n) for key, n in rejected_rows}
        everything = set(desired) | set(acknowledged) | set(adds) | set(removes) | set(rejected)
        return {
            key: AudienceCounts(
                desired=desired.get(key, {}),
                acknowledged=acknowledged.get(key, {}),
                pending_adds=adds.get(key, {}),
                pending_removes=removes.get(key, {}),
                rejected=rejected.get(key, 0),
                unconfirmed_adds=unconfirmed_adds.get(key, {}),
            )
            for key in everything
        }

    def pending(self, audience_key: str) -> tuple[int, int]:
        """(adds, removes) still in the diff for one audience: what the next run starts from.

        Reads only the diff, not the member and state counts `counts` adds up."""
        row = self._reading(
            "select count(*) filter (where action = 'add'), "
            "count(*) filter (where action = 'remove') "
            f"from {self._table('tiktok_audience_diff')} where audience_key = ?",
            [audience_key],
        ).fetchone()
        return (0, 0) if row is None else (int(row[0]), int(row[1]))

    def _reading(self, query: str, params: list[Any]) -> duckdb.DuckDBPyConnection:
        """Run a query over the diff, whose join is what needs the sync's memory limit."""
        try:
            return self._con.execute(query, params)
        except duckdb.OutOfMemoryException:
            raise self._out_of_memory() from None

    def _out_of_memory(self) -> WarehouseError:
        return WarehouseError(
            f"DuckDB needs more than the sync's memory limit ({self._settings.memory_limit}) to "
            f"read tiktok_audience_diff in {self.path}; nothing more was sent. Raise "
            f"--memory-limit or {MEMORY_LIMIT_ENV}"
        )

    def _grouped(self, query: str, params: list[Any]) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for key, id_type, n in self._con.execute(query, params).fetchall():
            out.setdefault(str(key), {})[str(id_type)] = int(n)
        return out

    def diff_batches(
        self, audience_key: str, action: str, id_type: str, batch_size: int = DEFAULT_BATCH_SIZE
    ) -> Generator[pl.Series, None, None]:
        """The audience's pending adds or removes of one id type, `batch_size` hashes at a time."""
        return self._batches(
            f"select id_hash from {self._table('tiktok_audience_diff')} "
            "where audience_key = ? and action = ? and id_type = ?",
            [audience_key, action, id_type],
            batch_size,
        )

    def member_batches(
        self,
        audience_key: str,
        id_type: str,
        batch_size: int = DEFAULT_BATCH_SIZE,
        *,
        keep_acknowledged_of: str | None = None,
    ) -> Generator[pl.Series, None, None]:
        """Every desired member of one id type (for creates and full refreshes), in batches.

        `keep_acknowledged_of`: also what is acknowledged in that TikTok audience, for an
        add_only audience whose full refresh must not drop members it never removes.
        """
        query = (
            f"select id_hash from {self._table('tiktok_audience_members')} "
            "where audience_key = ? and id_type = ?"
        )
        params: list[Any] = [audience_key, id_type]
        if keep_acknowledged_of is not None:
            query += (
                f" union select id_hash from {self._table('tiktok_sync_acknowledged_members')} "
                "where audience_key = ? and audience_id = ? and id_type = ?"
            )
            params += [audience_key, keep_acknowledged_of, id_type]
        return self._batches(query, params, batch_size)

    def _batches(
        self, query: str, params: list[Any], batch_size: int
    ) -> Generator[pl.Series, None, None]:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        # A reader holds its cursor until read out; a cursor of its own leaves the main
        # connection and the writer free meanwhile.
        cursor = self._con.cursor()
        self._readers.add(cursor)
        try:
            try:
                reader = cursor.sql(query, params=params).to_arrow_reader(batch_size)
            except duckdb.OutOfMemoryException:
                raise self._out_of_memory() from None
            # DuckDB's record batches only approximate batch_size; re-cut them exactly, since the
            # batch size is TikTok's per-request limit.
            held: list[pl.Series] = []
            held_rows = 0
            for record_batch in reader:
                frame = pl.from_arrow(record_batch)
                assert isinstance(frame, pl.DataFrame)  # a record batch is a frame, never a series
                series = frame.get_column("id_hash")
                held.append(series)
                held_rows += len(series)
                while held_rows >= batch_size:
                    joined = pl.concat(held, rechunk=True)
                    yield joined.slice(0, batch_size)
                    rest = joined.slice(batch_size)
                    held, held_rows = ([rest] if len(rest) else []), len(rest)
            if held_rows:
                yield pl.concat(held, rechunk=True)
        finally:
            self._readers.discard(cursor)
            cursor.close()

    # --- writing (each its own transaction, committed on return) -------------------------------

    @contextmanager
    def _transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        try:
            self._writer.execute("begin transaction")
            try:
                yield self._writer
            except BaseException:
                self._writer.execute("rollback")
                raise
            self._writer.execute("commit")
        except duckdb.Error as exc:
            # What TikTok acknowledged but could not be recorded stays in the diff and goes out
            # again next run (set semantics make that harmless).
            raise WarehouseError(f"cannot write the sync state to {self.path}: {exc}") from None

    @contextmanager
    def _registered(self, hashes: pl.Series) -> Iterator[str]:
        # The batch travels to DuckDB as an Arrow table under a fresh name: no SQL is ever
        # built from identifiers.
        name = f"sent_batch_{uuid.uuid4().hex}"
        self._writer.register(name, pa.table({"id_hash": hashes.cast(pl.String).to_arrow()}))
        try:
            yield name
        finally:
            self._writer.unregister(name)

    def record_sending(
        self,
        audience_key: str,
        audience_id: str,
        advertiser_id: str,
        id_type: str,
        hashes: pl.Series,
        action: str,
        run_id: str,
    ) -> None:
        """About to send this batch: until TikTok acknowledges it, its outcome is unknown."""
        unconfirmed = self._table("tiktok_sync_unconfirmed_changes")
        with self._registered(hashes) as batch, self._transaction() as tx:
            tx.execute(
                f"insert into {unconfirmed} (audience_key, audience_id, advertiser_id, id_type, "
                "id_hash, action, sent_at, run_id) "
                # A batch holds each hash once (it comes from the diff or the member table).
                f"select ?, ?, ?, ?, sent.id_hash, ?, ?, ? from {batch} as sent",
                [audience_key, audience_id, advertiser_id, id_type, action, utc_now(), run_id],
            )

    def record_sending_members(
        self, audience_key: str, advertiser_id: str, id_type: str, run_id: str
    ) -> None:
        """About to create a customer-file audience from every desired member (no id yet)."""
        unconfirmed = self._table("tiktok_sync_unconfirmed_changes")
        members = self._table("tiktok_audience_members")
        with self._transaction() as tx:
            tx.execute(
                f"insert into {unconfirmed} (audience_key, audience_id, advertiser_id, id_type, "
                "id_hash, action, sent_at, run_id) "
                f"select audience_key, null, ?, id_type, id_hash, 'add', ?, ? from {members} "
                "where audience_key = ? and id_type = ?",
                [advertiser_id, utc_now(), run_id, audience_key, id_type],
            )

    def record_sending_diff(
        self, audience_key: str, audience_id: str, advertiser_id: str, run_id: str
    ) -> None:
        """About to REPLACE the audience with its desired members: every pending change rides."""
        unconfirmed = self._table("tiktok_sync_unconfirmed_changes")
        diff = self._table("tiktok_audience_diff")
        with self._transaction() as tx:
            tx.execute(
                f"insert into {unconfirmed} (audience_key, audience_id, advertiser_id, id_type, "
                "id_hash, action, sent_at, run_id) "
                f"select audience_key, ?, ?, id_type, id_hash, action, ?, ? from {diff} "
                "where audience_key = ?",
                [audience_id, advertiser_id, utc_now(), run_id, audience_key],
            )

    def record_added(
        self,
        audience_key: str,
        audience_id: str,
        advertiser_id: str,
        id_type: str,
        hashes: pl.Series,
        run_id: str,
        *,
        from_diff: bool = False,
    ) -> None:
        """TikTok acknowledged these adds: insert the ones not yet in the state.

        `from_diff`: the batch was read from tiktok_audience_diff in this run, so none of it is
        in the state (the reader's snapshot predates this run's writes, no other process can
        write meanwhile, and the diff holds each row once) except members re-sent because a
        remove of them is unconfirmed, which are looked up among the few unconfirmed rows; the
        insert then skips the check against the whole state, which would make a large first
        sync quadratic.
        """
        state = self._table("tiktok_sync_acknowledged_members")
        unconfirmed = self._table("tiktok_sync_unconfirmed_changes")
        scope = [audience_key, audience_id, id_type]
        values = [audience_key, audience_id, advertiser_id, id_type, utc_now(), run_id]
        new_only = ""
        if not from_diff:
            new_only = (
                f" where not exists (select 1 from {state} as known "
                "where known.audience_key = ? and known.audience_id = ? "
                "and known.id_type = ? and known.id_hash = sent.id_hash)"
            )
            values += scope
        with self._registered(hashes) as batch, self._transaction() as tx:
            if from_diff:
                again = [
                    str(h)
                    for (h,) in tx.execute(
                        f"select distinct maybe.id_hash from {unconfirmed} as maybe "
                        f"semi join {batch} as sent on maybe.id_hash = sent.id_hash "
                        "where maybe.audience_key = ? and maybe.audience_id = ? "
                        "and maybe.id_type = ? and maybe.action = 'remove'",
                        scope,
                    ).fetchall()
                ]
                if again:
                    # Re-sent because a remove of them was unconfirmed: still in the state.
                    tx.execute(
                        f"delete from {state} where audience_key = ? and audience_id = ? "
                        "and id_type = ? and list_contains(?, id_hash)",
                        [*scope, again],
                    )
            tx.execute(
                f"insert into {state} (audience_key, audience_id, advertiser_id, id_type, "
                "id_hash, acknowledged_at, run_id) "
                f"select{'' if from_diff else ' distinct'} ?, ?, ?, ?, sent.id_hash, ?, ? "
                f"from {batch} as sent{new_only}",
                values,
            )
            self._confirmed(tx, batch, scope)

    def record_removed(
        self, audience_key: str, audience_id: str, id_type: str, hashes: pl.Series
    ) -> None:
        """TikTok acknowledged these removes: delete them from the state."""
        state = self._table("tiktok_sync_acknowledged_members")
        scope = [audience_key, audience_id, id_type]
        with self._registered(hashes) as batch, self._transaction() as tx:
            tx.execute(
                f"delete from {state} where audience_key = ? and audience_id = ? "
                f"and id_type = ? and id_hash in (select id_hash from {batch})",
                scope,
            )
            self._confirmed(tx, batch, scope)

    def _confirmed(self, tx: duckdb.DuckDBPyConnection, batch: str, scope: list[str]) -> None:
        """TikTok answered for these members: whatever was unconfirmed about them is settled."""
        tx.execute(
            f"delete from {self._table('tiktok_sync_unconfirmed_changes')} "
            "where audience_key = ? and audience_id = ? and id_type = ? "
            f"and id_hash in (select id_hash from {batch})",
            scope,
        )

    def record_replaced(
        self,
        audience_key: str,
        audience_id: str,
        advertiser_id: str,
        id_type: str,
        run_id: str,
        *,
        keep_acknowledged: bool = False,
    ) -> None:
        """TikTok now holds exactly the desired members of `id_type`: make the state say so.

        Used after a customer-file create or REPLACE whose files were read from
        `tiktok_audience_members` in this run (nothing else can write it meanwhile, see the
        module docstring). `keep_acknowledged` for add_only audiences, whose REPLACE also kept
        what was acknowledged.
        """
        state = self._table("tiktok_sync_acknowledged_members")
        members = self._table("tiktok_audience_members")
        with self._transaction() as tx:
            # TikTok now holds exactly what the files held: nothing about it is unconfirmed.
            tx.execute(
                f"delete from {self._table('tiktok_sync_unconfirmed_changes')} "
                "where audience_key = ? and (audience_id = ? or audience_id is null)",
                [audience_key, audience_id],
            )
            if not keep_acknowledged:
                tx.execute(
                    f"delete from {state} where audience_key = ? and audience_id = ?",
                    [audience_key, audience_id],
                )
            tx.execute(
                f"insert into {state} (audience_key, audience_id, advertiser_id, id_type, "
                "id_hash, acknowledged_at, run_id) "
                f"select audience_key, ?, ?, id_type, id_hash, ?, ? from {members} as desired "
                "where audience_key = ? and id_type = ? "
                f"and not exists (select 1 from {state} as known "
                "where known.audience_key = desired.audience_key and known.audience_id = ? "
                "and known.id_type = desired.id_type and known.id_hash = desired.id_hash)",
                [audience_id, advertiser_id, utc_now(), run_id, audience_key, id_type, audience_id],
            )

    def register_pending(
        self, audience_key: str, advertiser_id: str, api: str, audience_name: str, run_id: str
    ) -> RegistryEntry:
        """Write the registry row with no audience id, just before a create (DESIGN §4).

        A row left pending by a crashed run is kept as it is: its created_at is when the first
        create may have happened, the start of the window to look for it in.
        """
        registry = self._table("tiktok_sync_audience_registry")
        with self._transaction() as tx:
            tx.execute(
                f"insert into {registry} (audience_key, audience_id, advertiser_id, api, "
                "audience_name, created_at, created_by_run_id) "
                "select ?, null, ?, ?, ?, ?, ? "
                f"where not exists (select 1 from {registry} where audience_key = ?)",
                [audience_key, advertiser_id, api, audience_name, utc_now(), run_id, audience_key],
            )
        entry = self.registry().get(audience_key)
        if entry is None:  # pragma: no cover - the insert above guarantees a row
            raise WarehouseError(f"could not write the registry row of {audience_key}")
        return entry

    def drop_pending(self, audience_key: str, run_id: str) -> None:
        """Forget this run's pending row: its create surely did not happen."""
        registry = self._table("tiktok_sync_audience_registry")
        with self._transaction() as tx:
            tx.execute(
                f"delete from {registry} where audience_key = ? and audience_id is null "
                "and created_by_run_id = ?",
                [audience_key, run_id],
            )
            tx.execute(
                f"delete from {self._table('tiktok_sync_unconfirmed_changes')} "
                "where audience_key = ? and audience_id is null and run_id = ?",
                [audience_key, run_id],
            )

    def register_created(self, audience_key: str, audience_id: str) -> None:
        """Record TikTok's id for the audience, immediately after the create returned it.

        The members a customer-file create carried are unconfirmed until the create is
        recorded as done; from now on they belong to this id.
        """
        registry = self._table("tiktok_sync_audience_registry")
        with self._transaction() as tx:
            tx.execute(
                f"update {registry} set audience_id = ? where audience_key = ?",
                [audience_id, audience_key],
            )
            tx.execute(
                f"update {self._table('tiktok_sync_unconfirmed_changes')} set audience_id = ? "
                "where audience_key = ? and audience_id is null",
                [audience_id, audience_key],
            )

    def forget_audience(self, audience_key: str, audience_id: str) -> None:
        """The audience was deleted at TikTok: drop its registry row and its state, so the
        audience is created again and the state says what TikTok holds (nothing, under that
        id)."""
        with self._transaction() as tx:
            tx.execute(
                f"delete from {self._table('tiktok_sync_audience_registry')} "
                "where audience_key = ? and audience_id = ?",
                [audience_key, audience_id],
            )
            for table in ("tiktok_sync_acknowledged_members", "tiktok_sync_unconfirmed_changes"):
                tx.execute(
                    f"delete from {self._table(table)} where audience_key = ? and audience_id = ?",
                    [audience_key, audience_id],
                )

    def append_run_history(self, rows: Sequence[HistoryRow]) -> None:
        if not rows:
            return
        history = self._table("tiktok_sync_run_history")
        with self._transaction() as tx:
            tx.executemany(
                f"insert into {history} (run_id, audience_key, audience_id, advertiser_id, api, "
                "started_at, finished_at, status, adds_sent, removes_sent, adds_pending, "
                "removes_pending, rejected_identifiers, error_code, error_message, request_id) "
                "values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    [
                        r.run_id,
                        r.audience_key,
                        r.audience_id,
                        r.advertiser_id,
                        r.api,
                        r.started_at,
                        r.finished_at,
                        r.status,
                        r.adds_sent,
                        r.removes_sent,
                        r.adds_pending,
                        r.removes_pending,
                        r.rejected_identifiers,
                        r.error_code,
                        r.error_message,
                        r.request_id,
                    ]
                    for r in rows
                ],
            )


def connect(settings: WarehouseSettings, *, read_only: bool) -> duckdb.DuckDBPyConnection:
    """A connection to the target's file with the profile's DuckDB settings, as dbt-duckdb
    applies them: `config_options` when opening, `settings` with SET (names were checked when
    the profile was read; values go in as quoted literals). IOException (a lock) propagates.

    Then the sync job's own memory limit, over the profile's, and a temp directory to spill
    to under it (DuckDB's default, next to the file, unless the profile names one)."""
    options: dict[str, str | bool | int | float | list[str]] = dict(settings.config_options)
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


def missing_relations(
    con: duckdb.DuckDBPyConnection,
    settings: WarehouseSettings,
    required: Sequence[str] = REQUIRED_RELATIONS,
) -> list[str]:
    """Which of `required` the target's schema lacks (dbt build creates them all)."""
    rows = con.execute(
        "select table_name from information_schema.tables where table_schema = ?",
        [settings.schema],
    ).fetchall()
    present = {str(name) for (name,) in rows}
    return [name for name in required if name not in present]


def _opt_str(value: object) -> str | None:
    return None if value is None else str(value)
