"""Customer-file audiences: files uploaded, then one update (APPEND, REMOVE, REPLACE) names them.

TikTok locks a customer-file audience while it processes the last change (docs/tiktok-api.md §3.4,
§7): an update waits that lock out for a while, and a rename too.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, wait
from contextlib import closing

import polars as pl

from sync.apply.context import (
    FIRST_POLL,
    MAX_POLL,
    Context,
    check_guard_again,
    check_time,
    nothing_planned,
    record_acknowledged,
)
from sync.apply.results import AudienceResult
from sync.plan import AudiencePlan
from sync.tiktok import ApiResponse, AudienceBusyError
from sync.tiktok.checks import MAX_FILE_BYTES, MAX_FILE_PATHS
from sync.tiktok.models import hash_length
from sync.warehouse import Freeze

# Files of a create or a REPLACE hold this fraction of the 50 MB a file may, for memory.
MEMBER_FILE_FRACTION = 4
# Files of a create or a REPLACE uploaded at once: the request that names them comes after them
# all, so each upload is independent, and the next file is read and checked while the ones
# before it travel. Each holds its file (~12.5 MB and its hashes at most) until answered, so
# few; never more than --max-in-flight.
UPLOADS_IN_FLIGHT = 2

# --- customer file -------------------------------------------------------------------------------


def ids_per_file(id_type: str) -> int:
    # Header-less, one hash per line: each line is the hash and "\n" (docs/tiktok-api.md §0,
    # "Customer file": at most 50 MB per file).
    return MAX_FILE_BYTES // (hash_length(id_type) + 1)


def ids_per_member_file(id_type: str, members: int) -> int:
    """Files for a create or a REPLACE: a quarter of the largest, unless that would take over
    500 files. All of them go in one request, so smaller files cost uploads, not processing
    locks; and the sync holds one file and its batch at a time (at 10M the run's peak
    fell from 444 to 422 MB).
    """
    largest = ids_per_file(id_type)
    return min(largest, max(largest // MEMBER_FILE_FRACTION, -(-members // MAX_FILE_PATHS)))


def _upload(ctx: Context, ap: AudiencePlan, id_type: str, hashes: pl.Series) -> str:
    return ctx.client.upload_hashes(ap.advertiser_id, hashes, id_type, f"{ap.audience_key}.csv")


def upload_members(ctx: Context, ap: AudiencePlan, members: Freeze) -> tuple[list[str], int]:
    """Upload the frozen members (the adds of a create or a REPLACE) as files; their paths
    (for the request that names them) and how many identifiers they hold."""
    id_type = ap.id_types[0]
    # At most: the acknowledged members kept by an add_only REPLACE may all be outside the SQL.
    most = ap.desired.get(id_type, 0) + (ap.acknowledged_size if ap.mode == "add_only" else 0)
    assert ctx.senders is not None  # the run's sending threads
    paths, count = [], 0
    in_flight: deque[Future[str]] = deque()
    room = max(1, min(UPLOADS_IN_FLIGHT, ctx.max_in_flight))
    chunks = ctx.warehouse.frozen(members, ids_per_member_file(id_type, most), action="add")
    try:
        with closing(chunks) as batches:
            for chunk in batches:
                check_time(ctx)
                if len(in_flight) == room:  # the oldest answered first; a failure ends it here
                    paths.append(in_flight.popleft().result())
                in_flight.append(ctx.senders.submit(_upload, ctx, ap, id_type, chunk.hashes))
                count += len(chunk.hashes)
        paths += [upload.result() for upload in in_flight]
    finally:
        wait(in_flight)  # none still uploading once the audience ends, also on failure
    # Not counted as sent yet: an upload is not a change until TikTok takes the create or
    # REPLACE that names it (a failed one must not show a full bar).
    return paths, count


def sync_customer_file(
    ctx: Context, ap: AudiencePlan, audience_id: str, result: AudienceResult
) -> None:
    if not ap.id_types:
        return
    key, id_type = ap.audience_key, ap.id_types[0]
    if ap.full_refresh:
        # REPLACE with the whole desired set (docs/tiktok-api.md §3.4); an add_only audience keeps
        # what was acknowledged, since it never removes, except what is suppressed: that is the
        # diff's removes of an add_only audience, recorded as removes like a mirror audience's.
        add_only = ap.mode == "add_only"
        members = ctx.warehouse.freeze_members(
            key,
            id_type,
            keep_acknowledged_of=audience_id if add_only else None,
            removes_from_diff=True,
        )
        paths, count = upload_members(ctx, ap, members)
        if not paths:
            result.notes.append("full refresh skipped: no members to replace the audience with")
            return
        check_time(ctx)
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
        record_acknowledged(ctx, batch, result, response, adds=ap.adds_total, removes=removes)
        return
    if nothing_planned(ap):
        return
    per_file = ids_per_file(id_type)
    changes = ctx.warehouse.freeze_changes(key, per_file)
    check_guard_again(ctx, ap, changes)
    with closing(ctx.warehouse.frozen(changes, per_file)) as batches:
        for chunk in batches:
            check_time(ctx)
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
                record_acknowledged(ctx, batch, result, response, adds=len(chunk.hashes))
            else:
                record_acknowledged(ctx, batch, result, response, removes=len(chunk.hashes))


def _update(
    ctx: Context, ap: AudiencePlan, audience_id: str, paths: list[str], action: str
) -> ApiResponse:
    """One update, waiting out TikTok's processing lock (40002 "processing") for a while.

    TikTok locks a customer-file audience while it processes the last change (docs/tiktok-api.md
    §3.4, §7); re-sending the update is the poll. After `processing_wait` seconds the change stays
    pending for the next run.
    """
    return waiting_out_processing(
        ctx,
        ap,
        lambda: ctx.client.update_custom_audience(ap.advertiser_id, audience_id, paths, action),
    )


def waiting_out_processing(
    ctx: Context, ap: AudiencePlan, update: Callable[[], ApiResponse]
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


def rename(ctx: Context, ap: AudiencePlan, audience_id: str, result: AudienceResult) -> None:
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
    check_time(ctx)
    try:
        waiting_out_processing(
            ctx, ap, lambda: ctx.client.rename_custom_audience(ap.advertiser_id, audience_id, new)
        )
    except AudienceBusyError:
        result.notes.append(
            f"not renamed to {new!r} yet: TikTok is processing it; the next run does"
        )
        return
    ctx.warehouse.register_renamed(ap.audience_key, new)
    result.notes.append(f"renamed TikTok audience {audience_id} from {old!r} to {new!r}")
