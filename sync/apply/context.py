"""What every part of a run shares: its context, the deadline, and recording a batch.

The batch is the retry unit: one `/segment/mapping/` request, or one customer file and the
update that applies it. A batch is recorded only after TikTok answered code 0; a partial success
(20001) keeps it unconfirmed (`record_answers` says why), and on any other answer that batch and
the rest of the audience stay pending.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field

from sync.apply.results import AudienceResult, ErrorInfo, Progress
from sync.plan import AudiencePlan, PlanOptions
from sync.tiktok import ApiResponse, TikTokClient
from sync.warehouse import Batch, Freeze, Warehouse

DEFAULT_PROCESSING_WAIT = 120.0  # seconds to wait out a processing lock or a new segment per batch
FIRST_POLL = 2.0
MAX_POLL = 15.0
# Mapping requests in flight at once, unless --max-in-flight says otherwise: by Little's law,
# requests/s times the round trip, twice over, since the sending refills its window when half of
# them are answered. Enough for a round trip of ROUND_TRIP seconds at the pace allowed (TikTok
# answers a 10,000-row mapping request in a few hundred milliseconds), so the quota, not the
# latency, bounds the run; at most MAX_DEFAULT_IN_FLIGHT, since each request in flight holds its
# batch (~1.2 MB of JSON) in memory.
ROUND_TRIP = 1.0
MAX_DEFAULT_IN_FLIGHT = 32
UNPACED_IN_FLIGHT = 10  # pacing off: no quota to derive it from


def default_max_in_flight(requests_per_second: float | None) -> int:
    if not requests_per_second:
        return UNPACED_IN_FLIGHT
    return max(1, min(MAX_DEFAULT_IN_FLIGHT, math.ceil(2 * requests_per_second * ROUND_TRIP)))


@dataclass
class Context:
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
    # Mapping requests go out on these threads, at most `max_in_flight` at once; they only send
    # (warehouse connections are not thread-safe): every warehouse write stays on the run's thread.
    senders: Executor | None = None
    max_in_flight: int = 1


class OutOfTime(Exception):
    """The run reached --max-duration: nothing new starts; what is left stays pending."""


class ChangedSincePlan(Exception):
    """The changes copied for the audience remove more than the plan's guard allowed."""


def check_time(ctx: Context) -> None:
    if ctx.deadline is not None and ctx.clock() >= ctx.deadline:
        raise OutOfTime


def out_of_time(ctx: Context) -> bool:
    return ctx.deadline is not None and ctx.clock() >= ctx.deadline


def nothing_planned(ap: AudiencePlan) -> bool:
    """The plan counted no change for the audience: copying its diff into the ledger would
    compute the diff once more to copy nothing (on Postgres the costliest statement of a run
    with nothing to send). A change dbt made since the plan goes out with the next run."""
    return not ap.full_refresh and ap.adds_total == 0 and ap.removes_total == 0


def check_guard_again(ctx: Context, ap: AudiencePlan, changes: Freeze) -> None:
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
    raise ChangedSincePlan(
        f"refused: {ap.audience_key} changed since the plan (a dbt build during the run?): it "
        f"would now remove {removes:,} of the {held:,} members TikTok may hold, more than "
        f"--max-removal-share {ctx.options.max_removal_share:.0%}; nothing was sent for it. "
        "Run tiktok-sync plan again, then run"
    )


@dataclass(frozen=True)
class Answer:
    """TikTok's answer to one batch, and what the batch changes."""

    batch: Batch
    response: ApiResponse
    adds: int = 0
    removes: int = 0


def record_acknowledged(
    ctx: Context,
    batch: Batch,
    result: AudienceResult,
    response: ApiResponse,
    adds: int = 0,
    removes: int = 0,
) -> bool:
    """Record the batch TikTok answered, unless the answer was a partial success; say which."""
    return record_answers(ctx, result, [Answer(batch, response, adds, removes)])


def record_answers(ctx: Context, result: AudienceResult, answers: Sequence[Answer]) -> bool:
    """Record the batches TikTok answered, in one statement, but none whose answer was a
    partial success; say whether all were recorded.

    Code 20001 means TikTok applied only part of the request (docs/tiktok-api.md §1, §5.2), and
    neither TikTok's documentation nor any connector shows an answer that says which identifiers
    failed (docs/tiktok-api.md §8 question 11; `data` and `message` are free-form). So a partial
    answer is not an acknowledgement: the batch keeps only its `sent` event, stays unconfirmed, and
    the diff sends it again on the next run (adds and removes are set operations, so what TikTok did
    apply is unchanged). Recording it would claim members TikTok may not hold.
    """
    whole = [answer for answer in answers if not answer.response.partial]
    for answer in answers:
        if answer.response.partial:
            response = answer.response
            result.error = ErrorInfo(
                response.code,
                f"TikTok applied only part of a batch of {answer.batch.identifier_count:,} and "
                f"did not say which identifiers failed (code {response.code}: "
                f"{response.message}); the whole batch stays unconfirmed and goes out again on "
                "the next run",
                response.request_id,
            )
    ctx.warehouse.batches_acknowledged([(a.batch, a.response.request_id) for a in whole])
    for answer in whole:
        result.adds_sent += answer.adds
        result.removes_sent += answer.removes
        ctx.progress.sent(result.plan.audience_key, answer.adds + answer.removes)
    return len(whole) == len(answers)
