"""Apply a plan: create each audience once, send adds then removes, record what TikTok acknowledged.

Per-row results (STYLE "Per-row results"): every identifier ends applied (recorded in
`tiktok_sync_acknowledged_members`), rejected (never sent; counted from
`tiktok_rejected_identifiers`) or pending (still in `tiktok_audience_diff`, sent by the next run).
Each batch is written to `tiktok_sync_unconfirmed_changes` before it is sent and leaves it when
TikTok acknowledges it: a batch whose outcome is unknown (timeout, dropped connection, 5xx, a
crash of this process) may have been applied, and the diff takes that into account.
The batch is the retry unit: one `/segment/mapping/` request, or one customer file and the
update that applies it. A batch is recorded only after TikTok answered code 0 (or 20001, partial
success, whose message is kept); on any other answer that batch and the rest of the audience stay
pending, the error is kept for the run history, and the run goes on with the next audience.
An authorisation error stops the whole run: no other audience would fare better.

Create once (DESIGN "Semantics" 4, reference §7: TikTok has no idempotency keys and allows
duplicate names): a registry row with no audience id is written before the create call and gets
the id as soon as TikTok returns it. A row still without an id means an earlier run may have
created the audience and crashed before recording it; so does an `AmbiguousWriteError` (timeout,
dropped connection or 5xx after sending a create). Either way the run lists the advertiser's
audiences and adopts one of that exact name and type created since the pending row. After a
crash it creates only if none is there; after an ambiguous create it does not create again in the
same run, since a create TikTok answers after the client's timeout may still be applied: the row
stays pending and the next run looks again.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Protocol

import polars as pl

from sync.errors import ConfigError
from sync.plan import (
    TIKTOK_MIN_AUDIENCE_SIZE,
    AudiencePlan,
    Plan,
    PlanOptions,
    plan_from_warehouse,
)
from sync.settings import TikTokSettings, WarehouseSettings
from sync.tiktok import (
    AmbiguousWriteError,
    ApiResponse,
    AudienceBusyError,
    AuthError,
    FatalError,
    NotFoundError,
    RequestError,
    TikTokClient,
    TikTokError,
)
from sync.tiktok.checks import MAX_FILE_BYTES, MAX_FILE_PATHS
from sync.tiktok.models import hash_length
from sync.tiktok.redact import redact, remember, remembering
from sync.warehouse import Batch, Freeze, HistoryRow, Orphan, RegistryEntry, Warehouse, utc_now

logger = logging.getLogger(__name__)

DEFAULT_PROCESSING_WAIT = 120.0  # seconds to wait out a processing lock or a new segment per batch
FIRST_POLL = 2.0
MAX_POLL = 15.0
# TikTok's create_time has whole seconds and the two clocks differ a little: look back this far
# before the pending row's created_at when adopting an audience.
CLOCK_SKEW = timedelta(minutes=10)
# TikTok answers HTTP 400 to mappings on a segment audience until it is ready, "usually 1-2
# minutes after creation" (reference §4.1). Within this long of its create, an HTTP 400 is taken
# for that and waited out; later it is what it says (a request TikTok refused).
NEW_SEGMENT_WINDOW = timedelta(minutes=10)
# `audience_type` in dmp/custom_audience/list/ (reference §3.6).
AUDIENCE_TYPES = {"streaming": "Partner", "customer_file": "Customer File Audience"}
# Files of a create or a REPLACE hold this fraction of the 50 MB a file may (issue 6, memory).
MEMBER_FILE_FRACTION = 4


def new_run_id() -> str:
    return f"{utc_now():%Y%m%dT%H%M%SZ}-{secrets.token_hex(4)}"


# --- results -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ErrorInfo:
    code: int | None
    message: str
    request_id: str | None

    @classmethod
    def of(cls, error: TikTokError) -> ErrorInfo:
        return cls(error.code, str(error), error.request_id)


@dataclass
class AudienceResult:
    """What happened to one audience (or, for a dry run, what would)."""

    plan: AudiencePlan
    audience_id: str | None
    started_at: datetime
    finished_at: datetime | None = None
    adds_sent: int = 0
    removes_sent: int = 0
    adds_pending: int = 0
    removes_pending: int = 0
    status: str = "success"  # success | partial | failed | refused
    error: ErrorInfo | None = None
    notes: list[str] = field(default_factory=list)
    stops_run: bool = False  # an authorisation error: no other audience is tried
    needs_action: bool = False  # a person must act (e.g. the audience was deleted at TikTok)
    tiktok_name: str | None = None  # the name TikTok holds for an audience the sync made

    @property
    def sent(self) -> int:
        return self.adds_sent + self.removes_sent

    def settle(self) -> None:
        """Derive the status from what was sent, what is pending and the error."""
        if self.status == "refused":
            return
        if self.error is None and not (self.adds_pending or self.removes_pending):
            self.status = "success"
        elif self.sent:
            self.status = "partial"
        else:
            self.status = "failed"


@dataclass
class RunResult:
    run_id: str
    dry_run: bool
    audiences: list[AudienceResult]
    orphans: tuple[Orphan, ...]
    refused: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def stopped_by_auth(self) -> bool:
        return any(a.stops_run for a in self.audiences)

    @property
    def status(self) -> str:
        if self.refused:
            return "refused"
        statuses = {a.status for a in self.audiences}
        if statuses <= {"success"}:
            return "success"
        if statuses == {"failed"}:
            return "failed"
        return "partial"

    @property
    def exit_code(self) -> int:
        """0 everything applied; 1 something failed or is pending (the next run may fix it);
        2 refused, unauthorised, or an audience needs a person (deleted at TikTok)."""
        if self.refused or self.stopped_by_auth or any(a.needs_action for a in self.audiences):
            return 2
        return 0 if self.status == "success" else 1


class Progress(Protocol):
    def audience_started(self, plan: AudiencePlan) -> None: ...

    def sent(self, audience_key: str, count: int) -> None: ...

    def note(self, audience_key: str, message: str) -> None: ...

    def audience_finished(self, result: AudienceResult) -> None: ...


class NullProgress:
    def audience_started(self, plan: AudiencePlan) -> None:
        pass

    def sent(self, audience_key: str, count: int) -> None:
        pass

    def note(self, audience_key: str, message: str) -> None:
        logger.info("%s: %s", audience_key, message)

    def audience_finished(self, result: AudienceResult) -> None:
        pass


# --- dry run and refusal ------------------------------------------------------------------------


def preview(plan: Plan, run_id: str) -> RunResult:
    """What `run` would report if every batch went through (`tiktok-sync plan`)."""
    if plan.refused:
        return RunResult(run_id, True, _refused(plan), plan.orphans, True, list(plan.notes))
    now = utc_now()
    audiences = [
        _blocked(ap)
        if ap.blocked
        else AudienceResult(
            plan=ap,
            audience_id=ap.audience_id,
            started_at=now,
            finished_at=now,
            adds_sent=ap.adds_total,
            removes_sent=ap.removes_total,
            adds_pending=ap.pending_adds,
            removes_pending=ap.pending_removes,
        )
        for ap in plan.audiences
    ]
    return RunResult(run_id, True, audiences, plan.orphans, False, list(plan.notes))


def _blocked(ap: AudiencePlan) -> AudienceResult:
    """An audience whose settings TikTok cannot follow (sync/setting_changes.py): nothing is
    sent for it, a person must act (exit 2), the other audiences sync."""
    return _unsent(ap, f"not synced: {'; '.join(ap.blocked)}", needs_action=True)


def _refused(plan: Plan) -> list[AudienceResult]:
    offenders = [ap.audience_key for ap in plan.audiences if ap.refused]
    return [
        _unsent(
            ap,
            f"refused: {ap.audience_key} {'; '.join(ap.refusals)}"
            if ap.refused
            else f"not sent: the run is refused because of {', '.join(offenders)}",
        )
        for ap in plan.audiences
    ]


def _unsent(ap: AudiencePlan, message: str, *, needs_action: bool = False) -> AudienceResult:
    now = utc_now()
    return AudienceResult(
        plan=ap,
        audience_id=ap.audience_id,
        started_at=now,
        finished_at=now,
        adds_pending=ap.pending_adds,
        removes_pending=ap.pending_removes,
        status="refused",
        error=ErrorInfo(None, message, None),
        needs_action=needs_action,
    )


# --- the run -----------------------------------------------------------------------------------


@dataclass
class _Context:
    client: TikTokClient
    warehouse: Warehouse
    run_id: str
    progress: Progress
    processing_wait: float
    sleep: Callable[[float], None]
    clock: Callable[[], float]
    taken_ids: set[str]  # audience ids registered to some audience_key: never adopted
    deadline: float | None = None  # a clock() value: --max-duration
    recreate_missing: bool = False  # create again an audience deleted at TikTok
    gone: set[str] = field(default_factory=set)  # ids TikTok said it no longer has (look-up)
    force: bool = False  # --force: also under 1,000 identifiers
    options: PlanOptions = field(default_factory=PlanOptions)


class _OutOfTime(Exception):
    """The run reached --max-duration: nothing new starts; what is left stays pending."""


class _ChangedSincePlan(Exception):
    """The changes copied for the audience remove more than the plan's guard allowed."""


