"""The warehouse side of a sync: read what must change, append what TikTok acknowledged.

The sync job only ever appends, to a ledger dbt reads back (docs/decisions/0001): for each
audience a run first copies what it will send, with one INSERT ... SELECT from the diff, into
`tiktok_sync_changes`, numbering the batches; then it appends a 'sent' event for each batch to
`tiktok_sync_batches` before the request goes out and an 'acknowledged' event once TikTok answered
code 0. The views dbt builds over the ledger (`tiktok_sync_acknowledged_members`,
`tiktok_sync_unconfirmed_changes`, `tiktok_sync_audience_registry`) derive the state from those
events, and `tiktok_audience_diff` is computed against them at read time. So:

* a batch counts as acknowledged only once its 'acknowledged' event is written, after TikTok said
  yes (README "Guarantees"); a crash loses at most that event, and the batch goes out again;
* a batch sent without an answer (a timeout, a dropped connection, a crash) stays 'sent': its
  changes are unconfirmed and the diff counts them both ways;
* what a run sends is fixed when it copies its changes: members that dbt rebuilds meanwhile on a
  server warehouse cannot change a batch under the run, and the events describe exactly what
  went out (a new audience's members are copied a part at a time while the first parts go out,
  only in a DuckDB file, which the run holds);
* every write is one appending statement, so every engine gives the same guarantees, with or
  without transactions, UPDATE or DELETE (BigQuery, plain Spark tables).

Batches are ordered by `batch_seq`, handed out here under the run's lock, one run at a time.
Everything engine-specific is behind `sync.engines.Engine`; the SQL here is portable (no
engine's extensions, `?` placeholders, values always bound). Memory stays bounded however large
the diff is: identifiers are read as Arrow record batches and handed on as one Polars Series per
batch. Timestamps are naive UTC.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import polars as pl
import pyarrow as pa

from sync.engines import open_engine
from sync.engines.base import Engine
from sync.errors import WarehouseError
from sync.settings import WarehouseSettings
from sync.tiktok.models import SEGMENT_ID_SCHEMA

# Relations the sync job reads or writes; `dbt build` creates every one of them.
REQUIRED_RELATIONS = (
    "tiktok_audience_targets",
    "tiktok_audience_diff",
    "tiktok_audience_members",
    "tiktok_audience_desired_members",
    "tiktok_suppressed_identifiers",
    "tiktok_suppression_entries",
    "tiktok_rejected_identifiers",
    "tiktok_orphaned_audiences",
    "tiktok_sync_acknowledged_members",
    "tiktok_sync_unconfirmed_changes",
    "tiktok_sync_audience_registry",
    "tiktok_sync_changes",
    "tiktok_sync_batches",
    "tiktok_sync_registry_events",
    "tiktok_sync_create_requests",
    "tiktok_sync_run_history",
)

DEFAULT_BATCH_SIZE = 10_000
# batch_no = freeze * FREEZE_STRIDE + group * GROUP_STRIDE + batch within the group: groups are
# (action, id type), adds first; a run freezes an audience more than once only when it creates
# it again (--recreate-missing).
GROUP_STRIDE = 1_000_000_000
FREEZE_STRIDE = 1_000 * GROUP_STRIDE


def _change_group() -> str:
    """SQL numbering a change's group (action, id type): adds first, then removes, each by id
    type in order.

    A CASE over the project's id types, not a dense_rank() over the changes: that window sorted
    the whole freeze once more (2.5 of a 7 s freeze of 5.4M changes on DuckDB). An id type the
    package's normalisers never produce falls in its action's last group, which the TikTok
    client refuses before sending. A bigint before it is multiplied: Spark's integers are 32-bit
    and dbt-spark turns ANSI overflow errors off, so 3 * GROUP_STRIDE would wrap to a negative
    batch_no that the read of the freeze never finds.
    """
    number = " ".join(f"when '{id_type}' then {_add_group(id_type)}" for id_type in _ID_TYPES)
    per_action = len(_ID_TYPES) + 1
    return (
        f"cast(case when action = 'add' then 0 else {per_action} end "
        f"+ case id_type {number} else {len(_ID_TYPES)} end as bigint)"
    )


_ID_TYPES = sorted(SEGMENT_ID_SCHEMA)


def _add_group(id_type: str) -> int:
    """CHANGE_GROUP of an add of `id_type`, in Python."""
    return _ID_TYPES.index(id_type) if id_type in _ID_TYPES else len(_ID_TYPES)


CHANGE_GROUP = _change_group()


# A new audience's members are copied into the ledger a part of about this many rows at a time
# in a DuckDB file (`freeze_changes`): the run sends the first part while it copies the next. 10M
# first sync on DuckDB: the first audience's 5.4M members took 3-4.6 s to copy before its
# first request; 3.7M emails at once 2.9 s, a quarter of them 0.85 s.
PART_ROWS = 1_000_000
# Parts split an id type by the first hex digit of its hashes: 2, 4, 8 or 16 of them.
HEX_DIGITS = "0123456789abcdef"

# Rows per Arrow record batch read from the engine, a mapping batch's worth: a customer file's
# chunk (~200,000 to ~770,000 hashes) is put together from several, since each record batch is
# copied a few times over while it is split into chunks (the 10M bench's customer file, read
# and written as files of ~220,000 hashes in-process on DuckDB: peak 432 MB -> 390 MB).
RECORD_BATCH_ROWS = 10_000
# Batch events appended by one INSERT at most: 12 bound values each, far below every driver's
# limit on parameters (BigQuery's is the lowest, 10,000).
EVENTS_PER_STATEMENT = 100


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
    # What the audience was created with (tiktok_sync_create_requests), if that was recorded:
    # audiences created by earlier versions were not.
    retention_recorded: bool = False
    retention_days: int | None = None


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

    desired: dict[str, int]  # tiktok_audience_desired_members: the members less the suppressed
    acknowledged: dict[str, int]  # state rows for the audience's current TikTok id
    pending_adds: dict[str, int]  # tiktok_audience_diff
    pending_removes: dict[str, int]
    rejected: int  # tiktok_rejected_identifiers
    # Added without an answer and not acknowledged: TikTok may hold them too.
    unconfirmed_adds: dict[str, int] = field(default_factory=dict)
    suppressed: int = 0  # members that are suppressed (tiktok_suppressed_identifiers)

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


@dataclass(frozen=True)
class Freeze:
    """The changes a run copied into the ledger for one audience: batch numbers [first, end)."""

    run_id: str
    audience_key: str
    first_batch_no: int
    end_batch_no: int


@dataclass(frozen=True)
class _Part:
    """The members of one id type whose hash is in [low, high) (None: unbounded)."""

    id_type: str
    low: str | None
    high: str | None


@dataclass
class _Parts:
    """A freeze whose members are copied a part at a time: the batch ranges [first, end) of the
    parts copied, in batch order, and the parts still to copy."""

    batch_size: int
    pending: list[_Part]
    copied: list[tuple[int, int]] = field(default_factory=list)
    numbered: dict[str, int] = field(default_factory=dict)  # batches so far, per id type
    reading: int = 0  # the copied part `frozen` reads


@dataclass(frozen=True)
class FrozenChunk:
    """Up to `chunk_rows` identifiers of one frozen batch, all of one action and id type."""

    batch_no: int
    action: str  # add | remove
    id_type: str
    hashes: pl.Series


@dataclass(frozen=True)
class Batch:
    """One batch as the ledger's events name it: what, where, and its place in the order."""

    run_id: str
    audience_key: str
    batch_no: int
    batch_seq: int
    kind: str  # mapping | append | remove | create | replace | forget
    audience_id: str | None
    advertiser_id: str | None
    api: str
    identifier_count: int


