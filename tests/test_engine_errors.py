"""What a user sees when the dbt target's warehouse is not usable: one line naming the engine
and the fix, exit 2, nothing sent, no driver traceback and no credential.

The cases: a warehouse the profile cannot reach or log
in to, a schema `dbt build` has not built, a dbt adapter that is not installed. Against a real
PostgreSQL server (tests/engines/postgres.py) where a server is needed.
"""

from __future__ import annotations

import importlib.util
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner, Result

from sync.cli import app
from sync.engines.dbt_target import EXTRAS
from tests.dbt_support import PROJECT_DIR
from tests.engines.postgres import PostgresServer, unavailable_reason

PROFILE = "tiktok_sync_integration_tests"
SECRET = "pw-Zq81-do-not-print"


@pytest.fixture(scope="module")
def server() -> Iterator[PostgresServer]:
    reason = unavailable_reason()
    if reason is not None:
        pytest.skip(f"PostgreSQL: {reason}")
    with PostgresServer() as started:
        yield started


def plan(tmp_path: Path, output: dict[str, Any]) -> Result:
    """`tiktok-sync plan` with a profile whose only target is `output`."""
    (tmp_path / "profiles.yml").write_text(
        yaml.safe_dump({PROFILE: {"target": "warehouse", "outputs": {"warehouse": output}}})
    )
    env = {
        "DBT_PROFILES_DIR": str(tmp_path),
        "TIKTOK_ADVERTISER_ID": "7000000000000000001",
        "TIKTOK_ACCESS_TOKEN": None,
        "DBT_TARGET": None,
        "DBT_PROFILE": None,
    }
    return CliRunner().invoke(app, ["plan", "--project-dir", str(PROJECT_DIR)], env=env)


def one_line_exit_2(result: Result) -> str:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert SECRET not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port  # nothing listens once the socket is closed


def test_an_unreachable_postgres_names_the_engine_and_the_fix(
    server: PostgresServer, tmp_path: Path
) -> None:
    output = {**server.profile_output(), "port": _closed_port(), "password": SECRET}

    line = one_line_exit_2(plan(tmp_path, output))

    assert "cannot connect to the postgres warehouse" in line
    assert "check the profile's credentials" in line


def test_a_login_postgres_refuses_names_the_engine_and_the_fix(
    server: PostgresServer, tmp_path: Path
) -> None:
    output = {**server.profile_output(), "dbname": "no_such_database", "password": SECRET}

    line = one_line_exit_2(plan(tmp_path, output))

    assert "cannot connect to the postgres warehouse" in line and "no_such_database" in line


def test_a_schema_dbt_has_not_built_says_to_run_dbt_build(
    server: PostgresServer, tmp_path: Path
) -> None:
    line = one_line_exit_2(plan(tmp_path, server.profile_output(schema="never_built")))

    assert "lacks tiktok_audience_targets" in line and "run `dbt build`" in line
    assert "postgres" in line


def test_a_missing_adapter_says_which_extra_to_install(tmp_path: Path) -> None:
    missing = [t for t in EXTRAS if importlib.util.find_spec(f"dbt.adapters.{t}") is None]
    if not missing:
        pytest.skip("every dbt adapter the sync job knows is installed here")
    adapter = missing[0]

    line = one_line_exit_2(
        plan(tmp_path, {"type": adapter, "schema": "analytics", "password": SECRET})
    )

    assert f"is a {adapter} warehouse" in line
    assert f"pip install 'tiktok-audience-sync[{EXTRAS[adapter]}]'" in line
