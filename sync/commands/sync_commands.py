"""`run` and `plan`: push the warehouse's pending changes to TikTok, or show them first.

Each command parses its options, resolves settings, calls one library function
(`sync.apply.sync_audiences`, `sync.plan.plan_sync`) and renders the result (`sync.report`).
"""

from __future__ import annotations

from typing import Annotated

import typer

from sync.apply import DEFAULT_PROCESSING_WAIT, new_run_id, preview, sync_audiences
from sync.commands.common import command, echo, echo_json, reflowed
from sync.commands.options import (
    AdvertiserId,
    ApiBase,
    Audiences,
    CredentialsFile,
    Debug,
    Json,
    MemoryLimit,
    ProfilesDir,
    ProjectDir,
    Target,
)
from sync.memory import return_large_blocks_when_freed
from sync.plan import DEFAULT_MAX_REMOVAL_SHARE, PlanOptions, plan_sync
from sync.report import make_progress, render_text, to_json
from sync.settings import load_tiktok, load_warehouse

AllowMassRemoval = Annotated[
    bool,
    typer.Option(
        "--allow-mass-removal",
        help="Send removals even when they exceed --max-removal-share of an audience.",
    ),
]
MaxRemovalShare = Annotated[
    float,
    typer.Option(
        "--max-removal-share",
        min=0.0,
        max=1.0,
        help="Refuse the run if it would remove more than this share of what TikTok "
        "acknowledged for an audience.",
    ),
]
Force = Annotated[
    bool,
    typer.Option(
        "--force",
        help="Create a customer-file audience from fewer than 1,000 identifiers anyway "
        "(TikTok leaves it at size 0, never editable).",
    ),
]
FullRefresh = Annotated[
    bool,
    typer.Option(
        "--full-refresh",
        help="Re-send every desired member: REPLACE for customer-file audiences, all adds "
        "again for streaming ones. For audiences that drifted in TikTok; rarely needed.",
    ),
]
ProcessingWait = Annotated[
    float,
    typer.Option(
        "--processing-wait",
        min=0.0,
        help="Seconds to wait, per batch, for TikTok to finish processing a customer-file "
        "audience or to ready a segment audience created minutes ago, before leaving its "
        "changes pending.",
    ),
]
RequestsPerSecond = Annotated[
    float,
    typer.Option(
        "--requests-per-second",
        min=0.1,
        help="Pace of requests to TikTok; the Basic tier allows 10 per app. Requests start "
        "evenly spaced, 5% further apart than the pace (105 ms at 10/s), so that uneven delays "
        "on the way do not put more than the pace into any second at TikTok.",
    ),
]
RequestsPerMinute = Annotated[
    int,
    typer.Option(
        "--requests-per-minute",
        min=1,
        help="At most this many requests in any minute; the Basic tier allows 600 per app, and "
        "going over costs a 5-minute pause.",
    ),
]
MaxInFlight = Annotated[
    int | None,
    typer.Option(
        "--max-in-flight",
        min=1,
        help="Mapping requests sent side by side; by default enough to keep "
        "--requests-per-second busy through a 1 s round trip while half of them are replaced "
        "(2 x requests/s x 1 s: 20 at 10/s, at most 32). The pace stays --requests-per-second "
        "and --requests-per-minute either way.",
    ),
]

RecreateMissing = Annotated[
    bool,
    typer.Option(
        "--recreate-missing",
        help="Ask TikTok whether each audience the sync created still exists, and create again, "
        "with all its members, each one it no longer has (deleted in Ads Manager); it gets a new "
        "id. Without it a run notices a deleted audience only when TikTok refuses its changes, "
        "and fails it with exit 2.",
    ),
]
MaxDuration = Annotated[
    float | None,
    typer.Option(
        "--max-duration",
        min=0.1,
        help="Stop after this many seconds: no create, batch, retry or processing wait starts "
        "later, and a request in flight gets at most 1 s more in all (connecting and its whole "
        "answer). What is left stays pending for the next run (exit 1).",
    ),
]

_ENVIRONMENT = (
    "Environment: TIKTOK_ACCESS_TOKEN, TIKTOK_ADVERTISER_ID, TIKTOK_API_BASE, "
    "TIKTOK_CREDENTIALS_FILE, TIKTOK_SYNC_MEMORY_LIMIT, DBT_PROJECT_DIR, DBT_PROFILES_DIR, "
    "DBT_TARGET, DBT_PROFILE."
)