def _check_time(ctx: _Context) -> None:
    if ctx.deadline is not None and ctx.clock() >= ctx.deadline:
        raise _OutOfTime


def _out_of_time(ctx: _Context) -> bool:
    return ctx.deadline is not None and ctx.clock() >= ctx.deadline


def sync_audiences(
    warehouse_settings: WarehouseSettings,
    tiktok: TikTokSettings,
    options: PlanOptions,
    *,
    run_id: str | None = None,
    progress: Progress | None = None,
    processing_wait: float = DEFAULT_PROCESSING_WAIT,
    requests_per_second: float | None = 10,
    requests_per_minute: int | None = 600,
    max_duration: float | None = None,
    recreate_missing: bool = False,
) -> RunResult:
    """`tiktok-sync run`: plan, refuse or apply, record. The warehouse is held for the whole run.

    `max_duration` (seconds, counted from this call) bounds the run's wall time: after it no
    create, batch, retry or processing wait starts and a request in flight gets at most
    `MIN_READ_TIMEOUT` more in all (connecting and its whole answer); the rest stays pending
    (exit 1).
    """
    if max_duration is not None and max_duration <= 0:
        raise ConfigError(f"--max-duration must be more than 0 seconds, got {max_duration}")
    deadline = None if max_duration is None else time.monotonic() + max_duration
    run_id = run_id or new_run_id()
    # The run holds the warehouse from before its first read to its end (one run at a time);
    # the secrets it uses are masked in all it writes (the run history) while it runs.
    with remembering(), Warehouse.open(warehouse_settings, lock_holder=run_id) as warehouse:
        remember(tiktok.access_token, tiktok.app_secret)
        plan = plan_from_warehouse(warehouse, tiktok, options)
        if not plan.refused and not tiktok.access_token:
            raise ConfigError(
                "no TikTok access token: run `tiktok-sync auth`, or set TIKTOK_ACCESS_TOKEN"
            )
        with TikTokClient(
            tiktok.access_token,
            base_url=tiktok.api_base,
            requests_per_second=requests_per_second,
            requests_per_minute=requests_per_minute,
        ) as client:
            return run(
                plan,
                client,
                warehouse,
                run_id=run_id,
                progress=progress,
                processing_wait=processing_wait,
                deadline=deadline,
                recreate_missing=recreate_missing,
            )


