"""Streaming audiences: the segment API's mapping requests, adds then removes."""

from __future__ import annotations

from contextlib import closing
from datetime import datetime, timedelta

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
from sync.tiktok import ApiResponse, AudienceBusyError, TikTokError
from sync.warehouse import utc_now

# TikTok answers HTTP 400 to mappings on a segment audience until it is ready, "usually 1-2
# minutes after creation" (reference §4.1). Within this long of its create, an HTTP 400 is taken
# for that and waited out; later it is what it says (a request TikTok refused).
NEW_SEGMENT_WINDOW = timedelta(minutes=10)


def sync_segment(ctx: Context, ap: AudiencePlan, audience_id: str, result: AudienceResult) -> None:
    if nothing_planned(ap):
        return
    key, limit = ap.audience_key, ctx.client.mapping_batch_limit
    registered = ctx.warehouse.registry().get(key)
    created_at = (
        registered.created_at
        if registered is not None and registered.audience_id == audience_id
        else None  # configured in the model: not created by this project
    )
    changes = ctx.warehouse.freeze_changes(key, limit, adds_from_members=ap.full_refresh)
    check_guard_again(ctx, ap, changes)
    # closing(): a failed batch ends the loop, and the reader must not outlive it.
    with closing(ctx.warehouse.frozen(changes, limit)) as batches:
        for chunk in batches:
            check_time(ctx)
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
                record_acknowledged(ctx, batch, result, response, adds=len(chunk.hashes))
            else:
                record_acknowledged(ctx, batch, result, response, removes=len(chunk.hashes))


def _map(
    ctx: Context,
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
