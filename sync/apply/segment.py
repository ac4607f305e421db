"""Streaming audiences: the segment API's mapping requests, adds then removes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, wait
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime, timedelta

import polars as pl

from sync.apply.context import (
    FIRST_POLL,
    MAX_POLL,
    Answer,
    Context,
    check_guard_again,
    check_time,
    nothing_planned,
    record_answers,
)
from sync.apply.results import AudienceResult
from sync.plan import AudiencePlan
from sync.tiktok import ApiResponse, AudienceBusyError, TikTokError
from sync.warehouse import Batch, Freeze, FrozenChunk, utc_now

# TikTok answers HTTP 400 to mappings on a segment audience until it is ready, "usually 1-2 minutes
# after creation" (docs/tiktok-api.md §4.1). Within this long of its create, an HTTP 400 is taken
# for that and waited out; later it is what it says (a request TikTok refused).
NEW_SEGMENT_WINDOW = timedelta(minutes=10)


def sync_segment(
    ctx: Context,
    ap: AudiencePlan,
    audience_id: str,
    result: AudienceResult,
    early: EarlyFreeze | None = None,
    then: Callable[[], None] | None = None,
) -> None:
    """Send the audience's frozen changes, up to `ctx.max_in_flight` mapping requests at once.

    Adds before removes: every add is answered before the first remove goes out. A failed
    request stops new ones; those in flight finish and what TikTok acknowledged of them is
    recorded, then the error ends the audience (the rest stays pending). The changes are those
    `early` froze while TikTok created the audience, if it did. `then` runs once every batch is
    handed over and none failed, while the last ones are still in flight (the run begins the
    next audience there); their answers are recorded after it.
    """
    if nothing_planned(ap):
        return
    key, limit = ap.audience_key, ctx.client.mapping_batch_limit
    registered = ctx.warehouse.registry().get(key)
    created_at = (
        registered.created_at
        if registered is not None and registered.audience_id == audience_id
        else None  # configured in the model: not created by this project
    )
    changes = early.take() if early is not None else None
    if changes is None:
        changes = _freeze(ctx, ap)
    check_guard_again(ctx, ap, changes)
    sender = _Sender(ctx, ap, audience_id, created_at, result)
    # closing(): a failed batch ends the loop, and the reader must not outlive it.
    with closing(ctx.warehouse.frozen(changes, limit)) as batches:
        try:
            while window := sender.window(batches):
                check_time(ctx)
                sender.send(changes, window)
                # A new audience's members are copied a part at a time: the next part while
                # the requests just sent keep TikTok busy.
                ctx.warehouse.copy_ahead(changes)
            if then is not None and sender.failure is None:
                then()
        finally:
            sender.answered(0)  # a crash of this loop still records what TikTok acknowledged
    if sender.failure is not None:
        raise sender.failure


def _freeze(ctx: Context, ap: AudiencePlan) -> Freeze:
    # Planned without an id: create_once made it (or adopted an earlier run's create, which
    # sends nothing before recording the id), so no batch was ever sent to it.
    return ctx.warehouse.freeze_changes(
        ap.audience_key,
        ctx.client.mapping_batch_limit,
        adds_from_members=ap.full_refresh,
        new_audience=ap.audience_id is None,
    )


@dataclass
class EarlyFreeze:
    """A new streaming audience's freeze, made while TikTok creates the audience
    (`create_once(meanwhile=...)`): the create carries no members, and the warehouse would
    otherwise sit idle through its round trip, and TikTok's quota through the freeze.

    A failed freeze is raised by `take`, once the create's outcome is recorded: an audience
    TikTok created is never left without its id. A create that fails leaves the freeze's
    changes without a batch: nothing reads them (the ledger's views start from sent batches).
    """

    ctx: Context
    ap: AudiencePlan
    frozen: Freeze | None = None
    failure: Exception | None = None

    def __call__(self) -> None:
        if nothing_planned(self.ap):
            return
        try:
            self.frozen = _freeze(self.ctx, self.ap)
        except Exception as error:  # raised by take(), after the create is recorded
            self.failure = error

    def take(self) -> Freeze | None:
        """The changes frozen during the create; None if there was no create."""
        if self.failure is not None:
            raise self.failure
        return self.frozen


@dataclass
class _Sent:
    batch: Batch
    action: str  # add | remove
    count: int


class _Sender:
    """Mapping requests in flight side by side, and their answers recorded as they come.

    Only HTTP happens on the sending threads. The warehouse is written on the calling thread
    alone (its connections are not thread-safe), in groups so that its statements do not sit
    between requests: once half of the requests in flight are answered, one statement records
    their acknowledgements (in whatever order the answers arrived; each batch keeps the
    batch_seq it was sent with), and one more the `sent` events of the window of batches that
    takes their place, just before that window goes out. The other half keeps TikTok busy
    meanwhile.
    """

    def __init__(
        self,
        ctx: Context,
        ap: AudiencePlan,
        audience_id: str,
        created_at: datetime | None,
        result: AudienceResult,
    ) -> None:
        self.ctx, self.ap, self.audience_id, self.created_at = ctx, ap, audience_id, created_at
        self.result = result
        self.in_flight: dict[Future[ApiResponse], _Sent] = {}
        self.action: str | None = None  # of the last batch taken
        self.held: FrozenChunk | None = None  # taken, for the next window
        self.failure: Exception | None = None  # the first request that failed
        # Refill when at most this many are in flight (0: one at a time, as with 1 in flight).
        self.refill_at = ctx.max_in_flight // 2

    def window(self, chunks: Iterator[FrozenChunk]) -> list[FrozenChunk]:
        """The next batches to send, all of one action, once room was made for them; none
        after a failure or at the end."""
        self.answered(self.refill_at)
        window: list[FrozenChunk] = []
        while self.failure is None and len(window) < self.ctx.max_in_flight - len(self.in_flight):
            chunk, self.held = self.held or next(chunks, None), None
            if chunk is None:
                break
            if chunk.action != self.action and self.action is not None:
                if window:  # this window goes first
                    self.held = chunk
                    break
                self.answered(0)  # adds before removes: every add answered first
            self.action = chunk.action
            window.append(chunk)
        return [] if self.failure is not None else window

    def send(self, changes: Freeze, window: list[FrozenChunk]) -> None:
        ctx, ap = self.ctx, self.ap
        batches = [
            ctx.warehouse.batch(
                changes,
                chunk.batch_no,
                kind="mapping",
                audience_id=self.audience_id,
                advertiser_id=ap.advertiser_id,
                api=ap.api,
                identifier_count=len(chunk.hashes),
            )
            for chunk in window
        ]
        ctx.warehouse.batches_sent(batches)
        assert ctx.senders is not None  # the run's sending threads
        for batch, chunk in zip(batches, window, strict=True):
            action = "add" if chunk.action == "add" else "delete"
            args = (ctx, ap, self.audience_id, self.created_at, action, chunk.id_type, chunk.hashes)
            future = ctx.senders.submit(_map, *args)
            self.in_flight[future] = _Sent(batch, chunk.action, len(chunk.hashes))

    def answered(self, room: int) -> None:
        """Wait until at most `room` requests are in flight; record the answers in one go."""
        answers: list[Answer] = []
        try:
            while len(self.in_flight) > max(room, 0):
                done, _ = wait(self.in_flight, return_when=FIRST_COMPLETED)
                for future in done:
                    answer = self._answer(future, self.in_flight.pop(future))
                    if answer is not None:
                        answers.append(answer)
        finally:  # also when interrupted: what TikTok acknowledged so far is recorded
            if answers:
                record_answers(self.ctx, self.result, answers)

    def _answer(self, future: Future[ApiResponse], sent: _Sent) -> Answer | None:
        try:
            response = future.result()
        except Exception as error:  # the batch stays unconfirmed; the first error ends it
            if self.failure is None:
                self.failure = error
            return None
        if sent.action == "add":
            return Answer(sent.batch, response, adds=sent.count)
        return Answer(sent.batch, response, removes=sent.count)


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
            pause = min(delay, remaining)
            note = f"TikTok is still readying the new audience; retrying in {pause:.0f} s"
            ctx.progress.note(ap.audience_key, note)
            ctx.sleep(pause)
            delay = min(delay * 2, MAX_POLL)