def run(
    plan: Plan,
    client: TikTokClient,
    warehouse: Warehouse,
    *,
    run_id: str,
    progress: Progress | None = None,
    processing_wait: float = DEFAULT_PROCESSING_WAIT,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    deadline: float | None = None,
    recreate_missing: bool = False,
) -> RunResult:
    """Apply `plan` (built on this `warehouse`); one run-history row per audience.

    `deadline` (a `clock()` value, which must be time.monotonic's for the client to honour it
    too) ends the run early: see `sync_audiences`' max_duration.
    """
    warehouse.begin_run(run_id)
    if plan.refused:
        refused = _refused(plan)
        warehouse.append_run_history([_history(run_id, r) for r in refused])
        return RunResult(run_id, False, refused, plan.orphans, True, list(plan.notes))
    previous_deadline = client.deadline
    client.deadline = deadline
    try:
        return _run(
            plan,
            client,
            warehouse,
            run_id,
            progress,
            processing_wait,
            sleep,
            clock,
            deadline,
            recreate_missing,
        )
    finally:
        client.deadline = previous_deadline


def _run(
    plan: Plan,
    client: TikTokClient,
    warehouse: Warehouse,
    run_id: str,
    progress: Progress | None,
    processing_wait: float,
    sleep: Callable[[float], None],
    clock: Callable[[], float],
    deadline: float | None,
    recreate_missing: bool,
) -> RunResult:
    ctx = _Context(
        client=client,
        warehouse=warehouse,
        run_id=run_id,
        progress=progress or NullProgress(),
        processing_wait=processing_wait,
        sleep=sleep,
        clock=clock,
        # Configured ids too: an audience another model syncs into is never adopted.
        taken_ids={e.audience_id for e in warehouse.registry().values() if e.audience_id}
        | {ap.audience_id for ap in plan.audiences if ap.audience_id},
        deadline=deadline,
        recreate_missing=recreate_missing,
        force=plan.options.force,
        options=plan.options,
    )
    results: list[AudienceResult] = []
    stopped: AudienceResult | None = None
    notes = list(plan.notes)
    if recreate_missing:
        ctx.gone = _gone_at_tiktok(ctx, plan, notes)
    for ap in plan.audiences:
        if stopped is not None:
            results.append(_not_attempted(ap, stopped))
            continue
        if _out_of_time(ctx):
            results.append(_not_attempted_in_time(ap))
            continue
        if ap.blocked:
            results.append(_blocked(ap))
            warehouse.append_run_history([_history(run_id, results[-1])])
            continue
        result = _apply_audience(ctx, ap)
        results.append(result)
        if result.stops_run:
            stopped = result
    if _out_of_time(ctx) and any(a.adds_pending or a.removes_pending for a in results):
        notes.append(
            "the run stopped at --max-duration; what it did not send stays pending and goes "
            "out on the next run"
        )
    return RunResult(run_id, False, results, plan.orphans, False, notes)


def _not_attempted_in_time(ap: AudiencePlan) -> AudienceResult:
    error = None
    if ap.adds_total or ap.removes_total or ap.audience_id is None:
        error = ErrorInfo(
            None, "not attempted: the run reached --max-duration; its changes stay pending", None
        )
    return _untouched(ap, error)


def _not_attempted(ap: AudiencePlan, stopped: AudienceResult) -> AudienceResult:
    error = stopped.error
    return _untouched(
        ap,
        ErrorInfo(
            error.code if error else None,
            "not attempted: TikTok refused the authorisation while syncing "
            f"{stopped.plan.audience_key}; re-authorise with `tiktok-sync auth`",
            error.request_id if error else None,
        ),
    )


def _untouched(ap: AudiencePlan, error: ErrorInfo | None) -> AudienceResult:
    """The result of an audience the run did not start: everything it planned stays pending."""
    now = utc_now()
    result = AudienceResult(
        plan=ap,
        audience_id=ap.audience_id,
        started_at=now,
        finished_at=now,
        adds_pending=ap.pending_adds,
        removes_pending=ap.pending_removes,
        error=error,
    )
    result.settle()
    return result


