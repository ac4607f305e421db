"""The run: plan, refuse or apply each audience in turn, record its outcome.

Each batch is written to `tiktok_sync_unconfirmed_changes` before it is sent and leaves it when
TikTok acknowledges it: a batch whose outcome is unknown (timeout, dropped connection, 5xx, a
crash of this process) may have been applied, and the diff takes that into account. On any answer
but an acknowledgement the rest of the audience stays pending, the error is kept for the run
history, and the run goes on with the next audience. An authorisation error stops the whole run:
no other audience would fare better.

A new audience is begun (created, its changes frozen) while the last requests of the streaming
audience before it are in flight, so that TikTok's quota does not idle between audiences; its
members go out in its own turn (`_HeadStart`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial

from sync.apply.context import (
    DEFAULT_PROCESSING_WAIT,
    ChangedSincePlan,
    Context,
    OutOfTime,
    default_max_in_flight,
    out_of_time,
)
from sync.apply.create import create_once, deleted_at_tiktok, gone_at_tiktok, recreatable
from sync.apply.customer_file import rename, sync_customer_file
from sync.apply.history import history_row, new_run_id
from sync.apply.results import (
    AudienceResult,
    ErrorInfo,
    NullProgress,
    Progress,
    RunResult,
    blocked,
    not_attempted,
    not_attempted_in_time,
    refused,
)
from sync.apply.segment import EarlyFreeze, sync_segment
from sync.errors import ConfigError
from sync.plan import AudiencePlan, Plan, PlanOptions, plan_from_warehouse
from sync.settings import TikTokSettings, WarehouseSettings
from sync.tiktok import AuthError, FatalError, RequestError, TikTokClient, TikTokError
from sync.tiktok.lookup import audiences_at_tiktok
from sync.tiktok.redact import remember, remembering
from sync.warehouse import Warehouse, utc_now

logger = logging.getLogger(__name__)


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
    max_in_flight: int | None = None,
) -> RunResult:
    """`tiktok-sync run`: plan, refuse or apply, record. The warehouse is held for the whole run.

    `max_duration` (seconds, counted from this call) bounds the run's wall time: after it no
    create, batch, retry or processing wait starts and a request in flight gets at most
    `MIN_READ_TIMEOUT` more in all (connecting and its whole answer); the rest stays pending
    (exit 1). `max_in_flight`: see `run`.
    """
    if max_duration is not None and max_duration <= 0:
        raise ConfigError(f"--max-duration must be more than 0 seconds, got {max_duration}")
    deadline = None if max_duration is None else time.monotonic() + max_duration
    run_id = run_id or new_run_id()
    # The run holds the warehouse from before its first read to its end (one run at a time);
    # the secrets it uses are masked in all it writes (the run history) while it runs.
    with remembering(), Warehouse.open(warehouse_settings, lock_holder=run_id) as warehouse:
        remember(tiktok.access_token, tiktok.app_secret)
        with TikTokClient(
            tiktok.access_token,
            base_url=tiktok.api_base,
            requests_per_second=requests_per_second,
            requests_per_minute=requests_per_minute,
        ) as client:
            # The configured audiences are read from TikTok under the run's deadline too.
            client.deadline = deadline
            read = partial(audiences_at_tiktok, client) if tiktok.access_token else None
            plan = plan_from_warehouse(warehouse, tiktok, options, read)
            if not plan.refused and not tiktok.access_token:
                raise ConfigError(
                    "no TikTok access token: run `tiktok-sync auth`, or set TIKTOK_ACCESS_TOKEN"
                )
            return run(
                plan,
                client,
                warehouse,
                run_id=run_id,
                progress=progress,
                processing_wait=processing_wait,
                deadline=deadline,
                recreate_missing=recreate_missing,
                max_in_flight=max_in_flight,
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
    max_in_flight: int | None = None,
) -> RunResult:
    """Apply `plan` (built on this `warehouse`); one run-history row per audience.

    `deadline` (a `clock()` value, which must be time.monotonic's for the client to honour it
    too) ends the run early: see `sync_audiences`' max_duration. `max_in_flight`: mapping
    requests sent side by side, by default as many as the client's pace keeps busy for a
    round trip of `ROUND_TRIP` (`default_max_in_flight`); the client's rate limiter paces them.
    """
    in_flight = max_in_flight or default_max_in_flight(client.requests_per_second)
    if in_flight < 1:
        raise ConfigError(f"--max-in-flight must be 1 or more, got {in_flight}")
    warehouse.begin_run(run_id)
    if plan.refused:
        refusals = refused(plan)
        warehouse.append_run_history([history_row(run_id, r) for r in refusals])
        return RunResult(run_id, False, refusals, plan.orphans, True, list(plan.notes))
    previous_deadline = client.deadline
    client.deadline = deadline
    try:
        with ThreadPoolExecutor(in_flight, thread_name_prefix="tiktok-sender") as senders:
            ctx = Context(
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
                senders=senders,
                max_in_flight=in_flight,
            )
            return _run(plan, ctx)
    finally:
        client.deadline = previous_deadline


@dataclass
class _HeadStart:
    """A new audience begun while the last requests of the streaming audience before it are in
    flight (`sync_segment(then=...)`): its create, with its freeze meanwhile (a customer-file
    audience: its whole create, which carries the members). The quota would otherwise idle
    through both. What failed is raised in the audience's own turn, where it is handled as if
    it had happened there."""

    ap: AudiencePlan
    result: AudienceResult
    audience_id: str | None = None
    created_now: bool = False
    early: EarlyFreeze | None = None
    failure: Exception | None = None


def _begin(ctx: Context, ap: AudiencePlan) -> _HeadStart:
    head = _HeadStart(ap, AudienceResult(plan=ap, audience_id=None, started_at=utc_now()))
    ctx.progress.audience_started(ap)
    try:
        head.audience_id, head.created_now, head.early = _create_new(ctx, ap, head.result)
    except Exception as error:  # raised in the audience's turn (_sync_audience)
        head.failure = error
    return head


def _create_new(
    ctx: Context, ap: AudiencePlan, result: AudienceResult
) -> tuple[str | None, bool, EarlyFreeze | None]:
    """create_once for an audience planned without an id, a streaming one's changes frozen
    while TikTok creates it: its id, whether the create carried its members, the freeze."""
    result.tiktok_name = ap.audience_name  # unless an earlier create is adopted
    early = EarlyFreeze(ctx, ap) if ap.api == "streaming" else None
    audience_id, created_now = create_once(ctx, ap, result, meanwhile=early)
    return audience_id, created_now, early


def _can_begin_early(ctx: Context, ap: AudiencePlan) -> bool:
    """Whether `ap` may be begun while the audience before it finishes: a new audience (nothing
    of it at TikTok to look up first) that the run would go on to."""
    return ap.audience_id is None and not ap.blocked and not out_of_time(ctx)


def _run(plan: Plan, ctx: Context) -> RunResult:
    warehouse, run_id = ctx.warehouse, ctx.run_id
    results: list[AudienceResult] = []
    stopped: AudienceResult | None = None
    notes = list(plan.notes)
    if ctx.recreate_missing:
        ctx.gone = gone_at_tiktok(ctx, plan, notes)
    ahead: _HeadStart | None = None  # the next audience, begun early
    for index, ap in enumerate(plan.audiences):
        head, ahead = ahead, None  # only ever begun for the audience after the one before
        # Begun early, it is finished whatever happened to the one before: it may hold a
        # create that must be recorded.
        if stopped is not None and head is None:
            results.append(not_attempted(ap, stopped))
            continue
        if out_of_time(ctx) and head is None:
            results.append(not_attempted_in_time(ap))
            continue
        if ap.blocked:
            results.append(blocked(ap))
            warehouse.append_run_history([history_row(run_id, results[-1])])
            continue
        following = plan.audiences[index + 1] if index + 1 < len(plan.audiences) else None

        # Called while this audience's last requests are in flight (`stopped` cannot change
        # before it returns).
        def begin_next(
            following: AudiencePlan | None = following, go_on: bool = stopped is None
        ) -> None:
            nonlocal ahead
            if go_on and following is not None and _can_begin_early(ctx, following):
                ahead = _begin(ctx, following)

        result = _apply_audience(ctx, ap, head, begin_next)
        results.append(result)
        if result.stops_run:
            stopped = result
    if out_of_time(ctx) and any(a.adds_pending or a.removes_pending for a in results):
        notes.append(
            "the run stopped at --max-duration; what it did not send stays pending and goes "
            "out on the next run"
        )
    return RunResult(run_id, False, results, plan.orphans, False, notes)


def _apply_audience(
    ctx: Context,
    ap: AudiencePlan,
    head: _HeadStart | None = None,
    begin_next: Callable[[], None] | None = None,
) -> AudienceResult:
    if head is not None:
        result = head.result
    else:
        result = AudienceResult(plan=ap, audience_id=ap.audience_id, started_at=utc_now())
        ctx.progress.audience_started(ap)
    try:
        try:
            if ap.audience_id in ctx.gone:
                _recreate(ctx, ap, result, None)
            else:
                _sync_audience(ctx, ap, result, head, begin_next)
        except (RequestError, FatalError) as error:
            # Refused for good: was the audience deleted at TikTok (in Ads Manager, say)?
            if (
                ap.audience_id is None
                or ap.audience_id in ctx.gone
                or not deleted_at_tiktok(ctx, ap.advertiser_id, ap.audience_id)
            ):
                raise
            _recreate(ctx, ap, result, error.code)
    except OutOfTime:
        result.error = ErrorInfo(
            None, "stopped at --max-duration; the rest of its changes stay pending", None
        )
    except ChangedSincePlan as changed:
        result.error = ErrorInfo(None, str(changed), None)
        result.needs_action = True
    except TikTokError as error:
        result.error = ErrorInfo.of(error)
        if out_of_time(ctx):
            result.error = ErrorInfo(
                error.code, f"stopped at --max-duration during a request: {error}", error.request_id
            )
        result.stops_run = isinstance(error, AuthError)
        logger.info("%s: stopped: %s", ap.audience_key, error)
    result.adds_pending, result.removes_pending = _pending(ctx, ap, result)
    result.finished_at = utc_now()
    result.settle()
    ctx.warehouse.append_run_history([history_row(ctx.run_id, result)])
    ctx.progress.audience_finished(result)
    return result


def _pending(ctx: Context, ap: AudiencePlan, result: AudienceResult) -> tuple[int, int]:
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


def _sync_audience(
    ctx: Context,
    ap: AudiencePlan,
    result: AudienceResult,
    head: _HeadStart | None = None,
    begin_next: Callable[[], None] | None = None,
) -> None:
    audience_id, created_now, early = ap.audience_id, False, None
    if head is not None:  # begun while the audience before it finished (_begin)
        if head.failure is not None:
            raise head.failure
        audience_id, created_now, early = head.audience_id, head.created_now, head.early
    elif audience_id is None:
        audience_id, created_now, early = _create_new(ctx, ap, result)
    else:
        result.tiktok_name = ap.tiktok_name
    if audience_id is not None:
        rename(ctx, ap, audience_id, result)
        if ap.api == "streaming":
            sync_segment(ctx, ap, audience_id, result, early, then=begin_next)
        elif not created_now:  # a customer-file create already carried every member
            sync_customer_file(ctx, ap, audience_id, result)


def _recreate(ctx: Context, ap: AudiencePlan, result: AudienceResult, code: int | None) -> None:
    """Create again, with every desired member, an audience TikTok no longer has; or say why
    not in `result`."""
    assert ap.audience_id is not None
    fresh = recreatable(ctx, ap, result, code)
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