class Warehouse:
    """The dbt target's warehouse, for one command. Use as a context manager.

    `lock_holder` (a run id) takes the engine's one-run-at-a-time lock for the whole life of
    the object; commands that only read (`plan`, `check`, `audiences`) do not.
    """

    def __init__(self, engine: Engine, settings: WarehouseSettings) -> None:
        self._engine = engine
        self._settings = settings
        self._run_id: str | None = None
        self._next_seq = 0
        self._freezes: dict[str, int] = {}
        self._parts: dict[Freeze, _Parts] = {}  # freezes copied a part at a time

    @classmethod
    def open(
        cls,
        settings: WarehouseSettings,
        *,
        read_only: bool = False,
        lock_holder: str | None = None,
    ) -> Warehouse:
        engine = open_engine(settings, read_only=read_only)
        warehouse = cls(engine, settings)
        try:
            if lock_holder is not None:
                engine.acquire_run_lock(lock_holder)
            warehouse._check_relations()
        except BaseException:
            warehouse.close()
            raise
        return warehouse

    def close(self) -> None:
        # The lock also ends with the session: a failure to release it changes nothing.
        with suppress(Exception):
            self._engine.release_run_lock()
        self._engine.close()

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def engine(self) -> Engine:
        return self._engine

    @property
    def settings(self) -> WarehouseSettings:
        return self._settings

    def table(self, name: str) -> str:
        return self._engine.relation(name)

    @contextmanager
    def _doing(self, what: str) -> Iterator[None]:
        """Driver errors become one WarehouseError line naming the engine and the step."""
        try:
            yield
        except WarehouseError:
            raise
        except self._engine.driver_errors as exc:
            raise self._engine.error(exc, what) from None

    def _fetch(self, what: str, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._doing(what):
            return self._engine.fetch(sql, params)

    def _fetch_soon(
        self, what: str, sql: str, params: Sequence[Any] = ()
    ) -> Callable[[], list[tuple[Any, ...]]]:
        """A read started now whose rows the returned function gives (Engine.fetch_soon)."""
        with self._doing(what):
            pending = self._engine.fetch_soon(sql, params)

        def rows() -> list[tuple[Any, ...]]:
            with self._doing(what):
                return pending()

        return rows

    def _execute(self, what: str, sql: str, params: Sequence[Any] = ()) -> None:
        with self._doing(what):
            self._engine.execute(sql, params)

    def _execute_freeze(self, what: str, sql: str, params: Sequence[Any]) -> None:
        with self._doing(what):
            self._engine.execute_freeze(sql, params)

    def missing_relations(self, required: Sequence[str] = REQUIRED_RELATIONS) -> list[str]:
        with self._doing("listing the tables of the target's schema"):
            present = self._engine.present_relations()
        return [name for name in required if name not in present]

    def _check_relations(self) -> None:
        missing = self.missing_relations()
        if missing:
            # A server warehouse's `where` names its schema already.
            schema = f" (schema {self._settings.schema})" if self._settings.path else ""
            raise WarehouseError(
                f"{self._settings.where}{schema} lacks "
                f"{', '.join(missing)}; run `dbt build` with this project and profile"
            )

    # --- reading --------------------------------------------------------------------------------

    def targets(self) -> list[Target]:
        rows = self._fetch(
            "reading tiktok_audience_targets",
            "select audience_key, audience_name, api, mode, audience_id, advertiser_id, "
            "configured_advertiser_id, registered_advertiser_id, retention_days, "
            f"is_audience_id_configured from {self.table('tiktok_audience_targets')} "
            "order by audience_key",
        )
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
        rows = self._fetch(
            "reading tiktok_sync_audience_registry",
            "select audience_key, audience_id, advertiser_id, api, audience_name, created_at, "
            f"created_by_run_id from {self.table('tiktok_sync_audience_registry')}",
        )
        return {
            str(r[0]): RegistryEntry(
                audience_key=str(r[0]),
                audience_id=_opt_str(r[1]),
                advertiser_id=_opt_str(r[2]),
                api=_opt_str(r[3]),
                audience_name=_opt_str(r[4]),
                created_at=_naive(r[5]),
                created_by_run_id=_opt_str(r[6]),
            )
            for r in rows
        }

    def created_retention(self) -> dict[str, int | None]:
        """The retention_days of each audience key's latest create call: what the audience the
        registry names was created with. Keys with no recorded create are absent."""
        rows = self._fetch(
            "reading tiktok_sync_create_requests",
            "select audience_key, retention_days "
            f"from {self.table('tiktok_sync_create_requests')} order by sent_at",
        )
        return {str(r[0]): None if r[1] is None else int(r[1]) for r in rows}

    def orphans(self) -> list[Orphan]:
        return self.orphans_soon()()

    def orphans_soon(self) -> Callable[[], list[Orphan]]:
        """`orphans()`, read beside what is read next (Engine.fetch_soon): the view counts
        every member."""
        rows = self._fetch_soon(
            "reading tiktok_orphaned_audiences",
            "select audience_key, audience_id, advertiser_id, api, member_count, "
            f"acknowledged_count from {self.table('tiktok_orphaned_audiences')} "
            "order by audience_key",
        )
        return lambda: [
            Orphan(str(r[0]), _opt_str(r[1]), _opt_str(r[2]), _opt_str(r[3]), int(r[4]), int(r[5]))
            for r in rows()
        ]

    def suppression_values_suppressing_nothing(self) -> int:
        """Values of the suppression list that normalise to no identifier (0 without a list)."""
        rows = self._fetch(
            "reading tiktok_suppression_entries",
            f"select count(*) from {self.table('tiktok_suppression_entries')} "
            "where reason_code is not null",
        )
        return int(rows[0][0])

    def counts(
        self,
        audience_keys: Sequence[str] | None = None,
        known_targets: Sequence[Target] | None = None,
    ) -> dict[str, AudienceCounts]:
        """Desired, acknowledged, pending, rejected and suppressed counts of the given (default
        all) audiences. `known_targets`: `targets()` as the caller already read it, not read
        again.

        Acknowledged counts only rows of the audience's current TikTok id, as the diff does.
        The counts do not depend on each other: every read starts before the first is taken,
        the costliest (the diff's) first, so that engines that run them side by side do
        (Engine.fetch_soon).
        """
        keys = list(audience_keys) if audience_keys is not None else None
        if keys is not None and not keys:
            return {}
        members = self.table("tiktok_audience_members")
        desired = self.table("tiktok_audience_desired_members")
        acknowledged = self.table("tiktok_sync_acknowledged_members")
        unconfirmed = self.table("tiktok_sync_unconfirmed_changes")
        targets = self.table("tiktok_audience_targets")
        rejected = self.table("tiktok_rejected_identifiers")

        def among(column: str) -> tuple[str, list[Any]]:
            if keys is None:
                return "", []
            return f" and {column} in ({', '.join('?' for _ in keys)})", list(keys)

        # An audience without a TikTok id has nothing in the ledger: the diff joins the ledger
        # on the id, so what it holds for the audience is its desired members, every one an
        # add. Counted as such: on a first sync the diff's join is not run at all.
        targets_now = [
            t
            for t in (self.targets() if known_targets is None else known_targets)
            if keys is None or t.audience_key in keys
        ]
        in_diff = [t.audience_key for t in targets_now if t.audience_id is not None]
        diff = self.table("tiktok_audience_diff")
        count_diff = (
            f"select audience_key, action, id_type, count(*) from {diff} "
            "where 1 = 1{where} group by audience_key, action, id_type"
        )
        if not in_diff:
            queries = []
        elif self._engine.reads_diff_per_audience:
            # One audience at a time: the diff's join over every audience at once needs more
            # than the sync's memory limit allows on DuckDB (at 10M acknowledged members, 200MB
            # fails for the whole diff and suffices per audience).
            queries = [(" and audience_key = ?", [key]) for key in in_diff]
        else:
            marks = ", ".join("?" for _ in in_diff)
            queries = [(f" and audience_key in ({marks})", list(in_diff))]
        diff_reads = [
            self._fetch_soon("counting tiktok_audience_diff", count_diff.format(where=w), p)
            for w, p in queries
        ]
        where, params = among("state.audience_key")
        acknowledged_read = self._fetch_soon(
            "counting acknowledged members",
            "select state.audience_key, state.id_type, count(*) "
            f"from {acknowledged} as state inner join {targets} as targets "
            "on state.audience_key = targets.audience_key "
            f"and state.audience_id = targets.audience_id where 1 = 1{where} "
            "group by state.audience_key, state.id_type",
            params,
        )
        where, params = among("audience_key")
        desired_read = self._fetch_soon(
            "counting members",
            f"select audience_key, id_type, count(*) from {desired} where 1 = 1{where} "
            "group by audience_key, id_type",
            params,
        )
        # Suppressed: the members the desired view leaves out.
        members_read = self._per_audience_soon("counting members", members, where, params)
        rejected_read = self._per_audience_soon(
            "counting rejected identifiers", rejected, where, params
        )
        where, params = among("maybe.audience_key")
        unconfirmed_read = self._fetch_soon(
            "counting unconfirmed changes",
            "select maybe.audience_key, maybe.id_type, count(distinct maybe.id_hash) "
            f"from {unconfirmed} as maybe inner join {targets} as targets "
            "on maybe.audience_key = targets.audience_key "
            "and maybe.audience_id = targets.audience_id "
            "where maybe.action = 'add' "
            f"and not exists (select 1 from {acknowledged} as state "
            "where state.audience_key = maybe.audience_key "
            "and state.audience_id = maybe.audience_id and state.id_type = maybe.id_type "
            f"and state.id_hash = maybe.id_hash){where} "
            "group by maybe.audience_key, maybe.id_type",
            params,
        )

        desired_counts = _grouped(desired_read())
        adds: dict[str, dict[str, int]] = {
            t.audience_key: dict(desired_counts[t.audience_key])
            for t in targets_now
            if t.audience_id is None and t.audience_key in desired_counts
        }
        removes: dict[str, dict[str, int]] = {}
        for read in diff_reads:
            for key, action, id_type, n in read():
                counted = adds if action == "add" else removes
                counted.setdefault(str(key), {})[str(id_type)] = int(n)
        acknowledged_counts = _grouped(acknowledged_read())
        unconfirmed_adds = _grouped(unconfirmed_read())
        member_totals = members_read()
        rejected_counts = rejected_read()
        everything = (
            set(desired_counts)
            | set(acknowledged_counts)
            | set(adds)
            | set(removes)
            | set(rejected_counts)
        )
        return {
            key: AudienceCounts(
                desired=desired_counts.get(key, {}),
                acknowledged=acknowledged_counts.get(key, {}),
                pending_adds=adds.get(key, {}),
                pending_removes=removes.get(key, {}),
                rejected=rejected_counts.get(key, 0),
                unconfirmed_adds=unconfirmed_adds.get(key, {}),
                suppressed=member_totals.get(key, 0) - sum(desired_counts.get(key, {}).values()),
            )
            for key in everything
        }

    def pending(self, audience_key: str) -> tuple[int, int]:
        """(adds, removes) still in the diff for one audience: what the next run starts from."""
        rows = self._fetch(
            "counting tiktok_audience_diff",
            "select sum(case when action = 'add' then 1 else 0 end), "
            "sum(case when action = 'remove' then 1 else 0 end) "
            f"from {self.table('tiktok_audience_diff')} where audience_key = ?",
            [audience_key],
        )
        if not rows:
            return 0, 0
        adds, removes = rows[0]
        return int(adds or 0), int(removes or 0)

    def _per_audience_soon(
        self, what: str, relation: str, where: str, params: list[Any]
    ) -> Callable[[], dict[str, int]]:
        """Rows of `relation` per audience_key (`where`: more conditions, each after `and`)."""
        sql = f"select audience_key, count(*) from {relation} where 1 = 1{where} "
        sql += "group by audience_key"
        rows = self._fetch_soon(what, sql, params)
        return lambda: {str(key): int(n) for key, n in rows()}

    def audience_overview(self) -> list[tuple[Any, ...]]:
        """Per configured audience: summary counts, settings and its latest run (`audiences`)."""
        summary = self.table("tiktok_audience_summary")
        targets = self.table("tiktok_audience_targets")
        runs = self.table("tiktok_sync_run_history")
        return self._fetch(
            "reading tiktok_audience_summary",
            f"""
            with latest_runs as (
                select
                    audience_key, run_id, status, finished_at,
                    row_number() over (
                        partition by audience_key
                        order by started_at desc, finished_at desc
                    ) as recency
                from {runs}
            )
            select
                summary.audience_key, summary.audience_name, summary.api, summary.mode,
                summary.audience_id, summary.advertiser_id, targets.is_audience_id_configured,
                summary.member_count, summary.rejected_values,
                summary.pending_adds, summary.pending_removes,
                latest_runs.run_id, latest_runs.status, latest_runs.finished_at
            from {summary} as summary
            inner join {targets} as targets
                on summary.audience_key = targets.audience_key
            left join latest_runs
                on summary.audience_key = latest_runs.audience_key
                and latest_runs.recency = 1
            order by summary.audience_key
            """,
        )

    # --- the run's changes ----------------------------------------------------------------------

    def begin_run(self, run_id: str) -> None:
        """Start handing out batch_seq after everything in the ledger (the run holds the lock,
        so no other run appends meanwhile)."""
        self._run_id = run_id
        rows = self._fetch(
            "reading the ledger's last sequence number",
            f"select max(batch_seq) from {self.table('tiktok_sync_batches')}",
        )
        events = self._fetch(
            "reading the ledger's last sequence number",
            f"select max(event_seq) from {self.table('tiktok_sync_registry_events')}",
        )
        self._next_seq = max(int(rows[0][0] or 0), int(events[0][0] or 0)) + 1

    @property
    def run_id(self) -> str:
        if self._run_id is None:
            raise RuntimeError("begin_run() first")
        return self._run_id

    def _seq(self) -> int:
        seq = self._next_seq
        self._next_seq += 1
        return seq

    def _next_freeze(self, audience_key: str) -> tuple[int, int]:
        freeze = self._freezes.get(audience_key, 0)
        self._freezes[audience_key] = freeze + 1
        return freeze * FREEZE_STRIDE, (freeze + 1) * FREEZE_STRIDE

    def freeze_changes(
        self,
        audience_key: str,
        batch_size: int,
        *,
        adds_from_members: bool = False,
        new_audience: bool = False,
    ) -> Freeze:
        """Copy the audience's pending changes into the ledger as batches of `batch_size`: adds
        first, then removes, each by id type, so reading them back in batch order sends adds
        before removes. `adds_from_members` (a streaming full refresh): every desired member is
        an add; removes still come from the diff. `new_audience`: its TikTok id is one no
        ledger row names (created by this run, or an earlier run's create adopted before
        anything was sent to it), so the diff holds its desired members as adds and nothing
        else; they are copied without running the diff's join."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        diff = self.table("tiktok_audience_diff")
        members = self.table("tiktok_audience_desired_members")
        adds = f"select id_type, id_hash, 'add' as action from {members} where audience_key = ?"
        if new_audience:
            rows, params = adds, [audience_key]
        elif adds_from_members:
            rows = (
                f"{adds} union all "
                f"select id_type, id_hash, action from {diff} "
                "where audience_key = ? and action = 'remove'"
            )
            params = [audience_key, audience_key]
        else:
            rows = f"select id_type, id_hash, action from {diff} where audience_key = ?"
            params = [audience_key]
        first, end = self._next_freeze(audience_key)
        freeze = Freeze(self.run_id, audience_key, first, end)
        if new_audience and self._engine.row_counter() is not None and self._settings.path:
            # A statement per part of each id type, its rows numbered by the engine's counter
            # (no window holds them all). Only the first part is copied now; `frozen` copies
            # the others as it reaches them, `copy_ahead` before. Only in a file the run holds
            # (DuckDB), so that no build changes the members between two parts.
            sizes = self._fetch(
                f"counting the members of {audience_key}",
                f"select id_type, count(*) from {members} where audience_key = ? group by id_type",
                [audience_key],
            )
            pending = [
                _Part(str(id_type), low, high)
                for id_type, n in sorted(sizes, key=lambda r: (_add_group(str(r[0])), str(r[0])))
                for low, high in _hash_ranges(-(-int(n) // PART_ROWS))
            ]
            self._parts[freeze] = parts = _Parts(batch_size, pending)
            self._copy_part(freeze, parts)
        else:
            within = self._engine.integer_division(
                "row_number() over (partition by action, id_type "
                f"{self._engine.numbering_order('id_hash')}) - 1",
                batch_size,
            )
            self._copy_changes(audience_key, first, within, rows, params)
        return freeze

    def copy_ahead(self, freeze: Freeze) -> None:
        """Copy the next part of a freeze copied a part at a time, unless one copied is still
        unread: called while requests are in flight, so that reading never waits for a copy."""
        parts = self._parts.get(freeze)
        if parts is not None and parts.pending and len(parts.copied) <= parts.reading + 1:
            self._copy_part(freeze, parts)

    def _copy_part(self, freeze: Freeze, parts: _Parts) -> bool:
        """Copy the next part that has members; False if none is left. Its batches continue its
        id type's numbering, so the parts of a freeze are in batch order."""
        while parts.pending:
            part = parts.pending.pop(0)
            offset = parts.numbered.get(part.id_type, 0)
            start = freeze.first_batch_no + _add_group(part.id_type) * GROUP_STRIDE + offset
            counter = self._engine.row_counter()
            assert counter is not None  # parts are made only where the engine has one
            within = f"{offset} + {self._engine.integer_division(counter, parts.batch_size)}"
            members = self.table("tiktok_audience_desired_members")
            rows = (
                f"select id_type, id_hash, 'add' as action from {members} "
                "where audience_key = ? and id_type = ?"
            )
            params: list[Any] = [freeze.audience_key, part.id_type]
            if part.low is not None:
                rows += " and id_hash >= ?"
                params.append(part.low)
            if part.high is not None:
                # A null hash (none should reach the members) goes with the first part, as it
                # would in one copy: the client refuses it before sending, nothing drops it.
                rows += " and (id_hash < ?" + (" or id_hash is null)" if part.low is None else ")")
                params.append(part.high)
            self._copy_changes(freeze.audience_key, freeze.first_batch_no, within, rows, params)
            (last,) = self._fetch(
                f"reading the batches of {freeze.audience_key}",
                f"select max(batch_no) from {self.table('tiktok_sync_changes')} "
                "where run_id = ? and audience_key = ? and batch_no >= ? and batch_no < ?",
                [freeze.run_id, freeze.audience_key, start, start - offset + GROUP_STRIDE],
            )[0]
            if last is not None:
                parts.copied.append((start, int(last) + 1))
                parts.numbered[part.id_type] = int(last) + 1 - (start - offset)
                return True
        return False

    def _copy_changes(
        self, audience_key: str, first: int, within: str, rows: str, params: list[Any]
    ) -> None:
        """One INSERT ... SELECT of a freeze: `rows` (id_type, id_hash, action) into the ledger,
        each numbered by its group and `within`, its batch within the group."""
        self._execute_freeze(
            f"copying the changes of {audience_key} into tiktok_sync_changes",
            f"insert into {self.table('tiktok_sync_changes')} "
            "(run_id, audience_key, batch_no, id_type, id_hash, action) "
            f"select ?, ?, {first} + {CHANGE_GROUP} * {GROUP_STRIDE} + {within}, "
            f"id_type, id_hash, action from ({rows}) as pending",
            [self.run_id, audience_key, *params],
        )

    def freeze_members(
        self,
        audience_key: str,
        id_type: str,
        *,
        keep_acknowledged_of: str | None = None,
        removes_from_diff: bool = False,
    ) -> Freeze:
        """Copy every desired member of `id_type` into the ledger as one batch (a customer-file
        create or REPLACE: one request names every file).

        `keep_acknowledged_of`: also what is acknowledged in that TikTok audience and not
        suppressed, for an add_only audience whose REPLACE must not drop members it never
        removes (a suppressed one it does remove).
        `removes_from_diff`: also the diff's removes, as removes, so that a REPLACE sent without
        an answer leaves them unconfirmed (possibly gone) rather than acknowledged.
        """
        members = self.table("tiktok_audience_desired_members")
        rows = f"select id_type, id_hash from {members} where audience_key = ? and id_type = ?"
        params: list[Any] = [audience_key, id_type]
        if keep_acknowledged_of is not None:
            rows += (
                " union all "
                "select state.id_type, state.id_hash "
                f"from {self.table('tiktok_sync_acknowledged_members')} as state "
                "where state.audience_key = ? and state.audience_id = ? and state.id_type = ? "
                f"and not exists (select 1 from {self.table('tiktok_suppressed_identifiers')} "
                "as suppressed where suppressed.id_type = state.id_type "
                "and suppressed.id_hash = state.id_hash)"
            )
            params += [audience_key, keep_acknowledged_of, id_type]
        first, end = self._next_freeze(audience_key)
        changes = f"select distinct id_type, id_hash, 'add' as action from ({rows}) as members"
        if removes_from_diff:
            changes += (
                " union all "
                f"select id_type, id_hash, action from {self.table('tiktok_audience_diff')} "
                "where audience_key = ? and action = 'remove' and id_type = ?"
            )
            params += [audience_key, id_type]
        self._execute_freeze(
            f"copying the members of {audience_key} into tiktok_sync_changes",
            f"insert into {self.table('tiktok_sync_changes')} "
            "(run_id, audience_key, batch_no, id_type, id_hash, action) "
            f"select ?, ?, {first}, id_type, id_hash, action from ({changes}) as batch",
            [self.run_id, audience_key, *params],
        )
        return Freeze(self.run_id, audience_key, first, end)

    def frozen_counts(self, freeze: Freeze) -> dict[str, int]:
        """How many adds and removes the run copied for the audience."""
        rows = self._fetch(
            f"counting the changes of {freeze.audience_key}",
            f"select action, count(*) from {self.table('tiktok_sync_changes')} "
            "where run_id = ? and audience_key = ? and batch_no >= ? and batch_no < ? "
            "group by action",
            [freeze.run_id, freeze.audience_key, freeze.first_batch_no, freeze.end_batch_no],
        )
        return {str(action): int(n) for action, n in rows}

    def frozen(
        self, freeze: Freeze, chunk_rows: int, *, action: str | None = None
    ) -> Generator[FrozenChunk, None, None]:
        """The frozen changes in batch order, as chunks of at most `chunk_rows` identifiers that
        never span two batches (`action`: only those). Close the generator (or read it out) to
        release the reader.

        Read in windows of whole batches where the engine asks for it
        (`Engine.frozen_window_rows`), one query each: sorting a whole freeze by batch number
        holds all of it (DuckDB spills it under the sync's memory limit, but fills that limit
        for the whole streaming phase), a window holds a few batches, and a window of one batch
        needs no sort at all. The rows of a freeze never change once copied, so reading it in
        several queries reads what one would. A freeze copied a part at a time (a new
        audience's, `freeze_changes`) is read a part after another, each copied when reading
        reaches it if `copy_ahead` has not copied it before.
        """
        if chunk_rows < 1:
            raise ValueError(f"chunk_rows must be >= 1, got {chunk_rows}")
        select = (
            f"select batch_no, action, id_type, id_hash from {self.table('tiktok_sync_changes')} "
            "where run_id = ? and audience_key = ?"
        )
        params: list[Any] = [freeze.run_id, freeze.audience_key]
        if action is not None:
            select += " and action = ?"
            params.append(action)
        reading = f"reading the changes of {freeze.audience_key}"
        window_rows = self._engine.frozen_window_rows
        with self._doing(reading), self._engine.reading_frozen():
            for start, end in self._ranges(freeze):
                if window_rows is None:
                    windows = [(start, end - 1)]
                else:
                    part = replace(freeze, first_batch_no=start, end_batch_no=end)
                    windows = batch_windows(self._batch_sizes(part, action), window_rows)
                yield from self._read_windows(select, params, windows, chunk_rows)

    def _ranges(self, freeze: Freeze) -> Iterator[tuple[int, int]]:
        """The batch ranges [first, end) of a freeze to read in turn: the whole of it, or each
        part of one copied a part at a time, the next copied when reading reaches it."""
        parts = self._parts.get(freeze)
        if parts is None:
            yield freeze.first_batch_no, freeze.end_batch_no
            return
        index = 0
        while index < len(parts.copied) or self._copy_part(freeze, parts):
            parts.reading = index
            yield parts.copied[index]
            index += 1

    def _read_windows(
        self, select: str, params: list[Any], windows: list[tuple[int, int]], chunk_rows: int
    ) -> Iterator[FrozenChunk]:
        for first, last in windows:
            if first == last:  # one batch: nothing to sort
                sql, bounds = f"{select} and batch_no = ?", [first]
            else:
                sql = f"{select} and batch_no >= ? and batch_no <= ? order by batch_no"
                bounds = [first, last]
            batch_rows = min(chunk_rows, RECORD_BATCH_ROWS)
            stream = self._engine.stream(sql, [*params, *bounds], batch_rows)
            yield from _chunks(stream, chunk_rows)

    def _batch_sizes(self, freeze: Freeze, action: str | None) -> list[tuple[int, int]]:
        """(batch_no, rows) of each batch of the freeze (`action`: its rows only), in order."""
        sql = (
            f"select batch_no, count(*) from {self.table('tiktok_sync_changes')} "
            "where run_id = ? and audience_key = ? and batch_no >= ? and batch_no < ?"
        )
        params: list[Any] = [
            freeze.run_id,
            freeze.audience_key,
            freeze.first_batch_no,
            freeze.end_batch_no,
        ]
        if action is not None:
            sql += " and action = ?"
            params.append(action)
        rows = self._engine.fetch(f"{sql} group by batch_no order by batch_no", params)
        return [(int(batch_no), int(n)) for batch_no, n in rows]

    # --- batch events ---------------------------------------------------------------------------

    def batch(
        self,
        freeze: Freeze,
        batch_no: int,
        *,
        kind: str,
        audience_id: str | None,
        advertiser_id: str | None,
        api: str,
        identifier_count: int,
    ) -> Batch:
        """The next batch in the ledger's order (its batch_seq is taken now)."""
        return Batch(
            run_id=freeze.run_id,
            audience_key=freeze.audience_key,
            batch_no=batch_no,
            batch_seq=self._seq(),
            kind=kind,
            audience_id=audience_id,
            advertiser_id=advertiser_id,
            api=api,
            identifier_count=identifier_count,
        )

    def batch_sent(self, batch: Batch) -> None:
        """About to send: until TikTok answers, the batch's outcome is unknown."""
        self.batches_sent([batch])

    def batches_sent(self, batches: Sequence[Batch]) -> None:
        """About to send these batches: their 'sent' events in one statement, written before
        any of them goes out (one that never goes out is unconfirmed, as after a crash)."""
        self._batch_events([(batch, "sent", batch.audience_id, None) for batch in batches])

    def batch_acknowledged(
        self, batch: Batch, *, audience_id: str | None = None, request_id: str | None = None
    ) -> None:
        """TikTok acknowledged the batch (`audience_id`: the id a create returned)."""
        self._batch_events([(batch, "acknowledged", audience_id or batch.audience_id, request_id)])

    def batches_acknowledged(self, answered: Sequence[tuple[Batch, str | None]]) -> None:
        """TikTok acknowledged each of these (batch, request id): one statement for them all."""
        self._batch_events(
            [(batch, "acknowledged", batch.audience_id, request) for batch, request in answered]
        )

    def batch_refused(self, batch: Batch, *, request_id: str | None = None) -> None:
        """TikTok surely did not apply the batch (a create refused before TikTok made it)."""
        self._batch_events([(batch, "refused", batch.audience_id, request_id)])

    def _batch_events(self, events: Sequence[tuple[Batch, str, str | None, str | None]]) -> None:
        """Append events to tiktok_sync_batches, EVENTS_PER_STATEMENT rows per INSERT.

        A multi-row VALUES is portable (every engine takes it) and each statement is one
        append, so a failure or crash leaves whole statements written or not: an event lost is
        an acknowledgement not yet recorded (the batch goes out again) or a 'sent' whose batch
        never went out (unconfirmed, so the diff sends it again)."""
        if not events:
            return
        self._engine.renew_run_lock()
        row = (
            "(?, ?, cast(? as bigint), cast(? as bigint), ?, ?, ?, ?, ?, cast(? as bigint), ?, "
            "cast(? as timestamp))"
        )
        now = self._engine.now_param(utc_now())
        for start in range(0, len(events), EVENTS_PER_STATEMENT):
            group = events[start : start + EVENTS_PER_STATEMENT]
            params: list[Any] = []
            for batch, event, audience_id, request_id in group:
                params += [
                    batch.run_id,
                    batch.audience_key,
                    batch.batch_no,
                    batch.batch_seq,
                    event,
                    batch.kind,
                    audience_id,
                    batch.advertiser_id,
                    batch.api,
                    batch.identifier_count,
                    request_id,
                    now,
                ]
            first_batch, first_event = group[0][0], group[0][1]
            what = f"{len(group)} batches" if len(group) > 1 else "a batch"
            self._execute(
                f"recording {what} of {first_batch.audience_key} as {first_event}",
                f"insert into {self.table('tiktok_sync_batches')} "
                "(run_id, audience_key, batch_no, batch_seq, event, kind, audience_id, "
                "advertiser_id, api, identifier_count, request_id, event_at) "
                f"values {', '.join(row for _ in group)}",
                params,
            )

    # --- the registry ---------------------------------------------------------------------------

    def register_pending(
        self, audience_key: str, advertiser_id: str, api: str, audience_name: str, run_id: str
    ) -> RegistryEntry:
        """Record 'pending' just before a create (README "Guarantees", "No duplicate audiences").

        A create left pending by a crashed run is kept as it is: its created_at is when the
        first create may have happened, the start of the window to look for it in.
        """
        existing = self.registry().get(audience_key)
        if existing is not None:
            return existing
        entry = RegistryEntry(
            audience_key, None, advertiser_id, api, audience_name, utc_now(), run_id
        )
        self._registry_event("pending", entry)
        return entry

    def record_create_request(
        self, audience_key: str, api: str, retention_days: int | None
    ) -> None:
        """Record, just before a create call, what TikTok fixes at creation (its retention)."""
        self._execute(
            f"recording the create of audience {audience_key}",
            f"insert into {self.table('tiktok_sync_create_requests')} "
            "(run_id, audience_key, api, retention_days, sent_at) "
            "values (?, ?, ?, cast(? as bigint), cast(? as timestamp))",
            [self.run_id, audience_key, api, retention_days, self._engine.now_param(utc_now())],
        )

    def drop_pending(self, audience_key: str, run_id: str) -> None:
        """Forget this run's pending create: it surely did not happen."""
        entry = self.registry().get(audience_key)
        if entry is None or entry.audience_id is not None or entry.created_by_run_id != run_id:
            return
        self._registry_event("dropped", entry)

    def register_created(
        self, audience_key: str, audience_id: str, audience_name: str | None = None
    ) -> None:
        """Record TikTok's id for the audience, immediately after the create returned it (or
        the audience a lost create made was found by name: `audience_name` is the name it was
        found under, which may be an earlier one than the pending row's)."""
        entry = self.registry().get(audience_key)
        if entry is None:  # pragma: no cover - a pending event is always written first
            raise WarehouseError(f"no pending create of {audience_key} to record {audience_id} for")
        self._registry_event(
            "created",
            replace(
                entry, audience_id=audience_id, audience_name=audience_name or entry.audience_name
            ),
        )

    def register_renamed(self, audience_key: str, audience_name: str) -> None:
        """Record the name TikTok now holds for the audience, right after it accepted a rename:
        the registry's name is what the next run compares meta.tiktok.audience_name with."""
        entry = self.registry().get(audience_key)
        if entry is None or entry.audience_id is None:  # pragma: no cover - renames follow a create
            raise WarehouseError(f"no recorded audience of {audience_key} to rename")
        self._registry_event("renamed", replace(entry, audience_name=audience_name))

    def forget_audience(self, audience_key: str, audience_id: str, advertiser_id: str) -> None:
        """The audience was deleted at TikTok: the registry forgets it (so it is created again)
        and an acknowledged 'forget' batch says TikTok holds nothing under that id."""
        entry = self.registry().get(audience_key)
        if entry is not None and entry.audience_id == audience_id:
            self._registry_event("forgotten", entry)
        start, _ = self._next_freeze(audience_key)
        forget = Batch(
            run_id=self.run_id,
            audience_key=audience_key,
            batch_no=start,
            batch_seq=self._seq(),
            kind="forget",
            audience_id=audience_id,
            advertiser_id=advertiser_id,
            api="",
            identifier_count=0,
        )
        self.batch_acknowledged(forget)

    def _registry_event(self, event: str, entry: RegistryEntry) -> None:
        self._execute(
            f"recording the {event} audience {entry.audience_key} in the registry",
            f"insert into {self.table('tiktok_sync_registry_events')} "
            "(event_seq, event, audience_key, audience_id, advertiser_id, api, audience_name, "
            "created_at, created_by_run_id, run_id, event_at) "
            "values (cast(? as bigint), ?, ?, ?, ?, ?, ?, cast(? as timestamp), ?, ?, "
            "cast(? as timestamp))",
            [
                self._seq(),
                event,
                entry.audience_key,
                entry.audience_id,
                entry.advertiser_id,
                entry.api,
                entry.audience_name,
                self._engine.now_param(entry.created_at) if entry.created_at else None,
                entry.created_by_run_id,
                self._run_id,
                self._engine.now_param(utc_now()),
            ],
        )

    # --- history --------------------------------------------------------------------------------

    def append_run_history(self, rows: Sequence[HistoryRow]) -> None:
        now = self._engine.now_param
        for r in rows:
            self._execute(
                f"appending the run history of {r.audience_key}",
                f"insert into {self.table('tiktok_sync_run_history')} (run_id, audience_key, "
                "audience_id, advertiser_id, api, started_at, finished_at, status, adds_sent, "
                "removes_sent, adds_pending, removes_pending, rejected_identifiers, error_code, "
                "error_message, request_id) values (?, ?, ?, ?, ?, cast(? as timestamp), "
                "cast(? as timestamp), ?, cast(? as bigint), cast(? as bigint), "
                "cast(? as bigint), cast(? as bigint), cast(? as bigint), cast(? as bigint), "
                "?, ?)",
                [
                    r.run_id,
                    r.audience_key,
                    r.audience_id,
                    r.advertiser_id,
                    r.api,
                    now(r.started_at),
                    now(r.finished_at),
                    r.status,
                    r.adds_sent,
                    r.removes_sent,
                    r.adds_pending,
                    r.removes_pending,
                    r.rejected_identifiers,
                    r.error_code,
                    r.error_message,
                    r.request_id,
                ],
            )

    def append_size_history(self, rows: Sequence[Sequence[Any]]) -> None:
        """Rows of (snapshot_at, audience_key, audience_id, advertiser_id, api, cover_num,
        is_valid, is_expiring) for `tiktok-sync audiences`."""
        for row in rows:
            values = list(row)
            values[0] = self._engine.now_param(values[0])
            self._execute(
                "appending to tiktok_sync_audience_size_history",
                f"insert into {self.table('tiktok_sync_audience_size_history')} (snapshot_at, "
                "audience_key, audience_id, advertiser_id, api, cover_num, is_valid, "
                "is_expiring) values (cast(? as timestamp), ?, ?, ?, ?, cast(? as bigint), "
                "cast(? as boolean), cast(? as boolean))",
                values,
            )


def batch_windows(sizes: Sequence[tuple[int, int]], rows: int) -> list[tuple[int, int]]:
    """Consecutive batches, given as (batch_no, rows) in order, grouped into windows of at
    most `rows` rows, or of one batch larger than that: (first, last) batch_no of each."""
    windows: list[tuple[int, int]] = []
    first: int | None = None
    last, held = 0, 0
    for batch_no, n in sizes:
        if first is not None and held + n > rows:
            windows.append((first, last))
            first = None
        if first is None:
            first, held = batch_no, 0
        last, held = batch_no, held + n
    if first is not None:
        windows.append((first, last))
    return windows


def _hash_ranges(parts: int) -> list[tuple[str | None, str | None]]:
    """[low, high) ranges of hex hashes by their first digit: `parts` rounded up to 1, 2, 4, 8
    or 16 of them, together covering every string."""
    count = 1
    while count < min(parts, len(HEX_DIGITS)):
        count *= 2
    step = len(HEX_DIGITS) // count
    bounds: list[str | None] = [None, *(HEX_DIGITS[k * step] for k in range(1, count)), None]
    return list(itertools.pairwise(bounds))


def _chunks(record_batches: Iterator[pa.RecordBatch], chunk_rows: int) -> Iterator[FrozenChunk]:
    """Rows in batch order as chunks of at most `chunk_rows` that never span two batches."""
    held: list[pl.DataFrame] = []
    held_rows = 0
    current: tuple[int, str, str] | None = None
    for record_batch in record_batches:
        frame = _frame(record_batch)
        # Split the record batch where the batch number changes.
        for part in frame.partition_by(["batch_no", "action", "id_type"], maintain_order=True):
            key = (int(part["batch_no"][0]), str(part["action"][0]), str(part["id_type"][0]))
            if current is not None and key != current and held_rows:
                yield _chunk(current, held)
                held, held_rows = [], 0
            current = key
            held.append(part)
            held_rows += len(part)
            while held_rows >= chunk_rows:
                joined = pl.concat(held, rechunk=True)
                yield _chunk(current, [joined.slice(0, chunk_rows)])
                rest = joined.slice(chunk_rows)
                held, held_rows = ([rest] if len(rest) else []), len(rest)
    if current is not None and held_rows:
        yield _chunk(current, held)


def _frame(record_batch: pa.RecordBatch) -> pl.DataFrame:
    frame = pl.from_arrow(record_batch)
    assert isinstance(frame, pl.DataFrame)  # a record batch is a frame, never a series
    # Engines name columns in their own case (Snowflake upper-cases them).
    return frame.rename({c: c.lower() for c in frame.columns})


def _chunk(key: tuple[int, str, str], parts: list[pl.DataFrame]) -> FrozenChunk:
    hashes = pl.concat([p.get_column("id_hash") for p in parts], rechunk=True).cast(pl.String)
    return FrozenChunk(batch_no=key[0], action=key[1], id_type=key[2], hashes=hashes)


def _naive(value: object) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


def _opt_str(value: object) -> str | None:
    return None if value is None else str(value)


def _grouped(rows: list[tuple[Any, ...]]) -> dict[str, dict[str, int]]:
    """(audience_key, id_type, count) rows by audience and id type."""
    out: dict[str, dict[str, int]] = {}
    for key, id_type, n in rows:
        out.setdefault(str(key), {})[str(id_type)] = int(n)
    return out