def _apply_audience(ctx: _Context, ap: AudiencePlan) -> AudienceResult:
    result = AudienceResult(plan=ap, audience_id=ap.audience_id, started_at=utc_now())
    ctx.progress.audience_started(ap)
    try:
        try:
            if ap.audience_id in ctx.gone:
                _recreate(ctx, ap, result, None)
            else:
                _sync_audience(ctx, ap, result)
        except (RequestError, FatalError) as error:
            # Refused for good: was the audience deleted at TikTok (in Ads Manager, say)?
            if (
                ap.audience_id is None
                or ap.audience_id in ctx.gone
                or not _deleted_at_tiktok(ctx, ap.advertiser_id, ap.audience_id)
            ):
                raise
            _recreate(ctx, ap, result, error.code)
    except _OutOfTime:
        result.error = ErrorInfo(
            None, "stopped at --max-duration; the rest of its changes stay pending", None
        )
    except _ChangedSincePlan as changed:
        result.error = ErrorInfo(None, str(changed), None)
        result.needs_action = True
    except TikTokError as error:
        result.error = ErrorInfo.of(error)
        if _out_of_time(ctx):
            result.error = ErrorInfo(
                error.code, f"stopped at --max-duration during a request: {error}", error.request_id
            )
        result.stops_run = isinstance(error, AuthError)
        logger.info("%s: stopped: %s", ap.audience_key, error)
    result.adds_pending, result.removes_pending = _pending(ctx, ap, result)
    result.finished_at = utc_now()
    result.settle()
    ctx.warehouse.append_run_history([_history(ctx.run_id, result)])
    ctx.progress.audience_finished(result)
    return result


def _pending(ctx: _Context, ap: AudiencePlan, result: AudienceResult) -> tuple[int, int]:
    """What is still in the diff for the audience: the truth the next run starts from.

    Read back, unless nothing stopped the audience and it sent exactly the adds and removes
    the plan counted: then every row the diff held went out and was recorded as TikTok
    acknowledged it (rows leave the diff when recorded; no other process can write the
    warehouse during the run), so the diff holds nothing more for it. Reading it back would
    compute the diff's join over every member the run just acknowledged, the costliest query
    of a large first sync (several CPU-seconds per million members under the memory limit).
    """
    if (
        result.error is None
        and result.adds_sent == ap.adds_total
        and result.removes_sent == ap.removes_total
    ):
        return 0, 0
    return ctx.warehouse.pending(ap.audience_key)


def _sync_audience(ctx: _Context, ap: AudiencePlan, result: AudienceResult) -> None:
    audience_id, created_now = ap.audience_id, False
    result.tiktok_name = ap.tiktok_name
    if audience_id is None:
        result.tiktok_name = ap.audience_name  # unless an earlier create is adopted
        audience_id, created_now = _create_once(ctx, ap, result)
    if audience_id is not None:
        _rename(ctx, ap, audience_id, result)
        if ap.api == "streaming":
            _sync_segment(ctx, ap, audience_id, result)
        elif not created_now:  # a customer-file create already carried every member
            _sync_customer_file(ctx, ap, audience_id, result)


def _deleted_at_tiktok(ctx: _Context, advertiser_id: str, audience_id: str) -> bool:
    """TikTok says it has no audience of this id under the advertiser (one read)."""
    try:
        found = ctx.client.get_custom_audiences(advertiser_id, [audience_id])
    except NotFoundError:
        return True
    except TikTokError:
        return False  # cannot tell: the original error stands
    return all(details.audience_id != audience_id for details in found)


def _gone_at_tiktok(ctx: _Context, plan: Plan, notes: list[str]) -> set[str]:
    """--recreate-missing: the ids of the audiences the sync created that TikTok no longer has.

    Without this look-up a run learns of a deleted audience only when TikTok refuses one of its
    batches, so one with nothing to send would never be created again. One list request per
    advertiser (up to 100 ids each), filtered to the registry's ids: an id TikTok does not
    return is gone. Should TikTok refuse the filter for an id it does not know (as its get
    endpoint does, 40007), each id is asked about alone. If TikTok cannot be asked, none is
    taken for gone: a refused batch still leads to the recreate.
    """
    wanted: dict[str, list[str]] = {}
    for ap in plan.audiences:
        if ap.audience_id is not None and not ap.audience_id_configured and not ap.blocked:
            wanted.setdefault(ap.advertiser_id, []).append(ap.audience_id)
    gone: set[str] = set()
    for advertiser, ids in wanted.items():
        try:
            listed = ctx.client.list_custom_audiences(advertiser, audience_ids=ids)
            gone |= set(ids) - {audience.audience_id for audience in listed}
        except NotFoundError:
            gone |= {i for i in ids if _deleted_at_tiktok(ctx, advertiser, i)}
        except TikTokError as error:
            notes.append(
                f"could not ask TikTok which audiences of advertiser {advertiser} still exist "
                f"({error}); --recreate-missing recreates one only when TikTok refuses its changes"
            )
    return gone


def _recreate(ctx: _Context, ap: AudiencePlan, result: AudienceResult, code: int | None) -> None:
    """Create again, with every desired member, an audience TikTok no longer has; or say why
    not in `result`."""
    assert ap.audience_id is not None
    fresh = _recreatable(ctx, ap, result, code)
    if fresh is None:
        return
    ctx.warehouse.forget_audience(ap.audience_key, ap.audience_id, ap.advertiser_id)
    result.notes.append(
        f"TikTok audience {ap.audience_id} was deleted at TikTok: created it again "
        "(--recreate-missing)"
    )
    result.audience_id = None
    ctx.progress.audience_started(fresh)  # counted afresh: every desired member goes out
    _sync_audience(ctx, fresh, result)


