"""How a run or a plan reads: one JSON object, or a table with what needs attention under it.

The JSON shape is a contract for orchestrators and CI (README "--json"; `sync/schemas/run.json`
and `plan.json` hold it exactly): `schema_version`, `run_id`, `status`, `dry_run`, `exit_code`,
`audiences` (each with its counts, `error`, and the `refusals`, `blocked`, `setting_changes`,
`warnings` and `notes` the text lists under it), the run's `notes` and the `orphans`.

For a plan (`dry_run: true`) `*_sent` is what the run would send. Nothing here ever holds a token
or a secret: results carry TikTok's codes, messages (redacted by the client) and request ids only.
Progress goes to stderr: a bar on a terminal, plain lines otherwise, so stdout stays parseable.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import TracebackType
from typing import Any, TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from sync.apply import AudienceResult, RunResult
from sync.plan import AudiencePlan


def to_json(result: RunResult) -> dict[str, Any]:
    return {
        "run_id": result.run_id,
        "status": result.status,
        "dry_run": result.dry_run,
        "exit_code": result.exit_code,
        "audiences": [_audience_json(a) for a in result.audiences],
        "notes": list(result.notes),
        "orphans": [
            {
                "audience_key": o.audience_key,
                "audience_id": o.audience_id,
                "advertiser_id": o.advertiser_id,
                "api": o.api,
                "acknowledged_count": o.acknowledged_count,
            }
            for o in result.orphans
        ],
    }


def _audience_json(result: AudienceResult) -> dict[str, Any]:
    ap = result.plan
    error = result.error
    return {
        "audience_key": ap.audience_key,
        "audience_name": ap.audience_name,
        "api": ap.api,
        "audience_id": result.audience_id,
        "advertiser_id": ap.advertiser_id,
        "adds_sent": result.adds_sent,
        "removes_sent": result.removes_sent,
        "adds_pending": result.adds_pending,
        "removes_pending": result.removes_pending,
        "rejected_identifiers": ap.rejected_identifiers,
        "suppressed_identifiers": ap.suppressed_identifiers,
        "status": result.status,
        "error": None
        if error is None
        else {"code": error.code, "message": error.message, "request_id": error.request_id},
        "refusals": list(ap.refusals),
        "blocked": list(ap.blocked),
        "setting_changes": list(ap.changes),
        "warnings": list(ap.warnings),
        "notes": list(result.notes),
    }


# --- text --------------------------------------------------------------------------------------


def render_text(result: RunResult) -> str:
    lines = [_headline(result)]
    advertisers = sorted({a.plan.advertiser_id for a in result.audiences})
    if len(advertisers) == 1:
        lines.append(f"Advertiser {advertisers[0]}.")
    if result.audiences:
        lines += ["", *_table(result)]
    for title, items in _sections(result):
        if items:
            lines += ["", title, *(f"  {item}" for item in items)]
    pending = sum(a.adds_pending + a.removes_pending for a in result.audiences)
    if pending and not result.dry_run:
        lines += [
            "",
            f"{pending:,} identifiers are pending: they stay in tiktok_audience_diff and go out "
            "on the next run.",
        ]
    return "\n".join(lines)


def _headline(result: RunResult) -> str:
    if result.dry_run:
        verdict = {
            "refused": "the run would be refused; nothing would be sent",
            "success": "nothing is sent by a plan",
        }.get(result.status, result.status)
        return f"Plan {result.run_id}: {verdict}."
    verdict = {
        "success": "everything applied",
        "partial": "some changes are pending",
        "failed": "nothing applied",
        "refused": "refused, nothing sent",
    }[result.status]
    return f"Run {result.run_id}: {result.status} ({verdict})."


def _table(result: RunResult) -> list[str]:
    dry = result.dry_run
    # The advertiser gets a column only when audiences go to several.
    several = len({a.plan.advertiser_id for a in result.audiences}) > 1
    header = [
        "audience",
        "api",
        *(["advertiser"] if several else []),
        "audience id",
        "to add" if dry else "added",
        "to remove" if dry else "removed",
        "pending",
        "rejected",
        "suppressed",
        "status",
    ]
    rows = [header]
    for a in result.audiences:
        ap = a.plan
        audience_id = a.audience_id or ("(new)" if dry else "-")
        rows.append(
            [
                ap.audience_key,
                ap.api,
                *([ap.advertiser_id] if several else []),
                audience_id,
                f"{a.adds_sent:,}",
                f"{a.removes_sent:,}",
                f"+{a.adds_pending:,}/-{a.removes_pending:,}",
                f"{ap.rejected_identifiers:,}",
                f"{ap.suppressed_identifiers:,}",
                a.status,
            ]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    numeric = set(range(len(header) - 6, len(header) - 1))  # the five counts
    return [
        "  ".join(
            cell.rjust(width) if i in numeric else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in rows
    ]


def _sections(result: RunResult) -> list[tuple[str, list[str]]]:
    refused = [
        f"{a.plan.audience_key}: {reason}" for a in result.audiences for reason in a.plan.refusals
    ]
    if refused:
        refused.append(
            "Nothing was sent. Fix the cause, pass the override named above, or leave the "
            "audience out with --audience."
        )
    # Settings TikTok cannot follow stop one audience, not the run: the others are sent.
    blocked = [f"{a.plan.audience_key}: {b}" for a in result.audiences for b in a.plan.blocked]
    changes = [f"{a.plan.audience_key}: {c}" for a in result.audiences for c in a.plan.changes]
    warnings = [f"{a.plan.audience_key}: {w}" for a in result.audiences for w in a.plan.warnings]
    errors = [
        f"{a.plan.audience_key}: {a.error.message}"
        for a in result.audiences
        if a.error is not None and a.status != "refused"
    ]
    notes = [
        *result.notes,
        *(f"{a.plan.audience_key}: {n}" for a in result.audiences for n in a.notes),
    ]
    orphans = [
        f"{o.audience_key}: TikTok audience {o.audience_id or '(none)'} "
        f"({o.api or 'unknown api'}), "
        f"{o.acknowledged_count:,} acknowledged members. Its model is gone, so nothing is sent; "
        "delete the audience in TikTok, or restore the model"
        for o in result.orphans
    ]
    return [
        ("Refused:", refused),
        ("Not synced, its settings need a decision (exit 2):", blocked),
        ("Errors:", errors),
        ("Settings changed:", changes),
        ("Warnings:", warnings),
        ("Notes:", notes),
        ("Orphaned audiences (never emptied automatically):", orphans),
    ]


# --- progress ----------------------------------------------------------------------------------


class LogProgress:
    """Plain lines on stderr: when an audience starts, what it waits for, how it ended."""

    def __init__(self, echo: Callable[[str], None] | None = None) -> None:
        self._echo = echo or (lambda line: print(line, file=sys.stderr, flush=True))

    def __enter__(self) -> LogProgress:
        return self

    def __exit__(self, *exc_info: object) -> None:
        pass

    def audience_started(self, plan: AudiencePlan) -> None:
        if not (plan.adds_total or plan.removes_total or plan.audience_id is None):
            return  # nothing to send: the finished line says so
        where = plan.audience_id or "a new audience"
        self._echo(
            f"{plan.audience_key}: sending {plan.adds_total:,} adds and "
            f"{plan.removes_total:,} removes to {where} ({plan.api})"
        )

    def sent(self, audience_key: str, count: int) -> None:
        pass

    def note(self, audience_key: str, message: str) -> None:
        self._echo(f"{audience_key}: {message}")

    def audience_finished(self, result: AudienceResult) -> None:
        self._echo(
            f"{result.plan.audience_key}: {result.status}: {result.adds_sent:,} added, "
            f"{result.removes_sent:,} removed, "
            f"{result.adds_pending + result.removes_pending:,} pending"
        )


class BarProgress:
    """A progress bar per audience on a terminal (stderr), via rich."""

    def __init__(self, console: Console) -> None:
        self._console = console
        self._bars = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        )
        self._tasks: dict[str, Any] = {}

    def __enter__(self) -> BarProgress:
        self._bars.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._bars.stop()

    def audience_started(self, plan: AudiencePlan) -> None:
        """A bar of the adds and removes TikTok will acknowledge; started again (not added
        to) when the run recreates an audience deleted at TikTok and sends it every member."""
        total = plan.adds_total + plan.removes_total
        task = self._tasks.get(plan.audience_key)
        if task is None:
            self._tasks[plan.audience_key] = self._bars.add_task(plan.audience_key, total=total)
        else:
            self._bars.reset(task, total=total)

    def sent(self, audience_key: str, count: int) -> None:
        task = self._tasks.get(audience_key)
        if task is not None:
            self._bars.advance(task, count)

    def note(self, audience_key: str, message: str) -> None:
        self._bars.console.print(f"{audience_key}: {message}", markup=False, highlight=False)

    def audience_finished(self, result: AudienceResult) -> None:
        task = self._tasks.get(result.plan.audience_key)
        if task is not None:
            self._bars.update(task, description=f"{result.plan.audience_key} ({result.status})")


def make_progress(stream: TextIO | None = None) -> LogProgress | BarProgress:
    """A bar when `stream` (default stderr) is a terminal, plain lines otherwise."""
    stream = stream or sys.stderr
    if stream.isatty():
        return BarProgress(Console(file=stream))
    return LogProgress(lambda line: print(line, file=stream, flush=True))
