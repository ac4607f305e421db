"""Options shared by the commands, declared once so every command spells them alike."""

from __future__ import annotations

from typing import Annotated

import typer

ProjectDir = Annotated[
    str,
    typer.Option(
        "--project-dir", envvar="DBT_PROJECT_DIR", help="The dbt project (dbt_project.yml)."
    ),
]
ProfilesDir = Annotated[
    str | None,
    typer.Option(
        "--profiles-dir",
        help="Folder with profiles.yml; default as dbt: DBT_PROFILES_DIR, ./profiles.yml, ~/.dbt.",
    ),
]
Target = Annotated[
    str | None,
    typer.Option("--target", "-t", help="dbt target; default DBT_TARGET, else the profile's."),
]
AdvertiserId = Annotated[
    str | None,
    typer.Option(
        "--advertiser-id",
        help="TikTok advertiser to sync under (env TIKTOK_ADVERTISER_ID); "
        "an audience's meta.tiktok.advertiser_id overrides it.",
    ),
]
ApiBase = Annotated[
    str | None,
    typer.Option(
        "--api-base",
        help="TikTok API base URL (env TIKTOK_API_BASE); default the production API. "
        "Point it at `tiktok-sync emulator` to test.",
    ),
]
CredentialsFile = Annotated[
    str | None,
    typer.Option(
        "--credentials-file",
        help="JSON file written by `tiktok-sync auth` (env TIKTOK_CREDENTIALS_FILE; default "
        "~/.config/tiktok-sync/credentials.json). TIKTOK_ACCESS_TOKEN takes precedence.",
    ),
]
Audiences = Annotated[
    list[str] | None,
    typer.Option("--audience", "-a", help="Only this audience (model name); repeat for more."),
]
Json = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of text.")]
Debug = Annotated[bool, typer.Option("--debug", help="Verbose logs (never secrets) on stderr.")]
MemoryLimit = Annotated[
    str | None,
    typer.Option(
        "--memory-limit",
        help="DuckDB memory limit of the sync's own connection, e.g. 256MB (env "
        "TIKTOK_SYNC_MEMORY_LIMIT; default 200MB); over it DuckDB spills the diff to disk. "
        "Replaces the profile's memory_limit, which is sized for dbt builds.",
    ),
]