def _recreatable(
    ctx: _Context, ap: AudiencePlan, result: AudienceResult, code: int | None
) -> AudiencePlan | None:
    """The plan to create a deleted audience again, or None with the reason in `result`.

    Never on its own: a deleted audience may have been deleted on purpose, and recreating it
    gives it a new id that campaigns do not target yet; `--recreate-missing` says so.
    """
    key, old = ap.audience_key, ap.audience_id
    where = f"TikTok has no audience {old} under advertiser {ap.advertiser_id} any more"
    fix: str | None = None
    if ap.audience_id_configured:
        fix = (
            f"correct meta.tiktok.audience_id of model {key}, or remove it to let the sync "
            "create the audience"
        )
    elif not ctx.recreate_missing:
        fix = (
            f"if it was deleted on purpose, delete model {key} too; to create it again and send "
            f"its {ap.desired_size:,} members, run with --recreate-missing"
        )
    elif ap.api == "customer_file" and ap.desired_size < TIKTOK_MIN_AUDIENCE_SIZE and not ctx.force:
        fix = (
            f"it would be created again from {ap.desired_size:,} identifiers, under TikTok's "
            f"{TIKTOK_MIN_AUDIENCE_SIZE:,}; grow the audience, or pass --force as well"
        )
    if fix is not None:
        result.error = ErrorInfo(code, f"{where} (deleted in Ads Manager?): {fix}", None)
        result.needs_action = True
        return None
    return replace(
        ap,
        audience_id=None,
        pending_create=None,
        adds=dict(ap.desired),
        removes={},
    )


def _history(run_id: str, result: AudienceResult) -> HistoryRow:
    ap = result.plan
    error = result.error
    return HistoryRow(
        run_id=run_id,
        audience_key=ap.audience_key,
        audience_id=result.audience_id,
        advertiser_id=ap.advertiser_id,
        api=ap.api,
        started_at=result.started_at,
        finished_at=result.finished_at or utc_now(),
        status=result.status,
        adds_sent=result.adds_sent,
        removes_sent=result.removes_sent,
        adds_pending=result.adds_pending,
        removes_pending=result.removes_pending,
        rejected_identifiers=ap.rejected_identifiers,
        error_code=error.code if error else None,
        # Redacted again here: the table outlives the process, and a message quotes TikTok.
        error_message=_redacted(error.message if error else None),
        request_id=_redacted(error.request_id if error else None),
    )


def _redacted(text: str | None) -> str | None:
    return redact(text) if text else text


# --- create once -------------------------------------------------------------------------------


def _create_once(
    ctx: _Context, ap: AudiencePlan, result: AudienceResult
) -> tuple[str | None, bool]:
    """The audience's id, created if need be; and whether this run created it with members."""
    key = ap.audience_key
    if ap.api == "customer_file" and ap.desired_size == 0:
        result.notes.append("not created: a customer-file audience needs members")
        return None, False
    _check_time(ctx)
    pending = ap.pending_create
    if pending is not None:
        found = _find_created(ctx, ap, pending)
        if found is not None:
            return _adopt(ctx, ap, result, found), False
    # Customer files are uploaded before the create (which names them) and only once: a second
    # create attempt reuses them. Uploads create no audience, so they come before the pending
    # row.
    members: Freeze | None = None
    file_paths: list[str] = []
    if ap.api == "customer_file":
        members = ctx.warehouse.freeze_members(key, ap.id_types[0])
        file_paths, count = _upload_members(ctx, ap, members)
    if pending is None:
        pending = ctx.warehouse.register_pending(
            key, ap.advertiser_id, ap.api, ap.audience_name, ctx.run_id
        )
    batch = None
    if members is not None:
        # Sent before the create: if its outcome is never known, the audience it may have
        # made holds these members, and they must be removed should they leave the SQL.
        batch = ctx.warehouse.batch(
            members,
            members.first_batch_no,
            kind="create",
            audience_id=None,
            advertiser_id=ap.advertiser_id,
            api=ap.api,
            identifier_count=count,
        )
        ctx.warehouse.batch_sent(batch)
    try:
        _check_time(ctx)
        audience_id = _create(ctx, ap, file_paths)
    except AmbiguousWriteError as error:
        ctx.progress.note(key, f"the create may have happened ({error.message}); looking")
        found = _find_created(ctx, ap, pending)
        if found is not None:
            return _adopt(ctx, ap, result, found), False
        # Not there (yet): a create TikTok answered too late may still be applied, and creating
        # again now would make a second audience. The pending row stays; the next run looks
        # again before creating.
        raise
    except TikTokError as error:
        # Any other error means TikTok surely did not create it (the client turns every
        # doubtful failure of a create into AmbiguousWriteError): unless an earlier run left
        # the row pending, the next run need not look for it.
        ctx.warehouse.drop_pending(key, ctx.run_id)
        if batch is not None:
            ctx.warehouse.batch_refused(batch, request_id=error.request_id)
        raise
    ctx.warehouse.register_created(key, audience_id)
    ctx.taken_ids.add(audience_id)
    result.audience_id = audience_id
    result.notes.append(f"created TikTok audience {audience_id}")
    if batch is None:
        return audience_id, False
    # The files held every desired member: TikTok now has exactly that set.
    ctx.warehouse.batch_acknowledged(batch, audience_id=audience_id)
    result.adds_sent += ap.desired_size
    ctx.progress.sent(key, ap.desired_size)
    return audience_id, True