@reflowed
def run(
    project_dir: ProjectDir = ".",
    profiles_dir: ProfilesDir = None,
    target: Target = None,
    advertiser_id: AdvertiserId = None,
    api_base: ApiBase = None,
    credentials_file: CredentialsFile = None,
    audience: Audiences = None,
    allow_mass_removal: AllowMassRemoval = False,
    max_removal_share: MaxRemovalShare = DEFAULT_MAX_REMOVAL_SHARE,
    force: Force = False,
    full_refresh: FullRefresh = False,
    processing_wait: ProcessingWait = DEFAULT_PROCESSING_WAIT,
    requests_per_second: RequestsPerSecond = 10.0,
    requests_per_minute: RequestsPerMinute = 600,
    max_in_flight: MaxInFlight = None,
    max_duration: MaxDuration = None,
    recreate_missing: RecreateMissing = False,
    memory_limit: MemoryLimit = None,
    json_output: Json = False,
    debug: Debug = False,
) -> None:
    """Send what changed since TikTok last acknowledged it, and record what TikTok accepted.

    Reads tiktok_audience_diff (built by `dbt build`), creates each audience once if it has no
    TikTok id, sends adds then removes in batches, and records each batch in
    tiktok_sync_acknowledged_members only after TikTok acknowledged it. A batch TikTok did not
    take stays pending and goes out on the next run. One row per audience goes to
    tiktok_sync_run_history. Guards refuse the whole run, before anything is sent, when an
    audience would lose more than --max-removal-share of its members or a customer-file
    audience would be created under 1,000; `tiktok-sync plan` shows the verdicts first.
    --max-duration bounds the run's wall time, leaving what it did not send pending.

    Exit codes: 0 everything applied; 1 some batches failed or are pending (the next run sends
    them); 2 configuration, authorisation, a warehouse held by another process, a guard
    refused the run (nothing sent), or an audience was deleted at TikTok (--recreate-missing).
    """
    with command(debug, json_output):
        return_large_blocks_when_freed()  # before any request body exists
        warehouse = load_warehouse(project_dir, profiles_dir, target, memory_limit)
        tiktok = load_tiktok(
            api_base=api_base, advertiser_id=advertiser_id, credentials_file=credentials_file
        )
        options = PlanOptions(
            audiences=audience,
            max_removal_share=max_removal_share,
            allow_mass_removal=allow_mass_removal,
            force=force,
            full_refresh=full_refresh,
        )
        with make_progress() as progress:
            result = sync_audiences(
                warehouse,
                tiktok,
                options,
                progress=progress,
                processing_wait=processing_wait,
                requests_per_second=requests_per_second,
                requests_per_minute=requests_per_minute,
                max_duration=max_duration,
                recreate_missing=recreate_missing,
                max_in_flight=max_in_flight,
            )
        if json_output:
            echo_json(to_json(result))
        else:
            echo(render_text(result))
        raise typer.Exit(result.exit_code)


@reflowed
def plan(
    project_dir: ProjectDir = ".",
    profiles_dir: ProfilesDir = None,
    target: Target = None,
    advertiser_id: AdvertiserId = None,
    api_base: ApiBase = None,
    credentials_file: CredentialsFile = None,
    audience: Audiences = None,
    allow_mass_removal: AllowMassRemoval = False,
    max_removal_share: MaxRemovalShare = DEFAULT_MAX_REMOVAL_SHARE,
    force: Force = False,
    full_refresh: FullRefresh = False,
    memory_limit: MemoryLimit = None,
    json_output: Json = False,
    debug: Debug = False,
) -> None:
    """Show what `tiktok-sync run` would send, without sending anything.

    Per audience: where it goes (advertiser, TikTok id or a new one), the adds and removes it
    would send, the identifiers rejected by normalisation, and the guards' verdicts; then the
    audiences whose model is gone. Reads the warehouse, and with an access token compares the
    audiences set by meta.tiktok.audience_id with TikTok (one read per advertiser; nothing is
    sent); without one it needs no credentials, so it fits CI. Takes the same guard options as
    `run`.

    Exit codes: 0 the run would go ahead; 2 configuration problem, or a guard would refuse
    the run.
    """
    with command(debug, json_output):
        warehouse = load_warehouse(project_dir, profiles_dir, target, memory_limit)
        tiktok = load_tiktok(
            api_base=api_base, advertiser_id=advertiser_id, credentials_file=credentials_file
        )
        options = PlanOptions(
            audiences=audience,
            max_removal_share=max_removal_share,
            allow_mass_removal=allow_mass_removal,
            force=force,
            full_refresh=full_refresh,
        )
        result = preview(plan_sync(warehouse, tiktok, options), new_run_id())
        if json_output:
            echo_json(to_json(result))
        else:
            echo(render_text(result))
        raise typer.Exit(result.exit_code)


run.__doc__ = f"{run.__doc__}\n\n{_ENVIRONMENT}"
plan.__doc__ = f"{plan.__doc__}\n\n{_ENVIRONMENT}"
