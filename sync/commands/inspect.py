"""`check`, `audiences` and `advertisers`: look at the setup, TikTok and the warehouse."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

import typer

from sync.commands.common import command, echo, echo_json, reflowed
from sync.commands.options import (
    AdvertiserId,
    ApiBase,
    CredentialsFile,
    Debug,
    Json,
    ProfilesDir,
    ProjectDir,
    Target,
)
from sync.credentials import authorized_advertisers
from sync.inspect import FAIL, WARN, AudiencesReport, audience_statuses, run_checks
from sync.settings import load_tiktok, load_warehouse

AppId = Annotated[
    str | None,
    typer.Option(
        "--app-id",
        help="Your TikTok app's id (env TIKTOK_APP_ID, else the credentials file). The app "
        "secret is read from TIKTOK_APP_SECRET or the credentials file, never from an option.",
    ),
]
CheckMaxDuration = Annotated[
    float,
    typer.Option(
        "--max-duration",
        min=0.1,
        help="Stop talking to TikTok after this many seconds (every request and retry, a "
        "server that answers slowly included); a check TikTok did not answer in time fails.",
    ),
]
NoSnapshot = Annotated[
    bool,
    typer.Option(
        "--no-snapshot",
        help="Do not append TikTok's sizes to tiktok_sync_audience_size_history.",
    ),
]


@reflowed
def check(
    project_dir: ProjectDir = ".",
    profiles_dir: ProfilesDir = None,
    target: Target = None,
    advertiser_id: AdvertiserId = None,
    api_base: ApiBase = None,
    credentials_file: CredentialsFile = None,
    max_duration: CheckMaxDuration = 60.0,
    json_output: Json = False,
    debug: Debug = False,
) -> None:
    """Check that `tiktok-sync run` can work, and say what to fix first.

    One line per check, OK, WARN or FAIL with the fix: the warehouse file opens (and is not
    locked by another process); dbt built the audience views and sync tables; the access
    token is set and TikTok accepts it; the token can manage each advertiser the audiences use;
    each recorded or configured TikTok audience id exists under its advertiser. Audiences under
    TikTok's 1,000 minimum are warned about. Only reads from TikTok.

    The token is verified with one dmp/custom_audience/list/ request (page size 1) per
    advertiser: it needs no app secret and proves the token, the advertiser access and the
    read scope at once.

    Exit codes: 0 every check passed (warnings allowed), 2 a check failed.

    Environment: TIKTOK_ACCESS_TOKEN, TIKTOK_ADVERTISER_ID, TIKTOK_API_BASE,
    TIKTOK_CREDENTIALS_FILE, DBT_PROJECT_DIR, DBT_PROFILES_DIR, DBT_TARGET, DBT_PROFILE.
    """
    with command(debug, json_output):
        report = run_checks(
            project_dir=project_dir,
            profiles_dir=profiles_dir,
            target=target,
            api_base=api_base,
            advertiser_id=advertiser_id,
            credentials_file=credentials_file,
            max_duration=max_duration,
        )
        if json_output:
            echo_json(report.to_json())
        else:
            for item in report.checks:
                line = f"{item.status:<4}  {item.name}: {item.detail}"
                if item.fix:
                    line += f"; fix: {item.fix}"
                echo(line)
            failed = sum(1 for c in report.checks if c.status == FAIL)
            warned = sum(1 for c in report.checks if c.status == WARN)
            if failed:
                echo(f"{failed} of {len(report.checks)} checks failed.")
            else:
                echo(f"All checks passed ({warned} warnings).")
        if not report.ok:
            raise typer.Exit(2)


@reflowed
def audiences(
    project_dir: ProjectDir = ".",
    profiles_dir: ProfilesDir = None,
    target: Target = None,
    advertiser_id: AdvertiserId = None,
    api_base: ApiBase = None,
    credentials_file: CredentialsFile = None,
    no_snapshot: NoSnapshot = False,
    json_output: Json = False,
    debug: Debug = False,
) -> None:
    """List the project's audiences with TikTok's view of each, and record their sizes.

    Per audience: its TikTok id and API, its state at TikTok (ready, processing, expiring, not
    usable, not found, not created), TikTok's matched size (cover_num), its members, rejected
    values and pending changes in the warehouse, and the latest sync run. Each audience TikTok
    knows gets a row in tiktok_sync_audience_size_history (snapshot_at in UTC), so sizes can be
    charted in the warehouse; --no-snapshot skips that. Only reads from TikTok.

    Exit codes: 0 listed, 1 TikTok could not be reached (try again), 2 configuration,
    authorisation or warehouse problem (`tiktok-sync check` says which).

    Environment: TIKTOK_ACCESS_TOKEN, TIKTOK_ADVERTISER_ID, TIKTOK_API_BASE,
    TIKTOK_CREDENTIALS_FILE, DBT_PROJECT_DIR, DBT_PROFILES_DIR, DBT_TARGET, DBT_PROFILE.
    """
    with command(debug, json_output):
        warehouse = load_warehouse(project_dir, profiles_dir, target)
        settings = load_tiktok(
            api_base=api_base, advertiser_id=advertiser_id, credentials_file=credentials_file
        )
        report = audience_statuses(warehouse, settings, snapshot=not no_snapshot)
        if json_output:
            echo_json(report.to_json())
        else:
            _print_audiences(report)


def _print_audiences(report: AudiencesReport) -> None:
    header = ("audience", "api", "tiktok id", "status", "matched", "members", "pending", "last run")
    rows = [header]
    for status in report.audiences:
        a, d = status.audience, status.details
        matched = "" if d is None or d.cover_num is None else f"{d.cover_num:,}"
        last_run = ""
        if a.last_run_status:
            finished = a.last_run_finished_at
            last_run = a.last_run_status + (f" {finished:%Y-%m-%d %H:%M}" if finished else "")
        rows.append(
            (
                a.audience_key,
                a.api,
                a.audience_id or "",
                status.status,
                matched,
                f"{a.members:,}",
                f"+{a.pending_adds:,} -{a.pending_removes:,}",
                last_run,
            )
        )
    _print_table(rows)
    if report.snapshot_at is not None:
        echo(
            f"Recorded {report.snapshot_rows} size(s) in tiktok_sync_audience_size_history "
            f"(snapshot_at {report.snapshot_at:%Y-%m-%d %H:%M:%S} UTC)."
        )


@reflowed
def advertisers(
    app_id: AppId = None,
    advertiser_id: AdvertiserId = None,
    api_base: ApiBase = None,
    credentials_file: CredentialsFile = None,
    json_output: Json = False,
    debug: Debug = False,
) -> None:
    """List the advertisers the access token can manage (TikTok's oauth2/advertiser/get/).

    TikTok answers this only with the app's id and secret. The secret comes from
    TIKTOK_APP_SECRET or the credentials file, never from an option, which would keep it in
    shell history and show it in `ps`. The configured advertiser is marked; if the token does
    not reach it, a warning says so.

    Exit codes: 0 listed, 1 TikTok could not be reached (try again), 2 missing or rejected
    token, app id or secret.

    Environment: TIKTOK_ACCESS_TOKEN, TIKTOK_APP_ID, TIKTOK_APP_SECRET, TIKTOK_ADVERTISER_ID,
    TIKTOK_API_BASE, TIKTOK_CREDENTIALS_FILE.
    """
    with command(debug, json_output):
        settings = load_tiktok(
            api_base=api_base, advertiser_id=advertiser_id, credentials_file=credentials_file
        )
        found = authorized_advertisers(settings, app_id)
        configured = settings.advertiser_id
        if json_output:
            echo_json(
                {
                    "advertisers": [
                        {
                            "advertiser_id": a.advertiser_id,
                            "advertiser_name": a.advertiser_name,
                            "is_configured": a.advertiser_id == configured,
                        }
                        for a in found
                    ]
                }
            )
        else:
            rows = [("advertiser_id", "name", "")]
            rows += [
                (
                    a.advertiser_id,
                    a.advertiser_name or "",
                    "(configured)" if a.advertiser_id == configured else "",
                )
                for a in found
            ]
            _print_table(rows)
        if configured and all(a.advertiser_id != configured for a in found):
            echo(
                f"warning: the token cannot manage the configured advertiser {configured}; "
                "re-authorise with an account that has it, or check Business Center access",
                err=True,
            )


def _print_table(rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        echo("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