def _create(ctx: _Context, ap: AudiencePlan, file_paths: list[str]) -> str:
    if ap.api == "streaming":
        return ctx.client.create_segment_audience(ap.advertiser_id, ap.audience_name)
    return ctx.client.create_custom_audience(
        ap.advertiser_id,
        ap.audience_name,
        ap.id_types[0],  # the plan refuses customer-file audiences with several id types
        file_paths,
        retention_in_days=ap.retention_days,
    )


def _adopt(ctx: _Context, ap: AudiencePlan, result: AudienceResult, found: tuple[str, str]) -> str:
    audience_id, name = found
    ctx.warehouse.register_created(ap.audience_key, audience_id, name)
    result.tiktok_name = name
    ctx.taken_ids.add(audience_id)
    result.audience_id = audience_id
    result.notes.append(
        f"adopted TikTok audience {audience_id}: an earlier attempt created it, found by name"
    )
    return audience_id


def _find_created(
    ctx: _Context, ap: AudiencePlan, pending: RegistryEntry
) -> tuple[str, str] | None:
    """(id, name) of an audience of this type that our pending create may have made, if any.

    Looked up under the pending row's name as well as the configured one: the user may have
    changed meta.tiktok.audience_name since the create that was interrupted (which sent the
    pending row's name), and a later attempt sent the configured one.
    """
    wanted_type = AUDIENCE_TYPES[ap.api]
    names = {ap.audience_name, pending.audience_name or ap.audience_name}
    since = pending.created_at
    earliest = since - CLOCK_SKEW if since is not None else None
    candidates: list[tuple[datetime, str, str]] = []
    for audience in ctx.client.list_custom_audiences(ap.advertiser_id):
        if audience.name not in names or audience.audience_id in ctx.taken_ids:
            continue
        if audience.type is not None and audience.type != wanted_type:
            continue
        if audience.is_creator is False:  # shared with this advertiser, not made by it
            continue
        created = _parse_create_time(audience.create_time)
        if earliest is not None and created is not None and created < earliest:
            continue  # older than our first attempt: someone else's audience of that name
        candidates.append((created or datetime.max, audience.audience_id, audience.name))
    if not candidates:
        return None
    candidates.sort()
    if len(candidates) > 1:
        ctx.progress.note(
            ap.audience_key,
            f"{len(candidates)} audiences named {' or '.join(repr(n) for n in sorted(names))} "
            f"since the first attempt; adopting the oldest, {candidates[0][1]}",
        )
    _, audience_id, name = candidates[0]
    return audience_id, name


def _parse_create_time(value: str | None) -> datetime | None:
    # "YYYY-MM-DD HH:MM:SS" (reference §3.5). Read as UTC, as the emulator writes it; TikTok's
    # zone is not documented (a guess, see the README).
    if not value:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return None


# --- streaming (segment API) ---------------------------------------------------------------------


def _nothing_planned(ap: AudiencePlan) -> bool:
    """The plan counted no change for the audience: copying its diff into the ledger would
    compute the diff once more to copy nothing (on Postgres the costliest statement of a run
    with nothing to send). A change dbt made since the plan goes out with the next run."""
    return not ap.full_refresh and ap.adds_total == 0 and ap.removes_total == 0


def _sync_segment(
    ctx: _Context, ap: AudiencePlan, audience_id: str, result: AudienceResult
) -> None:
    if _nothing_planned(ap):
        return
    key, limit = ap.audience_key, ctx.client.mapping_batch_limit
    registered = ctx.warehouse.registry().get(key)
    created_at = (
        registered.created_at
        if registered is not None and registered.audience_id == audience_id
        else None  # configured in the model: not created by this project
    )
    changes = ctx.warehouse.freeze_changes(key, limit, adds_from_members=ap.full_refresh)
    _check_guard_again(ctx, ap, changes)
    # closing(): a failed batch ends the loop, and the reader must not outlive it.
    with closing(ctx.warehouse.frozen(changes, limit)) as batches:
        for chunk in batches:
            _check_time(ctx)
            batch = ctx.warehouse.batch(
                changes,
                chunk.batch_no,
                kind="mapping",
                audience_id=audience_id,
                advertiser_id=ap.advertiser_id,
                api=ap.api,
                identifier_count=len(chunk.hashes),
            )
            ctx.warehouse.batch_sent(batch)
            action = "add" if chunk.action == "add" else "delete"
            response = _map(ctx, ap, audience_id, created_at, action, chunk.id_type, chunk.hashes)
            if chunk.action == "add":
                _acknowledged(ctx, batch, result, response, adds=len(chunk.hashes))
            else:
                _acknowledged(ctx, batch, result, response, removes=len(chunk.hashes))


def _check_guard_again(ctx: _Context, ap: AudiencePlan, changes: Freeze) -> None:
    """The plan's mass-removal guard, on what the run copied to send.

    On a server warehouse a `dbt build` may rebuild the audience between the plan and the copy
    (on DuckDB it cannot: the run holds the file). More removes than planned, beyond the
    guard's share of what TikTok may hold, send nothing for the audience: something upstream
    changed, and the plan the user saw no longer says what would happen. (More removes than
    planned is also what adopting a lost create brings: its unconfirmed members that left.)
    """
    if ctx.options.allow_mass_removal:
        return
    removes = ctx.warehouse.frozen_counts(changes).get("remove", 0)
    if removes <= ap.removes_total:
        return
    counts = ctx.warehouse.counts([ap.audience_key]).get(ap.audience_key)
    acknowledged = sum(counts.acknowledged.values()) if counts else 0
    held = acknowledged + (sum(counts.unconfirmed_adds.values()) if counts else 0)
    if removes <= ctx.options.max_removal_share * held:
        return
    raise _ChangedSincePlan(
        f"refused: {ap.audience_key} changed since the plan (a dbt build during the run?): it "
        f"would now remove {removes:,} of the {held:,} members TikTok may hold, more than "
        f"--max-removal-share {ctx.options.max_removal_share:.0%}; nothing was sent for it. "
        "Run tiktok-sync plan again, then run"
    )


