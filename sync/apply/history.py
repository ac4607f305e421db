"""The run's bookkeeping: its id and one run-history row per audience, redacted."""

from __future__ import annotations

import secrets

from sync.apply.results import AudienceResult
from sync.tiktok.redact import redact
from sync.warehouse import HistoryRow, utc_now


def new_run_id() -> str:
    return f"{utc_now():%Y%m%dT%H%M%SZ}-{secrets.token_hex(4)}"


def history_row(run_id: str, result: AudienceResult) -> HistoryRow:
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
