"""One run at a time on engines without a lock a session can hold: a lease in `tiktok_sync_locks`.

Snowflake, BigQuery and Spark/Databricks have no advisory lock, no lock that ends with the
session, and no unique constraint to claim a row with: two INSERTs into one table never block
each other and both succeed. What they do give, and what this relies on:

* a committed INSERT is seen by every statement that starts after the INSERT returned
  (Snowflake, BigQuery DML and Delta commits are visible on return; assumed, not measured);
* the clocks of the machines that run tiktok-sync differ by less than `lease_clock_skew`
  (NTP keeps them within milliseconds);
* a single-row INSERT returns within `lease_commit_bound` of the moment its `claimed_at` was
  taken, or the claimant finds out itself (it measures it) and withdraws.

The protocol, all appends (docs/decisions/0001):

1. Read the active leases: claimed or renewed, never released, `expires_at` still ahead. One
   there: refuse at once (exit 2, one line naming the run that holds it).
2. Append a 'claimed' event. If the INSERT took longer than `lease_commit_bound` to return, a
   rival may have read the table before it was visible: append 'released' and refuse (exit 2,
   retry). The first read of step 1 has resumed a suspended warehouse, so this is rare.
3. Wait `lease_settle` (= the commit bound + the clock skew). Every claim stamped before ours is
   visible by then, unless its claimant withdraws it in step 2; a claim stamped after ours may
   or may not be.
4. Read the active leases again. The earliest claim (claimed_at, then holder) wins; every other
   claimant appends 'released' and refuses naming the winner. Two runs can both lose (a
   withdrawn claim is seen by a rival that then yields to it); they can never both win, because
   of two claims that stay, the later one's reader always sees the earlier one.
5. While it runs, the holder renews before every write once a third of `lease_ttl` has passed
   since the last claim or renewal (a 'renewed' event moves `expires_at`), so a statement never
   starts with less than two thirds of the lease left. A run that stalled past its own
   `expires_at` (minus the settle margin) may have been overtaken: it writes nothing more and
   stops with exit 2. A crashed run simply stops renewing; its lease holds nothing after
   `expires_at`, so it blocks the next run for at most `lease_ttl`.
6. At the end (also after a failure) the holder appends 'released'.

`dbt build` of the sync models reads the same table (macros/state/check_sync_lock.sql,
default__) with the same rule for "active", and stops with one line while a lease is: the
rule lives in two places, `_ACTIVE_SQL` here and that macro; change them together.
"""

from __future__ import annotations

import os
import socket
import time
from abc import abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import ClassVar

from sync.engines.base import Engine, Params
from sync.errors import WarehouseError

LOCKS = "tiktok_sync_locks"

# A lease is active while it was claimed or renewed, never released, and has not expired.
# Same rule as default__check_sync_lock, which compares with the warehouse's UTC clock.
_ACTIVE_SQL = """
select holder, min(claimed_at), max(expires_at), max(host), max(process_id)
from {locks} as leases
where event in ('claimed', 'renewed')
  and not exists (
    select 1 from {locks} as released
    where released.holder = leases.holder and released.event = 'released'
  )
group by holder
having max(expires_at) > cast(? as timestamp)
"""


def utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class Lease:
    """One active lease as the table shows it."""

    holder: str
    claimed_at: datetime
    expires_at: datetime
    host: str | None
    process_id: int | None


@dataclass
class _Held:
    holder: str
    claimed_at: datetime
    renewed_at: datetime
    expires_at: datetime