def _map(
    ctx: _Context,
    ap: AudiencePlan,
    audience_id: str,
    created_at: datetime | None,
    action: str,
    id_type: str,
    batch: pl.Series,
) -> ApiResponse:
    """One mapping request; a segment audience created minutes ago gets time to be ready.

    TikTok answers HTTP 400 until a new segment is ready (NEW_SEGMENT_WINDOW); re-sending the
    batch is the poll, for up to `processing_wait` seconds, as for a customer-file processing
    lock. After that the batch stays pending (sent without an answer: unconfirmed).
    """
    deadline: float | None = None
    delay = FIRST_POLL
    while True:
        try:
            return ctx.client.map_segment(ap.advertiser_id, audience_id, action, id_type, batch)
        except TikTokError as error:
            is_new = created_at is not None and utc_now() - created_at < NEW_SEGMENT_WINDOW
            if error.http_status != 400 or not is_new:
                raise
            if deadline is None:
                deadline = ctx.clock() + ctx.processing_wait
                if ctx.deadline is not None:
                    deadline = min(deadline, ctx.deadline)
            remaining = deadline - ctx.clock()
            if remaining <= 0:
                raise AudienceBusyError(
                    f"TikTok does not take members into the new audience {audience_id} yet "
                    "(HTTP 400; TikTok readies a new segment audience within minutes of "
                    "creating it)",
                    endpoint=error.endpoint,
                    http_status=error.http_status,
                    request_id=error.request_id,
                    next_step="its changes stay pending: run again in a few minutes",
                ) from None
            wait = min(delay, remaining)
            note = f"TikTok is still readying the new audience; retrying in {wait:.0f} s"
            ctx.progress.note(ap.audience_key, note)
            ctx.sleep(wait)
            delay = min(delay * 2, MAX_POLL)


def _acknowledged(
    ctx: _Context,
    batch: Batch,
    result: AudienceResult,
    response: ApiResponse,
    adds: int = 0,
    removes: int = 0,
) -> bool:
    """Record the batch TikTok answered, unless the answer was a partial success; say which.

    Code 20001 means TikTok applied only part of the request (reference §1, §5.2), and neither
    TikTok's documentation nor any connector shows an answer that says which identifiers failed
    (reference Open question 11; `data` and `message` are free-form). So a partial answer is
    not an acknowledgement: the batch keeps only its `sent` event, stays unconfirmed, and the
    diff sends it again on the next run (adds and removes are set operations, so what TikTok
    did apply is unchanged). Recording it would claim members TikTok may not hold.
    """
    if response.partial:
        result.error = ErrorInfo(
            response.code,
            f"TikTok applied only part of a batch of {batch.identifier_count:,} and did not say "
            f"which identifiers failed (code {response.code}: {response.message}); the whole "
            "batch stays unconfirmed and goes out again on the next run",
            response.request_id,
        )
        return False
    ctx.warehouse.batch_acknowledged(batch, request_id=response.request_id)
    result.adds_sent += adds
    result.removes_sent += removes
    ctx.progress.sent(result.plan.audience_key, adds + removes)
    return True


# --- customer file -------------------------------------------------------------------------------


def _ids_per_file(id_type: str) -> int:
    # Header-less, one hash per line: each line is the hash and "\n" (reference decisions,
    # "Customer file": at most 50 MB per file).
    return MAX_FILE_BYTES // (hash_length(id_type) + 1)


