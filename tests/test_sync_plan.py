"""`tiktok-sync plan` and the CLI contract of `run` and `plan`.

Specifications (README "Guarantees": "`plan` sends nothing", "No secret in output"): plan shows
exactly what run would send without any TikTok call, and works without a token; --json prints one
object of a fixed shape; errors are one line with the fix and a documented exit code, never a
traceback, never a secret.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import ledger
from tests.sync_support import TOKEN, SyncEnv, sync_env
from tests.warehouses import Warehouses

TOP_KEYS = {
    "schema_version",
    "run_id",
    "status",
    "dry_run",
    "exit_code",
    "audiences",
    "notes",
    "orphans",
}
AUDIENCE_TYPES: dict[str, tuple[type, ...]] = {
    "audience_key": (str,),
    "refusals": (list,),
    "blocked": (list,),
    "setting_changes": (list,),
    "warnings": (list,),
    "notes": (list,),
    "audience_name": (str,),
    "api": (str,),
    "audience_id": (str, type(None)),
    "advertiser_id": (str,),
    "adds_sent": (int,),
    "removes_sent": (int,),
    "adds_pending": (int,),
    "removes_pending": (int,),
    "rejected_identifiers": (int,),
    "suppressed_identifiers": (int,),
    "status": (str,),
    "error": (dict, type(None)),
}
UNBUILT: dict[str, str | None] = {}  # stands for SyncEnv.warehouse.unbuilt_env()
ERROR_TYPES: dict[str, tuple[type, ...]] = {
    "code": (int, type(None)),
    "message": (str,),
    "request_id": (str, type(None)),
}


@pytest.fixture
def env(engine: Warehouses, tmp_path: Path) -> Iterator[SyncEnv]:
    with sync_env(engine, tmp_path / "dbt") as sync:
        yield sync


def assert_contract(report: dict[str, Any], dry_run: bool) -> None:
    assert set(report) == TOP_KEYS
    assert isinstance(report["run_id"], str) and report["run_id"]
    assert report["status"] in ("success", "partial", "failed", "refused")
    assert report["dry_run"] is dry_run
    for audience in report["audiences"]:
        assert set(audience) == set(AUDIENCE_TYPES)
        for key, types in AUDIENCE_TYPES.items():
            assert isinstance(audience[key], types), key
            assert not isinstance(audience[key], bool), key
        assert audience["api"] in ("streaming", "customer_file")
        assert audience["status"] in ("success", "partial", "failed", "refused")
        if audience["error"] is not None:
            assert set(audience["error"]) == set(ERROR_TYPES)
            for key, types in ERROR_TYPES.items():
                assert isinstance(audience["error"][key], types), key


@pytest.mark.every_engine
def test_plan_shows_what_run_sends_without_calling_tiktok_or_needing_a_token(
    env: SyncEnv,
) -> None:
    planned = env.cli("plan", "--json", env={"TIKTOK_ACCESS_TOKEN": None})

    assert planned.exit_code == 0, planned.output
    assert env.api_requests() == []
    plan = json.loads(planned.stdout)
    assert_contract(plan, dry_run=True)
    assert plan["status"] == "success"
    assert {a["audience_id"] for a in plan["audiences"]} == {None}

    ran = env.cli("run", "--json")

    assert ran.exit_code == 0, ran.output
    run = json.loads(ran.stdout)
    assert_contract(run, dry_run=False)
    sent = ("audience_key", "adds_sent", "removes_sent", "rejected_identifiers")
    assert [[a[k] for k in sent] for a in run["audiences"]] == [
        [a[k] for k in sent] for a in plan["audiences"]
    ]
    assert {(a["adds_pending"], a["removes_pending"]) for a in run["audiences"]} == {(0, 0)}
    assert all(a["audience_id"] for a in run["audiences"])

    env.emulator.clear_requests()
    again = env.cli("plan", "--json", env={"TIKTOK_ACCESS_TOKEN": None})
    assert env.api_requests() == []
    assert {(a["adds_sent"], a["removes_sent"]) for a in json.loads(again.stdout)["audiences"]} == {
        (0, 0)
    }


def test_plan_text_lists_audiences_warnings_and_orphans(env: SyncEnv) -> None:
    # an audience synced once whose model has since been deleted
    ledger.register(
        env.query,
        "retired_audience",
        "7100000000000000099",
        "7000000000000000001",
        run_id="old-run",
    )

    result = env.cli("plan")

    assert result.exit_code == 0, result.output
    text = result.stdout
    assert text.startswith("Plan ")
    for key in ("demo_high_value_customers", "demo_mobile_app_users", "to add", "(new)"):
        assert key in text
    assert "Orphaned audiences" in text and "retired_audience" in text


@pytest.mark.parametrize(
    ("args", "env_overrides", "expected"),
    [
        pytest.param(
            ("run", "--audience", "no_such_audience"),
            {},
            "unknown audience 'no_such_audience'",
            id="unknown-audience",
        ),
        pytest.param(
            ("plan",),
            {"TIKTOK_ADVERTISER_ID": None},
            "pass --advertiser-id or set TIKTOK_ADVERTISER_ID",
            id="no-advertiser",
        ),
        pytest.param(
            ("run",),
            UNBUILT,  # the engine's: a DuckDB file or a Postgres schema dbt never built
            "dbt build",
            id="no-warehouse",
        ),
        pytest.param(
            ("run",),
            {"TIKTOK_ACCESS_TOKEN": None},
            "no TikTok access token",
            id="no-token",
        ),
        pytest.param(
            ("run", "--max-removal-share", "1.5"),
            {},
            "--max-removal-share",
            id="bad-share",
        ),
    ],
)
def test_configuration_errors_are_one_line_with_the_fix_and_exit_2(
    env: SyncEnv, args: tuple[str, ...], env_overrides: dict[str, str | None], expected: str
) -> None:
    if env_overrides is UNBUILT:
        env_overrides = env.warehouse.unbuilt_env()
    result = env.cli(*args, env=env_overrides)

    assert result.exit_code == 2
    assert expected in result.stderr
    assert "Traceback" not in result.output
    assert env.api_requests() == []


def test_debug_output_never_shows_the_token(env: SyncEnv) -> None:
    result = env.cli("run", "--debug", "--audience", "demo_high_value_customers")

    assert result.exit_code == 0, result.output
    assert "POST segment/mapping/" in result.stderr  # the client's debug lines are there
    assert TOKEN not in result.output
    assert "urllib3" not in result.output