class LeaseLock(Engine):
    """An Engine whose one-run-at-a-time lock is a lease in `tiktok_sync_locks`.

    Subclasses implement `write` (one statement, committed) instead of `execute`: `execute`
    renews the lease first when it is due, so every write of a run happens under a lease with
    at least two thirds of its time to live left, whatever the Warehouse calls in between.
    """

    lock_kind = (
        "a lease in tiktok_sync_locks, renewed while the run writes and released at its end; "
        "a crashed run's lease expires"
    )
    #: How long a lease lasts unrenewed: at most this long a crashed run blocks the next one.
    #: Longer than the longest gap between two writes of a run (a TikTok processing wait is
    #: up to 2 minutes per batch, apply.DEFAULT_PROCESSING_WAIT).
    lease_ttl: ClassVar[timedelta] = timedelta(minutes=10)
    #: Longest a claim's single-row INSERT may take to return and still count (a resuming
    #: Snowflake warehouse takes seconds; the first read of step 1 resumes it).
    lease_commit_bound: ClassVar[timedelta] = timedelta(seconds=5)
    #: Largest difference assumed between two runners' clocks.
    lease_clock_skew: ClassVar[timedelta] = timedelta(seconds=2)

    # Replaced in tests: the clock that stamps events and the pause of step 3.
    lease_clock: Callable[[], datetime] = staticmethod(utc_now)
    lease_sleep: Callable[[float], None] = staticmethod(time.sleep)

    _held: _Held | None = None

    @property
    def lease_settle(self) -> timedelta:
        return self.lease_commit_bound + self.lease_clock_skew

    @abstractmethod
    def write(self, sql: str, params: Params = ()) -> None:
        """Run one write and commit it, without looking at the lease."""

    def execute(self, sql: str, params: Params = ()) -> None:
        self.renew_run_lock()
        self.write(sql, params)

    # --- the lease ------------------------------------------------------------------------------

    def active_leases(self) -> list[Lease]:
        """The active leases, earliest claim first (the holder, if any, is the first)."""
        rows = self.fetch(
            _ACTIVE_SQL.format(locks=self.relation(LOCKS)),
            [self.now_param(self.lease_clock())],
        )
        leases = [
            Lease(
                holder=str(r[0]),
                claimed_at=_naive(r[1]),
                expires_at=_naive(r[2]),
                host=None if r[3] is None else str(r[3]),
                process_id=None if r[4] is None else int(r[4]),
            )
            for r in rows
        ]
        return sorted(leases, key=lambda lease: (lease.claimed_at, lease.holder))

    def acquire_run_lock(self, holder: str) -> None:
        try:
            self._acquire(holder)
        except self.driver_errors as exc:
            raise self.error(exc, f"claiming the run lease in {LOCKS}") from None

    def _acquire(self, holder: str) -> None:
        leases = self.active_leases()
        if leases:
            raise self.locked_by(leases[0])
        claimed_at = self.lease_clock()
        expires_at = claimed_at + self.lease_ttl
        self._append(holder, "claimed", claimed_at, expires_at)
        took = self.lease_clock() - claimed_at
        if took > self.lease_commit_bound:
            # A rival may have looked before this claim was visible: it must not count. (A
            # released holder never holds again, so the run cannot simply claim once more.)
            self._append(holder, "released", claimed_at, None)
            raise WarehouseError(
                f"{self.name} took {took.total_seconds():.1f} s to record the run's lease in "
                f"{LOCKS}, more than the {self.lease_commit_bound.total_seconds():.0f} s within "
                "which runs can tell which came first; nothing was sent; retry"
            )
        self.lease_sleep(self.lease_settle.total_seconds())
        leases = self.active_leases()
        first = leases[0] if leases else None
        if first is None or first.holder != holder:
            self._append(holder, "released", claimed_at, None)
            if first is None:  # our own claim is not visible: the first assumption failed
                raise WarehouseError(
                    f"{self.name} did not show this run's lease in {LOCKS} "
                    f"{self.lease_settle.total_seconds():.0f} s after it was recorded; nothing "
                    "was sent; retry"
                )
            raise self.locked_by(first)
        self._held = _Held(holder, claimed_at, claimed_at, expires_at)

    def renew_run_lock(self) -> None:
        """Renew if a third of the time to live has passed; stop the run if the lease lapsed."""
        held = self._held
        if held is None:
            return
        now = self.lease_clock()
        if now >= held.expires_at - self.lease_settle:
            self._held = None
            raise self._lapsed(held)
        if now - held.renewed_at < self.lease_ttl / 3:
            return
        expires_at = now + self.lease_ttl
        try:
            self._append(held.holder, "renewed", held.claimed_at, expires_at)
        except self.driver_errors as exc:
            raise self.error(exc, f"renewing the run lease in {LOCKS}") from None
        if self.lease_clock() >= held.expires_at - self.lease_settle:
            # The renewal may have become visible only after the old lease ran out.
            self._held = None
            raise self._lapsed(held)
        held.renewed_at, held.expires_at = now, expires_at

    def release_run_lock(self) -> None:
        held, self._held = self._held, None
        if held is not None:
            self._append(held.holder, "released", held.claimed_at, None)

    def _append(
        self, holder: str, event: str, claimed_at: datetime, expires_at: datetime | None
    ) -> None:
        self.write(
            f"insert into {self.relation(LOCKS)} "
            "(holder, event, claimed_at, expires_at, host, process_id, event_at) "
            "values (?, ?, cast(? as timestamp), cast(? as timestamp), ?, cast(? as bigint), "
            "cast(? as timestamp))",
            [
                holder,
                event,
                self.now_param(claimed_at),
                None if expires_at is None else self.now_param(expires_at),
                socket.gethostname(),
                os.getpid(),
                self.now_param(self.lease_clock()),
            ],
        )

    # --- messages -------------------------------------------------------------------------------

    def locked_by(self, lease: Lease) -> WarehouseError:
        where = f"process {lease.process_id} on {lease.host}" if lease.host else "another process"
        return WarehouseError(
            f"schema {self.schema} of the {self.name} warehouse is locked by run {lease.holder} "
            f"({where}; its lease in {LOCKS} runs until {lease.expires_at:%Y-%m-%d %H:%M:%S} UTC "
            "unless renewed): a tiktok-sync run is using it; wait for it to finish, then retry"
        )

    def _lapsed(self, held: _Held) -> WarehouseError:
        return WarehouseError(
            f"the lease of run {held.holder} on the {self.name} warehouse ran out at "
            f"{held.expires_at:%Y-%m-%d %H:%M:%S} UTC before it was renewed (the run stalled for "
            f"longer than {self.lease_ttl.total_seconds() / 60:.0f} minutes), so another run may "
            "hold it now; this run recorded nothing more and stopped; run again"
        )


def _naive(value: object) -> datetime:
    if not isinstance(value, datetime):
        raise WarehouseError(f"{LOCKS} holds a lease without a timestamp: {value!r}")
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value