def _ids_per_member_file(id_type: str, members: int) -> int:
    """Files for a create or a REPLACE: a quarter of the largest, unless that would take over
    500 files. All of them go in one request, so smaller files cost uploads, not processing
    locks; and the sync holds one file and its batch at a time (issue 6: at 10M the run's peak
    fell from 444 to 422 MB).
    """
    largest = _ids_per_file(id_type)
    return min(largest, max(largest // MEMBER_FILE_FRACTION, -(-members // MAX_FILE_PATHS)))


def _upload(ctx: _Context, ap: AudiencePlan, id_type: str, hashes: pl.Series) -> str:
    return ctx.client.upload_hashes(ap.advertiser_id, hashes, id_type, f"{ap.audience_key}.csv")


def _upload_members(ctx: _Context, ap: AudiencePlan, members: Freeze) -> tuple[list[str], int]:
    """Upload the frozen members (the adds of a create or a REPLACE) as files; their paths
    (for the request that names them) and how many identifiers they hold."""
    id_type = ap.id_types[0]
    # At most: the acknowledged members kept by an add_only REPLACE may all be outside the SQL.
    most = ap.desired.get(id_type, 0) + (ap.acknowledged_size if ap.mode == "add_only" else 0)
    paths, count = [], 0
    chunks = ctx.warehouse.frozen(members, _ids_per_member_file(id_type, most), action="add")
    with closing(chunks) as batches:
        for chunk in batches:
            _check_time(ctx)
            paths.append(_upload(ctx, ap, id_type, chunk.hashes))
            count += len(chunk.hashes)
    # Not counted as sent yet: an upload is not a change until TikTok takes the create or
    # REPLACE that names it (a failed one must not show a full bar).
    return paths, count


def _sync_customer_file(
    ctx: _Context, ap: AudiencePlan, audience_id: str, result: AudienceResult
) -> None:
    if not ap.id_types:
        return
    key, id_type = ap.audience_key, ap.id_types[0]
    if ap.full_refresh:
        # REPLACE with the whole desired set (reference §3.4); an add_only audience keeps what
        # was acknowledged, since it never removes, except what is suppressed: that is the
        # diff's removes of an add_only audience, recorded as removes like a mirror audience's.
        add_only = ap.mode == "add_only"
        members = ctx.warehouse.freeze_members(
            key,
            id_type,
            keep_acknowledged_of=audience_id if add_only else None,
            removes_from_diff=True,
        )
        paths, count = _upload_members(ctx, ap, members)
        if not paths:
            result.notes.append("full refresh skipped: no members to replace the audience with")
            return
        _check_time(ctx)
        batch = ctx.warehouse.batch(
            members,
            members.first_batch_no,
            kind="replace",
            audience_id=audience_id,
            advertiser_id=ap.advertiser_id,
            api=ap.api,
            identifier_count=count,
        )
        ctx.warehouse.batch_sent(batch)
        response = _update(ctx, ap, audience_id, paths, "REPLACE")
        removes = 0 if add_only else ap.removes_total
        _acknowledged(ctx, batch, result, response, adds=ap.adds_total, removes=removes)
        return
    if _nothing_planned(ap):
        return
    per_file = _ids_per_file(id_type)
    changes = ctx.warehouse.freeze_changes(key, per_file)
    _check_guard_again(ctx, ap, changes)
    with closing(ctx.warehouse.frozen(changes, per_file)) as batches:
        for chunk in batches:
            _check_time(ctx)
            path = _upload(ctx, ap, chunk.id_type, chunk.hashes)
            adding = chunk.action == "add"
            batch = ctx.warehouse.batch(
                changes,
                chunk.batch_no,
                kind="append" if adding else "remove",
                audience_id=audience_id,
                advertiser_id=ap.advertiser_id,
                api=ap.api,
                identifier_count=len(chunk.hashes),
            )
            ctx.warehouse.batch_sent(batch)
            response = _update(ctx, ap, audience_id, [path], "APPEND" if adding else "REMOVE")
            if adding:
                _acknowledged(ctx, batch, result, response, adds=len(chunk.hashes))
            else:
                _acknowledged(ctx, batch, result, response, removes=len(chunk.hashes))


def _update(
    ctx: _Context, ap: AudiencePlan, audience_id: str, paths: list[str], action: str
) -> ApiResponse:
    """One update, waiting out TikTok's processing lock (40002 "processing") for a while.

    TikTok locks a customer-file audience while it processes the last change (reference §3.4,
    §7); re-sending the update is the poll. After `processing_wait` seconds the change stays
    pending for the next run.
    """
    return _waiting_out_processing(
        ctx,
        ap,
        lambda: ctx.client.update_custom_audience(ap.advertiser_id, audience_id, paths, action),
    )


def _waiting_out_processing(
    ctx: _Context, ap: AudiencePlan, update: Callable[[], ApiResponse]
) -> ApiResponse:
    deadline = ctx.clock() + ctx.processing_wait
    if ctx.deadline is not None:
        deadline = min(deadline, ctx.deadline)
    delay = FIRST_POLL
    while True:
        try:
            return update()
        except AudienceBusyError:
            remaining = deadline - ctx.clock()
            if remaining <= 0:
                raise
            wait = min(delay, remaining)
            ctx.progress.note(ap.audience_key, f"TikTok is processing it; retrying in {wait:.0f} s")
            ctx.sleep(wait)
            delay = min(delay * 2, MAX_POLL)


# --- settings changed since the create ---------------------------------------------------------


def _rename(ctx: _Context, ap: AudiencePlan, audience_id: str, result: AudienceResult) -> None:
    """Give the audience the configured name at TikTok if the registry says it holds another
    (meta.tiktok.audience_name changed, or a lost create was adopted under an earlier name).

    Customer-file audiences only: the segment API has no rename (sync/setting_changes.py), so a
    streaming audience keeps its name and the plan says so. A rename TikTok's processing lock
    outlasts is left to the next run: members matter more than the name.
    """
    old, new = result.tiktok_name, ap.audience_name
    if old is None or old == new:
        return  # None: configured in the model, not ours to rename
    if ap.api != "customer_file":
        result.notes.append(
            f"keeps its TikTok name {old!r}: TikTok's segment API cannot rename an audience"
        )
        return
    _check_time(ctx)
    try:
        _waiting_out_processing(
            ctx, ap, lambda: ctx.client.rename_custom_audience(ap.advertiser_id, audience_id, new)
        )
    except AudienceBusyError:
        result.notes.append(
            f"not renamed to {new!r} yet: TikTok is processing it; the next run does"
        )
        return
    ctx.warehouse.register_renamed(ap.audience_key, new)
    result.notes.append(f"renamed TikTok audience {audience_id} from {old!r} to {new!r}")
