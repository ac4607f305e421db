"""Real pieces for the CLI tests: a dbt-built warehouse, the emulator, and `tiktok-sync` itself.

The demo warehouse is built by dbt once per test session and copied for every test that needs
one, so tests may write to their copy freely.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner, Result

from sync.cli import app
from sync.emulator import Emulator
from tests import ledger
from tests.dbt_support import PROJECT_DIR, DbtProject
from tests.warehouses import demo_template

ADVERTISER = "7000000000000000001"  # the emulator's demo advertiser
OTHER_ADVERTISER = "7000000000000000002"  # known to nobody's token
TOKEN = "emulator-token"
APP_ID = "emulator-app"
APP_SECRET = "emulator-secret"
AUTH_CODE = "emulator-auth-code"

# Variables the CLI reads that the developer's own shell may have set.
_CLEARED_ENV = (
    "TIKTOK_ACCESS_TOKEN",
    "TIKTOK_APP_ID",
    "TIKTOK_APP_SECRET",
    "TIKTOK_ADVERTISER_ID",
    "TIKTOK_API_BASE",
    "TIKTOK_CREDENTIALS_FILE",
    "DBT_PROJECT_DIR",
    "DBT_PROFILES_DIR",
    "DBT_TARGET",
    "DBT_PROFILE",
)


def built_warehouse(tmp_path_factory: pytest.TempPathFactory) -> DbtProject:
    """The demo project built by dbt, once per session however many modules ask for it (the
    sync tests' template: demo_day 0, dbt's unit tests left to tests/test_warehouse_build.py)."""
    return demo_template(tmp_path_factory)


@dataclass
class Cli:
    """`tiktok-sync` run in-process with a clean environment pointed at one warehouse copy."""

    profiles_dir: Path
    warehouse: Path
    credentials: Path
    api_base: str

    def env(self, **overrides: str | None) -> dict[str, str | None]:
        env: dict[str, str | None] = dict.fromkeys(_CLEARED_ENV)
        env.update(
            TIKTOK_SYNC_DUCKDB_PATH=str(self.warehouse),
            TIKTOK_CREDENTIALS_FILE=str(self.credentials),
            TIKTOK_API_BASE=self.api_base,
        )
        env.update(overrides)
        return env

    def __call__(
        self,
        *args: str,
        env: Mapping[str, str | None] | None = None,
        input: str | None = None,
    ) -> Result:
        full_env = self.env(**(env or {}))
        command = list(args)
        if args and args[0] in ("check", "audiences"):
            command += ["--project-dir", str(PROJECT_DIR), "--profiles-dir", str(self.profiles_dir)]
        return CliRunner().invoke(app, command, env=full_env, input=input)


def make_cli(project: DbtProject, tmp_path: Path, emulator: Emulator) -> Cli:
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(project.db_path, copy)
    return Cli(project.workdir, copy, tmp_path / "credentials.json", emulator.base_url)


def execute(warehouse: Path, sql: str, params: Sequence[object] = ()) -> list[tuple[object, ...]]:
    with duckdb.connect(str(warehouse)) as connection:
        return connection.execute(sql, list(params)).fetchall()


def register(warehouse: Path, audience_key: str, audience_id: str, api: str = "streaming") -> None:
    """Record an audience id the way the sync job does after creating it."""
    ledger.register(
        lambda sql, params: execute(warehouse, sql, params),
        audience_key,
        audience_id,
        ADVERTISER,
        api,
    )
