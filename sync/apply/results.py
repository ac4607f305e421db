"""What a run did to each audience, and what it reports for those it did not attempt.

Per-row results: every identifier ends applied (recorded in
`tiktok_sync_acknowledged_members`), rejected (never sent; counted from
`tiktok_rejected_identifiers`) or pending (still in `tiktok_audience_diff`, sent by the next run).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from sync.plan import AudiencePlan, Plan
from sync.tiktok import TikTokError
from sync.warehouse import Orphan, utc_now

logger = logging.getLogger(__name__)

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
        return RunResult(run_id, True, refused(plan), plan.orphans, True, list(plan.notes))
    now = utc_now()
    audiences = [
        blocked(ap)
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


def blocked(ap: AudiencePlan) -> AudienceResult:
    """An audience whose settings TikTok cannot follow (sync/setting_changes.py): nothing is
    sent for it, a person must act (exit 2), the other audiences sync."""
    return _unsent(ap, f"not synced: {'; '.join(ap.blocked)}", needs_action=True)


def refused(plan: Plan) -> list[AudienceResult]:
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


def not_attempted_in_time(ap: AudiencePlan) -> AudienceResult:
    error = None
    if ap.adds_total or ap.removes_total or ap.audience_id is None:
        error = ErrorInfo(
            None, "not attempted: the run reached --max-duration; its changes stay pending", None
        )
    return untouched(ap, error)


def not_attempted(ap: AudiencePlan, stopped: AudienceResult) -> AudienceResult:
    error = stopped.error
    return untouched(
        ap,
        ErrorInfo(
            error.code if error else None,
            "not attempted: TikTok refused the authorisation while syncing "
            f"{stopped.plan.audience_key}; re-authorise with `tiktok-sync auth`",
            error.request_id if error else None,
        ),
    )


def untouched(ap: AudiencePlan, error: ErrorInfo | None) -> AudienceResult:
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
