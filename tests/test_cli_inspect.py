"""`tiktok-sync check`, `audiences` and `advertisers` against a dbt-built warehouse and emulator.

Everything is real: dbt builds the demo warehouse (once per session, copied per test), the
emulator answers over loopback, and the CLI runs as a user would call it.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import pytest

from sync.emulator import Emulator, EmulatorConfig
from sync.tiktok import TikTokClient
from tests.cli_support import (
    ADVERTISER,
    APP_ID,
    APP_SECRET,
    OTHER_ADVERTISER,
    TOKEN,
    Cli,
    built_warehouse,
    execute,
    make_cli,
    register,
)
from tests.dbt_support import DbtProject

AUDIENCE = "demo_mobile_app_users"  # streaming, add_only


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> DbtProject:
    return built_warehouse(tmp_path_factory)


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator(EmulatorConfig(qps=0)) as emu:
        yield emu
        assert emu.internal_errors() == []


@pytest.fixture
def cli(built: DbtProject, tmp_path: Path, emulator: Emulator) -> Cli:
    return make_cli(built, tmp_path, emulator)


def segment_audience(emulator: Emulator, name: str, members: int) -> str:
    """A segment audience at the emulator with `members` hashed emails, as a sync would leave."""
    with TikTokClient(TOKEN, base_url=emulator.base_url, requests_per_second=None) as client:
        audience_id = client.create_segment_audience(ADVERTISER, name)
        hashes = [hashlib.sha256(f"member-{i}".encode()).hexdigest() for i in range(members)]
        if hashes:
            client.map_segment(ADVERTISER, audience_id, "add", "EMAIL_SHA256", hashes)
    return audience_id


def checks_of(output: str) -> dict[str, dict[str, str | None]]:
    report = json.loads(output)
    return {check["name"]: check for check in report["checks"]}


# --- check -------------------------------------------------------------------------------------


def test_check_passes_with_a_recorded_audience_tiktok_knows(cli: Cli, emulator: Emulator) -> None:
    audience_id = segment_audience(emulator, AUDIENCE, members=1000)
    register(cli.warehouse, AUDIENCE, audience_id)

    result = cli(
        "check", "--advertiser-id", ADVERTISER, "--json", env={"TIKTOK_ACCESS_TOKEN": TOKEN}
    )

    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["ok"] is True
    checks = checks_of(result.stdout)
    for name in ("warehouse", "dbt build", "token", f"advertiser {ADVERTISER}"):
        assert checks[name]["status"] == "OK", checks[name]
    recorded = checks[f"audience {AUDIENCE}"]
    assert recorded["status"] == "OK"
    assert audience_id in str(recorded["detail"])
    assert "1,000 matched" in str(recorded["detail"])
    assert recorded["fix"] is None
    # The two audiences the sync has not created yet are fine too.
    assert checks["audience demo_newsletter_subscribers"]["status"] == "OK"


def test_check_prints_one_line_per_check_and_warns_under_1000(cli: Cli, emulator: Emulator) -> None:
    audience_id = segment_audience(emulator, AUDIENCE, members=10)
    register(cli.warehouse, AUDIENCE, audience_id)

    result = cli("check", "--advertiser-id", ADVERTISER, env={"TIKTOK_ACCESS_TOKEN": TOKEN})

    assert result.exit_code == 0, result.output  # warnings do not fail the check
    lines = result.stdout.splitlines()
    assert all(line.split()[0] in ("OK", "WARN", "FAIL") for line in lines[:-1])
    assert lines[-1] == "All checks passed (1 warnings)."
    (warning,) = [line for line in lines if line.startswith("WARN")]
    assert f"audience {AUDIENCE}" in warning
    assert "10 matched users" in warning
    assert "fix: TikTok targets audiences of 1,000+ matched users only" in warning


def _no_token(cli: Cli, emulator: Emulator) -> tuple[list[str], dict[str, str]]:
    return [], {}


def _wrong_token(cli: Cli, emulator: Emulator) -> tuple[list[str], dict[str, str]]:
    return [], {"TIKTOK_ACCESS_TOKEN": "not-a-token-tiktok-knows"}


def _unreachable_advertiser(cli: Cli, emulator: Emulator) -> tuple[list[str], dict[str, str]]:
    return ["--advertiser-id", OTHER_ADVERTISER], {"TIKTOK_ACCESS_TOKEN": TOKEN}


def _missing_audience(cli: Cli, emulator: Emulator) -> tuple[list[str], dict[str, str]]:
    register(cli.warehouse, AUDIENCE, "7100000000000099999")
    return [], {"TIKTOK_ACCESS_TOKEN": TOKEN}


def _warehouse_not_built(cli: Cli, emulator: Emulator) -> tuple[list[str], dict[str, str]]:
    cli.warehouse.unlink()
    return [], {"TIKTOK_ACCESS_TOKEN": TOKEN}


def _warehouse_without_sync_tables(
    cli: Cli, emulator: Emulator
) -> tuple[list[str], dict[str, str]]:
    execute(cli.warehouse, "drop view tiktok_audience_diff cascade")
    return [], {"TIKTOK_ACCESS_TOKEN": TOKEN}


Setup = Callable[[Cli, Emulator], tuple[list[str], dict[str, str]]]

FAILURES: list[tuple[str, Setup, str, list[str]]] = [
    ("no-token", _no_token, "token", ["no access token", "tiktok-sync auth"]),
    ("wrong-token-40105", _wrong_token, "token", ["40105", "tiktok-sync auth"]),
    (
        "advertiser-not-reachable-40001",
        _unreachable_advertiser,
        f"advertiser {OTHER_ADVERTISER}",
        [
            f"the token cannot manage advertiser {OTHER_ADVERTISER}",
            "40001",
            "re-authorise with an account that has it, or check Business Center access",
        ],
    ),
    (
        "audience-id-unknown-to-tiktok",
        _missing_audience,
        f"audience {AUDIENCE}",
        ["7100000000000099999", "tiktok-sync run --recreate-missing"],
    ),
    ("warehouse-not-built", _warehouse_not_built, "warehouse", ["no warehouse at", "dbt build"]),
    (
        "views-missing",
        _warehouse_without_sync_tables,
        "dbt build",
        ["tiktok_audience_diff", "run dbt build"],
    ),
]


@pytest.mark.parametrize(
    ("setup", "failing", "expected"),
    [
        pytest.param(setup, failing, expected, id=name)
        for name, setup, failing, expected in FAILURES
    ],
)
def test_check_fails_with_the_fix(
    cli: Cli, emulator: Emulator, setup: Setup, failing: str, expected: list[str]
) -> None:
    options, env = setup(cli, emulator)

    result = cli("check", "--advertiser-id", ADVERTISER, *options, "--json", env=env)

    assert result.exit_code == 2, result.output
    report = json.loads(result.stdout)
    assert report["ok"] is False
    check = checks_of(result.stdout)[failing]
    assert check["status"] == "FAIL"
    text = f"{check['detail']}; {check['fix']}"
    for part in expected:
        assert part in text
    assert result.stderr == ""  # the report is the output, no error line or traceback


def test_check_fails_while_another_process_writes_the_warehouse(cli: Cli) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys; c = duckdb.connect(sys.argv[1]); print('locked', flush=True); "
            "sys.stdin.read()",
            str(cli.warehouse),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        result = cli("check", "--json", env={"TIKTOK_ACCESS_TOKEN": TOKEN})
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=10)

    assert result.exit_code == 2, result.output
    check = checks_of(result.stdout)["warehouse"]
    assert check["status"] == "FAIL"
    assert f"locked by another process (PID {holder.pid})" in str(check["detail"])
    assert "wait for it to finish, then retry" in str(check["fix"])


def test_check_text_says_what_to_fix_in_one_line(cli: Cli) -> None:
    result = cli("check", "--advertiser-id", ADVERTISER, env={"TIKTOK_ACCESS_TOKEN": "wrong"})

    assert result.exit_code == 2
    (line,) = [line for line in result.stdout.splitlines() if line.startswith("FAIL")]
    assert line.startswith("FAIL  token: TikTok rejected the access token (TikTok code 40105")
    assert "; fix: get a new one with `tiktok-sync auth`" in line
    assert result.stdout.splitlines()[-1] == "1 of 3 checks failed."


# --- audiences ----------------------------------------------------------------------------------


def size_history(warehouse: Path) -> list[tuple[object, ...]]:
    return execute(
        warehouse,
        "select audience_key, audience_id, advertiser_id, api, cover_num, is_valid, "
        "is_expiring, snapshot_at from tiktok_sync_audience_size_history order by snapshot_at",
    )


def test_audiences_lists_tiktok_and_warehouse_side_by_side(cli: Cli, emulator: Emulator) -> None:
    audience_id = segment_audience(emulator, AUDIENCE, members=1200)
    register(cli.warehouse, AUDIENCE, audience_id)
    execute(
        cli.warehouse,
        "insert into tiktok_sync_run_history (run_id, audience_key, audience_id, advertiser_id, "
        "api, started_at, finished_at, status) values "
        "('run-1', ?, ?, ?, 'streaming', '2026-01-01 10:00', '2026-01-01 10:05', 'partial'), "
        "('run-2', ?, ?, ?, 'streaming', '2026-01-02 10:00', '2026-01-02 10:01', 'success')",
        [AUDIENCE, audience_id, ADVERTISER] * 2,
    )

    result = cli(
        "audiences", "--advertiser-id", ADVERTISER, "--json", env={"TIKTOK_ACCESS_TOKEN": TOKEN}
    )

    assert result.exit_code == 0, result.output
    # What dbt built: the model's members less those on the demo's suppression list; nothing sent.
    [(desired,)] = execute(
        cli.warehouse,
        "select count(*) from tiktok_audience_desired_members where audience_key = ?",
        [AUDIENCE],
    )
    assert 2000 < desired < 3000  # the demo's mobile users, about 2,500
    listed = {a["audience_key"]: a for a in json.loads(result.stdout)["audiences"]}
    assert sorted(listed) == [
        "demo_high_value_customers",
        "demo_mobile_app_users",
        "demo_newsletter_subscribers",
    ]
    assert listed[AUDIENCE] == {
        "audience_key": AUDIENCE,
        "audience_name": AUDIENCE,
        "api": "streaming",
        "mode": "add_only",
        "advertiser_id": ADVERTISER,
        "audience_id": audience_id,
        "status": "ready",
        "cover_num": 1200,
        "is_valid": True,
        "is_expiring": False,
        "expired_time": listed[AUDIENCE]["expired_time"],
        "members": desired,
        "rejected": listed[AUDIENCE]["rejected"],
        "pending_adds": desired,
        "pending_removes": 0,
        "last_run": {"run_id": "run-2", "status": "success", "finished_at": "2026-01-02T10:01:00"},
    }
    not_created = listed["demo_newsletter_subscribers"]
    assert (not_created["status"], not_created["audience_id"], not_created["cover_num"]) == (
        "not created",
        None,
        None,
    )
    assert not_created["last_run"] is None


def test_audiences_appends_a_size_snapshot_per_run(cli: Cli, emulator: Emulator) -> None:
    audience_id = segment_audience(emulator, AUDIENCE, members=1000)
    register(cli.warehouse, AUDIENCE, audience_id)
    env = {"TIKTOK_ACCESS_TOKEN": TOKEN, "TIKTOK_ADVERTISER_ID": ADVERTISER}

    first = cli("audiences", env=env)
    segment_audience_grows = TikTokClient(TOKEN, base_url=emulator.base_url)
    with segment_audience_grows as client:
        extra = [hashlib.sha256(f"extra-{i}".encode()).hexdigest() for i in range(500)]
        client.map_segment(ADVERTISER, audience_id, "add", "EMAIL_SHA256", extra)
    second = cli("audiences", env=env)

    assert first.exit_code == 0 and second.exit_code == 0, first.output + second.output
    assert "Recorded 1 size(s) in tiktok_sync_audience_size_history" in first.stdout
    header, *rows = first.stdout.splitlines()[:4]
    assert header.split() == [
        "audience", "api", "tiktok", "id", "status", "matched", "members", "pending", "last", "run"
    ]  # fmt: skip
    assert any(row.startswith(AUDIENCE) and audience_id in row and "1,000" in row for row in rows)
    history = size_history(cli.warehouse)
    assert [row[:7] for row in history] == [
        (AUDIENCE, audience_id, ADVERTISER, "streaming", 1000, True, False),
        (AUDIENCE, audience_id, ADVERTISER, "streaming", 1500, True, False),
    ]
    first_at, second_at = history[0][7], history[1][7]
    assert isinstance(first_at, type(second_at)) and first_at < second_at  # type: ignore[operator]


def test_audiences_no_snapshot_leaves_the_warehouse_alone(cli: Cli, emulator: Emulator) -> None:
    register(cli.warehouse, AUDIENCE, segment_audience(emulator, AUDIENCE, members=1000))

    result = cli(
        "audiences",
        "--no-snapshot",
        "--advertiser-id",
        ADVERTISER,
        env={"TIKTOK_ACCESS_TOKEN": TOKEN},
    )

    assert result.exit_code == 0, result.output
    assert size_history(cli.warehouse) == []


def test_audiences_without_token_says_how_to_get_one(cli: Cli, emulator: Emulator) -> None:
    register(cli.warehouse, AUDIENCE, segment_audience(emulator, AUDIENCE, members=1000))

    result = cli("audiences", "--advertiser-id", ADVERTISER)

    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        "error: no access token: run `tiktok-sync auth` to get and save one, or set "
        "TIKTOK_ACCESS_TOKEN"
    ]


def test_audiences_with_the_warehouse_locked_fails_in_one_line(cli: Cli) -> None:
    with duckdb.connect(str(cli.warehouse)):
        # Same process, other configuration: DuckDB refuses like it does for another process.
        result = cli("audiences", env={"TIKTOK_ACCESS_TOKEN": TOKEN})
    assert result.exit_code == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.startswith("error: ")
    assert "Traceback" not in result.output


# --- advertisers ---------------------------------------------------------------------------------


def test_advertisers_lists_what_the_token_reaches(cli: Cli) -> None:
    env = {"TIKTOK_ACCESS_TOKEN": TOKEN, "TIKTOK_APP_SECRET": APP_SECRET}

    table = cli("advertisers", "--app-id", APP_ID, "--advertiser-id", ADVERTISER, env=env)
    as_json = cli("advertisers", "--app-id", APP_ID, "--json", env=env)

    assert table.exit_code == 0, table.output
    assert table.stdout.splitlines() == [
        "advertiser_id        name",
        f"{ADVERTISER}  Demo advertiser  (configured)",
    ]
    assert json.loads(as_json.stdout) == {
        "schema_version": 1,
        "advertisers": [
            {
                "advertiser_id": ADVERTISER,
                "advertiser_name": "Demo advertiser",
                "is_configured": False,
            }
        ],
    }


def test_advertisers_warns_when_the_configured_one_is_missing(cli: Cli) -> None:
    env = {"TIKTOK_ACCESS_TOKEN": TOKEN, "TIKTOK_APP_SECRET": APP_SECRET, "TIKTOK_APP_ID": APP_ID}

    result = cli("advertisers", "--advertiser-id", OTHER_ADVERTISER, env=env)

    assert result.exit_code == 0
    assert f"the token cannot manage the configured advertiser {OTHER_ADVERTISER}" in result.stderr


@pytest.mark.parametrize(
    ("env", "message"),
    [
        pytest.param(
            {"TIKTOK_ACCESS_TOKEN": TOKEN, "TIKTOK_APP_ID": APP_ID},
            "no app secret: set TIKTOK_APP_SECRET",
            id="no-secret",
        ),
        pytest.param(
            {"TIKTOK_ACCESS_TOKEN": TOKEN, "TIKTOK_APP_SECRET": APP_SECRET},
            "no app id: pass --app-id or set TIKTOK_APP_ID",
            id="no-app-id",
        ),
        pytest.param(
            {"TIKTOK_ACCESS_TOKEN": TOKEN, "TIKTOK_APP_ID": APP_ID, "TIKTOK_APP_SECRET": "wrong"},
            "TikTok says the app id and secret do not match (TikTok code 40101",
            id="wrong-secret-40101",
        ),
        pytest.param(
            {"TIKTOK_APP_ID": APP_ID, "TIKTOK_APP_SECRET": APP_SECRET},
            "no access token",
            id="no-token",
        ),
    ],
)
def test_advertisers_refuses_with_one_line(cli: Cli, env: dict[str, str], message: str) -> None:
    result = cli("advertisers", env=env)

    assert result.exit_code == 2
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"error: {message}")


def test_every_command_documents_exit_codes_and_environment(cli: Cli) -> None:
    for command in ("check", "audiences", "advertisers", "auth"):
        result = cli(command, "--help", env={"COLUMNS": "200"})
        assert result.exit_code == 0
        assert "Exit codes: 0" in result.stdout, command
        assert "Environment: TIKTOK_" in result.stdout, command
