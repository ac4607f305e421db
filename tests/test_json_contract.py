"""Every command's `--json` is one object on stdout that its schema in sync/schemas/ accepts.

The output is real: dbt's demo warehouse (built once per session, shared with
tests/test_cli_inspect.py), the emulator over loopback, the CLI as a user calls it. The schemas
are strict (required keys, no others), so a changed shape fails here before it reaches a user.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from sync.emulator import Emulator, EmulatorConfig
from sync.schemas import COMMANDS, SCHEMA_VERSION, schema
from tests.cli_support import (
    ADVERTISER,
    APP_ID,
    APP_SECRET,
    TOKEN,
    Cli,
    built_warehouse,
    make_cli,
    register,
)
from tests.dbt_support import PROJECT_DIR, DbtProject

_REGISTRY: Registry[Any] = Registry().with_resources(
    (f"{name}.json", Resource.from_contents(schema(name))) for name in (*COMMANDS, "error")
)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> DbtProject:
    return built_warehouse(tmp_path_factory)


@pytest.fixture
def cli(built: DbtProject, tmp_path: Path) -> Iterator[Cli]:
    with Emulator(EmulatorConfig(qps=0)) as emulator:
        yield make_cli(built, tmp_path, emulator)
        assert emulator.internal_errors() == []


def valid(name: str, stdout: str) -> dict[str, Any]:
    """The one JSON object on stdout, after its schema accepted it."""
    document: dict[str, Any] = json.loads(stdout)  # one object, nothing around it
    Draft202012Validator(schema(name), registry=_REGISTRY).validate(document)
    assert document["schema_version"] == SCHEMA_VERSION
    return document


def test_the_schemas_are_valid_draft_2020_12() -> None:
    for name in (*COMMANDS, "error"):
        Draft202012Validator.check_schema(schema(name))


def test_every_command_prints_one_object_its_schema_accepts(cli: Cli) -> None:
    project = ["--project-dir", str(PROJECT_DIR), "--profiles-dir", str(cli.profiles_dir)]
    token = {"TIKTOK_ACCESS_TOKEN": TOKEN, "TIKTOK_APP_SECRET": APP_SECRET}
    where = ["--advertiser-id", ADVERTISER]

    planned = cli("plan", *project, *where, "--json", env=token)
    assert planned.exit_code == 0, planned.output
    plan = valid("plan", planned.stdout)
    assert plan["dry_run"] is True and plan["exit_code"] == 0
    # the demo's suppression list holds members of every demo audience
    assert all(a["suppressed_identifiers"] > 0 for a in plan["audiences"])

    ran = cli("run", *project, *where, "--json", env=token)
    assert ran.exit_code == 0, ran.output
    result = valid("run", ran.stdout)
    assert result["dry_run"] is False and result["status"] == "success"
    assert all(a["audience_id"] for a in result["audiences"])

    for command in ("check", "audiences"):
        shown = cli(command, *where, "--json", env=token)
        assert shown.exit_code == 0, shown.output
        valid(command, shown.stdout)
    listed = cli("advertisers", "--app-id", APP_ID, "--json", env=token)
    assert listed.exit_code == 0, listed.output
    valid("advertisers", listed.stdout)
    url = cli("auth", "--app-id", APP_ID, "--redirect-uri", "https://example.test/cb", "--json")
    assert url.exit_code == 0, url.output
    valid("auth", url.stdout)


def test_plan_lists_warnings_and_orphaned_audiences(cli: Cli) -> None:
    project = ["--project-dir", str(PROJECT_DIR), "--profiles-dir", str(cli.profiles_dir)]
    register(cli.warehouse, "demo_deleted_model", "7100000000000000077")  # its model is gone

    planned = cli("plan", *project, "--advertiser-id", "7000000000000000009", "--json")

    assert planned.exit_code == 0, planned.output
    plan = valid("plan", planned.stdout)
    (orphan,) = plan["orphans"]
    assert orphan["audience_key"] == "demo_deleted_model"
    assert orphan["audience_id"] == "7100000000000000077"
    # The warnings the text lists: each audience's registered advertiser differs from the one
    # asked for... or none, when nothing is registered; every audience carries the key.
    assert all(isinstance(a["warnings"], list) for a in plan["audiences"])


@pytest.mark.parametrize(
    ("args", "env", "code", "exit_code"),
    [
        pytest.param(
            ["advertisers", "--app-id", APP_ID],
            {"TIKTOK_APP_SECRET": APP_SECRET},
            "config",
            2,
            id="no-token",
        ),
        pytest.param(["check", "--max-duration", "0"], {}, "usage", 2, id="bad-option"),
        pytest.param(["plan", "--memory-limit", "lots"], {}, "config", 2, id="bad-value"),
    ],
)
def test_an_error_under_json_is_one_object_on_stdout(
    cli: Cli, args: list[str], env: dict[str, str], code: str, exit_code: int
) -> None:
    project = ["--project-dir", str(PROJECT_DIR), "--profiles-dir", str(cli.profiles_dir)]
    extra = project if args[0] == "plan" else []

    result = cli(*args, *extra, "--json", env=env)

    assert result.exit_code == exit_code, result.output
    error = valid("error", result.stdout)["error"]
    assert error == {"code": code, "message": error["message"], "exit_code": exit_code}
    assert error["message"].split(":")[0] in result.stderr  # said on stderr too, for the logs
