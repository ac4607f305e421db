"""`tiktok-sync auth` against the emulator's OAuth endpoints, and secrets across every command.

TikTok's auth code is valid one hour and works once (docs/tiktok-api.md §2); the emulator enforces
both. The secrets test runs every command of `check`, `audiences`, `advertisers` and `auth` on its
success and failure paths with --json and --debug and looks for the token, the app secret and the
auth code in everything they print and in the warehouse (README "Guarantees", "No secret in
output").
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from sync.emulator import Emulator, EmulatorConfig
from sync.tiktok import TikTokClient, authorization_url
from tests.cli_support import (
    ADVERTISER,
    APP_ID,
    APP_SECRET,
    AUTH_CODE,
    TOKEN,
    Cli,
    built_warehouse,
    make_cli,
    register,
)
from tests.dbt_support import DbtProject

REDIRECT = "http://localhost:8080/callback"


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


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --- step 1: the authorization URL -------------------------------------------------------------


def test_prints_the_authorization_url_and_the_next_step(cli: Cli) -> None:
    result = cli("auth", "--app-id", APP_ID, "--redirect-uri", REDIRECT, "--state", "s-123")

    assert result.exit_code == 0, result.output
    assert f"  {authorization_url(APP_ID, REDIRECT, 's-123')}\n" in result.stdout
    assert "valid for one hour and works once" in result.stdout
    assert f"tiktok-sync auth --app-id {APP_ID}" in result.stdout
    assert not cli.credentials.exists()


def test_the_state_is_random_unless_given(cli: Cli) -> None:
    states = set()
    for _ in range(2):
        result = cli("auth", "--redirect-uri", REDIRECT, "--json", env={"TIKTOK_APP_ID": APP_ID})
        printed = json.loads(result.stdout)
        assert printed["authorization_url"] == authorization_url(APP_ID, REDIRECT, printed["state"])
        assert len(printed["state"]) >= 16
        states.add(printed["state"])
    assert len(states) == 2


# --- step 2: the exchange ----------------------------------------------------------------------


def test_exchange_saves_a_private_credentials_file_that_check_accepts(cli: Cli) -> None:
    old_umask = os.umask(0)  # even a permissive umask must not widen the file
    try:
        result = cli(
            "auth",
            "--app-id",
            APP_ID,
            "--auth-code",
            AUTH_CODE,
            env={"TIKTOK_APP_SECRET": APP_SECRET},
        )
    finally:
        os.umask(old_umask)

    assert result.exit_code == 0, result.output
    assert mode(cli.credentials) == 0o600
    assert json.loads(cli.credentials.read_text()) == {
        "access_token": TOKEN,
        "advertiser_ids": [ADVERTISER],
        "app_id": APP_ID,
        "advertiser_id": ADVERTISER,  # the only one: the other commands' default advertiser
    }
    assert f"Saved the access token to {cli.credentials}" in result.stdout
    assert f"The token reaches advertisers: {ADVERTISER}." in result.stdout
    assert [p.name for p in cli.credentials.parent.iterdir() if p.name.startswith(".")] == []

    check = cli("check", "--json")  # token and advertiser from the file only
    checks = {c["name"]: c for c in json.loads(check.stdout)["checks"]}
    assert check.exit_code == 0, check.output
    assert checks["token"]["status"] == "OK"
    assert str(cli.credentials) in checks["token"]["detail"]
    assert checks[f"advertiser {ADVERTISER}"]["status"] == "OK"


def test_exchange_replaces_a_readable_file_and_keeps_keys_it_does_not_set(cli: Cli) -> None:
    cli.credentials.write_text(json.dumps({"access_token": "old", "app_secret": APP_SECRET}))
    cli.credentials.chmod(0o644)

    result = cli("auth", "--app-id", APP_ID, "--auth-code", AUTH_CODE, "--json")

    assert result.exit_code == 0, result.output  # the secret came from the file
    assert mode(cli.credentials) == 0o600
    stored = json.loads(cli.credentials.read_text())
    assert (stored["access_token"], stored["app_secret"]) == (TOKEN, APP_SECRET)
    assert json.loads(result.stdout) == {
        "schema_version": 1,
        "app_id": APP_ID,
        "advertiser_ids": [ADVERTISER],
        "saved_to": str(cli.credentials),
    }


def test_save_to_writes_where_asked(cli: Cli, tmp_path: Path) -> None:
    target = tmp_path / "new" / "dir" / "token.json"

    result = cli(
        "auth",
        "--app-id",
        APP_ID,
        "--auth-code",
        AUTH_CODE,
        "--save-to",
        str(target),
        env={"TIKTOK_APP_SECRET": APP_SECRET},
    )

    assert result.exit_code == 0, result.output
    assert mode(target) == 0o600
    assert mode(target.parent) == 0o700
    assert json.loads(target.read_text())["access_token"] == TOKEN
    assert not cli.credentials.exists()


def test_the_auth_code_works_once(cli: Cli) -> None:
    env = {"TIKTOK_APP_SECRET": APP_SECRET}
    first = cli("auth", "--app-id", APP_ID, "--auth-code", AUTH_CODE, env=env)
    saved = cli.credentials.read_text()

    second = cli("auth", "--app-id", APP_ID, "--auth-code", AUTH_CODE, env=env)

    assert first.exit_code == 0, first.output
    assert second.exit_code == 2
    assert second.stdout == ""
    (line,) = second.stderr.splitlines()
    assert line.startswith(
        "error: the auth code was already used or has expired (valid one hour; TikTok code 40110"
    )
    assert line.endswith(
        "authorize again to get a new one (`tiktok-sync auth --redirect-uri ...` prints the URL)"
    )
    assert cli.credentials.read_text() == saved  # the good token is not lost


def test_a_wrong_secret_is_refused_without_using_up_the_code(cli: Cli) -> None:
    wrong = cli(
        "auth", "--app-id", APP_ID, "--auth-code", AUTH_CODE, env={"TIKTOK_APP_SECRET": "x"}
    )
    right = cli(
        "auth", "--app-id", APP_ID, "--auth-code", AUTH_CODE, env={"TIKTOK_APP_SECRET": APP_SECRET}
    )

    assert wrong.exit_code == 2
    assert "TikTok says the app id and secret do not match (TikTok code 40101" in wrong.stderr
    assert right.exit_code == 0, right.output


def test_print_token_prints_it_once_and_saves_nothing(cli: Cli) -> None:
    result = cli(
        "auth",
        "--app-id",
        APP_ID,
        "--auth-code",
        AUTH_CODE,
        "--print-token",
        env={"TIKTOK_APP_SECRET": APP_SECRET},
    )

    assert result.exit_code == 0, result.output
    assert result.stdout == f"{TOKEN}\n"  # alone, ready for `> file` or a secret store
    assert f"The token reaches advertisers: {ADVERTISER}." in result.stderr
    assert TOKEN not in result.stderr
    assert not cli.credentials.exists()


def test_the_code_can_come_from_a_file_holding_the_redirect_url(cli: Cli, tmp_path: Path) -> None:
    code_file = tmp_path / "code.txt"
    code_file.write_text(f"{REDIRECT}?auth_code={AUTH_CODE}&code={AUTH_CODE}&state=s-123\n")

    result = cli(
        "auth",
        "--app-id",
        APP_ID,
        "--auth-code-file",
        str(code_file),
        env={"TIKTOK_APP_SECRET": APP_SECRET},
    )

    assert result.exit_code == 0, result.output
    assert json.loads(cli.credentials.read_text())["access_token"] == TOKEN


def test_without_a_code_option_code_and_secret_are_read_from_stdin(cli: Cli) -> None:
    # Not a terminal here, so nothing is prompted for: one line each, code first.
    result = cli("auth", "--app-id", APP_ID, input=f"{AUTH_CODE}\n{APP_SECRET}\n")

    assert result.exit_code == 0, result.output
    assert json.loads(cli.credentials.read_text())["access_token"] == TOKEN
    assert AUTH_CODE not in result.output
    assert APP_SECRET not in result.output


def test_auth_code_file_dash_reads_stdin(cli: Cli) -> None:
    result = cli(
        "auth",
        "--app-id",
        APP_ID,
        "--auth-code-file",
        "-",
        input=f"  {AUTH_CODE}  \n",
        env={"TIKTOK_APP_SECRET": APP_SECRET},
    )

    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    ("args", "env", "input", "message"),
    [
        pytest.param(
            ["--auth-code", AUTH_CODE],
            {"TIKTOK_APP_SECRET": APP_SECRET},
            None,
            "no app id: pass --app-id or set TIKTOK_APP_ID",
            id="no-app-id",
        ),
        pytest.param(
            ["--app-id", APP_ID],
            {"TIKTOK_APP_SECRET": APP_SECRET},
            "",
            "no auth code: pass --auth-code-file FILE (- for stdin)",
            id="no-code",
        ),
        pytest.param(
            ["--app-id", APP_ID, "--auth-code", AUTH_CODE],
            {},
            "",
            "no app secret: set TIKTOK_APP_SECRET",
            id="no-secret",
        ),
        pytest.param(
            ["--app-id", APP_ID, "--auth-code", AUTH_CODE, "--auth-code-file", "-"],
            {"TIKTOK_APP_SECRET": APP_SECRET},
            None,
            "pass either --auth-code or --auth-code-file, not both",
            id="two-codes",
        ),
    ],
)
def test_missing_input_is_one_line_and_exit_2(
    cli: Cli, args: list[str], env: dict[str, str], input: str | None, message: str
) -> None:
    result = cli("auth", *args, env=env, input=input)

    assert result.exit_code == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"error: {message}")


# --- secrets ------------------------------------------------------------------------------------

SECRET_TOKEN = "tok-7f3c9e-DO-NOT-LEAK"
SECRET_APP_SECRET = "appsecret-51d2aa-DO-NOT-LEAK"
SECRET_CODE = "authcode-c0ffee-DO-NOT-LEAK"
SECRETS = (SECRET_TOKEN, SECRET_APP_SECRET, SECRET_CODE)


@pytest.fixture
def secret_emulator() -> Iterator[Emulator]:
    config = EmulatorConfig(
        tokens={SECRET_TOKEN: [ADVERTISER]},
        apps={APP_ID: SECRET_APP_SECRET},
        auth_codes={SECRET_CODE: SECRET_TOKEN},
        qps=0,
    )
    with Emulator(config) as emu:
        yield emu


def test_no_command_prints_or_stores_a_secret(
    built: DbtProject, tmp_path: Path, secret_emulator: Emulator
) -> None:
    cli = make_cli(built, tmp_path, secret_emulator)
    common = ["--json", "--debug"]
    env = {"TIKTOK_APP_SECRET": SECRET_APP_SECRET, "TIKTOK_APP_ID": APP_ID}
    wrong_secret = {**env, "TIKTOK_APP_SECRET": SECRET_APP_SECRET + "-x"}
    wrong_token = {**env, "TIKTOK_ACCESS_TOKEN": SECRET_TOKEN + "-x"}
    from_file = dict(env)  # the token comes from the credentials file after the exchange
    runs = [
        ("auth", [*common, "--auth-code", SECRET_CODE], wrong_secret, 2),
        ("auth", [*common, "--auth-code", SECRET_CODE + "-x"], env, 2),
        ("auth", [*common, "--auth-code", SECRET_CODE], env, 0),
        ("auth", [*common, "--auth-code", SECRET_CODE], env, 2),  # used up
        ("auth", [*common, "--redirect-uri", REDIRECT], env, 0),
        ("check", common, from_file, 0),
        ("check", common, wrong_token, 2),
        ("audiences", common, from_file, 0),
        ("audiences", common, wrong_token, 2),
        ("advertisers", common, from_file, 0),
        ("advertisers", common, wrong_secret, 2),
        ("advertisers", common, wrong_token, 2),
    ]
    with TikTokClient(SECRET_TOKEN, base_url=secret_emulator.base_url) as client:
        audience_id = client.create_segment_audience(ADVERTISER, "demo_mobile_app_users")
    register(cli.warehouse, "demo_mobile_app_users", audience_id)

    outputs = []
    for command, args, run_env, expected_exit in runs:
        result = cli(command, *args, env=run_env)
        assert result.exit_code == expected_exit, (command, args, result.output)
        outputs.append((command, result.stdout, result.stderr))
    debug_lines = "".join(stderr for _, _, stderr in outputs)
    assert "DEBUG sync.tiktok" in debug_lines  # --debug really was on
    for command, stdout, stderr in outputs:
        for secret in SECRETS:
            assert secret not in stdout, (command, secret)
            assert secret not in stderr, (command, secret)

    with duckdb.connect(str(cli.warehouse), read_only=True) as connection:
        tables = connection.execute(
            "select table_name from information_schema.tables where table_type = 'BASE TABLE'"
        ).fetchall()
        assert ("tiktok_sync_audience_size_history",) in tables
        for (table,) in tables:
            text = json.dumps(
                connection.execute(f'select * from "{table}"').fetchall(), default=str
            )
            for secret in SECRETS:
                assert secret not in text, (table, secret)
        snapshots = connection.execute(
            "select count(*) from tiktok_sync_audience_size_history"
        ).fetchone()
    assert snapshots == (1,)  # the audiences run on the success path wrote its snapshot
    # The one place the token may be: the 0600 credentials file `auth` wrote.
    assert mode(cli.credentials) == 0o600


def test_print_token_is_the_only_way_to_see_the_token(
    built: DbtProject, tmp_path: Path, secret_emulator: Emulator
) -> None:
    cli = make_cli(built, tmp_path, secret_emulator)

    result = cli(
        "auth",
        "--auth-code",
        SECRET_CODE,
        "--print-token",
        "--json",
        "--debug",
        env={"TIKTOK_APP_ID": APP_ID, "TIKTOK_APP_SECRET": SECRET_APP_SECRET},
    )

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["access_token"] == SECRET_TOKEN
    assert result.stdout.count(SECRET_TOKEN) == 1
    for secret in SECRETS:
        assert secret not in result.stderr
    assert SECRET_APP_SECRET not in result.stdout and SECRET_CODE not in result.stdout
