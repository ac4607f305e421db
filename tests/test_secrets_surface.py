"""Secrets stay secret across the whole surface (README "Guarantees"), in one test.

Distinctive access token, app secret and auth code values go through everything a user runs:
`dbt --debug build` with them in the environment, then every `tiktok-sync` command
on its success path and on every failure class (wrong token, wrong secret, used code, TikTok
errors and dropped connections mid-run, TikTok unreachable, a locked warehouse, a configuration
error, and an unexpected exception carrying the token), each with `--json` and `--debug`, plus a
real subprocess to see what reaches the process's stderr. Then none of the three values may
appear in any stdout or stderr, in any file under the project's work directory (dbt's `logs/`
and `target/`, the warehouse file, anything the CLI wrote), or in any string column of any
table or view of the warehouse. The one place the token may be is the credentials file `auth`
writes, with mode 0600. tests/test_cli_auth.py checks auth and the inspect commands in
detail; this one covers the surface.
"""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from typer.testing import Result

from sync.cli import app
from tests.dbt_support import PROJECT_DIR
from tests.sync_support import (
    ADVERTISER,
    AUDIENCES_DIR,
    SyncEnv,
    demo_day1_members,
    sync_env,
    warehouse_held_by_another_process,
)

SECRET_TOKEN = "tok-SECRET-3b9f1c7e8d2a"
SECRET_APP = "app-SECRET-91d4e5f60a7b"
SECRET_CODE = "code-SECRET-5c2e8a1f9b3d"
WRONG_TOKEN = "tok-SECRET-WRONG-6e1a2b"
WRONG_APP = "app-SECRET-WRONG-0f9e8d"
SECRETS = (SECRET_TOKEN, SECRET_APP, SECRET_CODE, WRONG_TOKEN, WRONG_APP)
APP_ID = "app-7000001"


@pytest.fixture
def env(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> Iterator[SyncEnv]:
    config = {
        "tokens": {SECRET_TOKEN: [ADVERTISER]},
        "apps": {APP_ID: SECRET_APP},
        "auth_codes": {SECRET_CODE: SECRET_TOKEN},
    }
    with sync_env(tmp_path_factory, tmp_path / "dbt", **config) as sync:
        yield sync


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_no_secret_appears_in_any_output_file_artifact_or_table(
    env: SyncEnv, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    workdir = env.project.workdir
    credentials = workdir / "credentials.json"
    code_file = workdir.parent / "auth-code.txt"  # the user's input, outside the scanned dir
    code_file.write_text(f"https://example.com/cb?auth_code={SECRET_CODE}&state=x\n")
    secret_env = {
        "TIKTOK_ACCESS_TOKEN": SECRET_TOKEN,
        "TIKTOK_APP_ID": APP_ID,
        "TIKTOK_APP_SECRET": SECRET_APP,
        "TIKTOK_AUTH_CODE": SECRET_CODE,  # read by nothing; must not be picked up either
    }
    outputs: list[tuple[str, str]] = []

    # dbt, with the secrets in its environment as in a CI job that has them set; --debug
    # makes it log everything it knows (flags, connections, SQL) to stdout and logs/.
    proc = env.project.run(
        "--debug",
        "build",
        "--select",
        AUDIENCES_DIR,
        "tiktok_sync.sync",
        "--exclude-resource-type",
        "unit_test",
        env=secret_env,
    )
    outputs.append(("dbt --debug build", proc.stdout + proc.stderr))

    def cli(*args: str, exit_code: int, **overrides: str | None) -> Result:
        run_env = {**secret_env, "TIKTOK_CREDENTIALS_FILE": str(credentials), **overrides}
        command = [*args]
        if args[0] in ("check", "plan", "run", "audiences"):
            command += ["--project-dir", str(PROJECT_DIR)]
        result = env.runner.invoke(app, command, env=env.env(**run_env))
        assert result.exit_code == exit_code, (args, result.output)
        assert "Traceback" not in result.output or "--debug" in args
        outputs.append((" ".join(args), result.stdout + result.stderr))
        return result

    debug = ("--json", "--debug")
    no_token = {"TIKTOK_ACCESS_TOKEN": None}
    # auth: the URL, a refused secret, the exchange (saves the token), the code used up.
    cli("auth", "--redirect-uri", "https://example.com/cb", *debug, exit_code=0)
    cli(
        "auth", "--auth-code-file", str(code_file), *debug, exit_code=2, TIKTOK_APP_SECRET=WRONG_APP
    )
    cli("auth", "--auth-code-file", str(code_file), *debug, exit_code=0, **no_token)
    cli("auth", "--auth-code-file", str(code_file), *debug, exit_code=2, **no_token)
    # Success paths, the token from the environment and from the credentials file.
    for command in ("check", "plan"):
        cli(command, exit_code=0)
        cli(command, *debug, exit_code=0, **no_token)
    cli("run", "--debug", exit_code=0)
    cli("run", *debug, exit_code=0, **no_token)
    cli("audiences", *debug, exit_code=0)
    cli("advertisers", *debug, exit_code=0)
    # The audiences change (demo day 1), so the runs below have something to send.
    env.use_members(demo_day1_members(tmp_path_factory), demo_day=1)
    # TikTok refuses the token or the secret.
    for command in ("check", "run", "audiences"):
        cli(command, *debug, exit_code=2, TIKTOK_ACCESS_TOKEN=WRONG_TOKEN)
    cli("advertisers", *debug, exit_code=2, TIKTOK_APP_SECRET=WRONG_APP)
    # TikTok fails mid-run: a 50000-class code, a 5xx page, a dropped connection (each retried
    # once), and a customer-file update refused while TikTok processes the one before.
    env.emulator.configure(processing_seconds=2)
    env.emulator.set_faults(
        [
            {"kind": "server_error", "path": "segment/mapping/", "count": 1},
            {"kind": "http_5xx", "path": "dmp/custom_audience/file/upload/", "count": 1},
            {"kind": "drop", "path": "dmp/custom_audience/update/", "count": 1},
        ]
    )
    cli("run", *debug, "--processing-wait", "0", exit_code=1)
    env.emulator.clear_faults()
    env.emulator.configure(processing_seconds=0)
    while any(a["processing"] for a in env.emulator.audiences()):
        time.sleep(0.05)
    # TikTok unreachable: the app secret travels in the query of oauth2/advertiser/get/.
    unreachable = f"http://127.0.0.1:{_closed_port()}/open_api/v1.3/"
    cli("advertisers", *debug, exit_code=1, TIKTOK_API_BASE=unreachable)
    # Configuration errors and a warehouse held by another process.
    cli("run", *debug, exit_code=2, TIKTOK_ADVERTISER_ID="not-a-number")
    with warehouse_held_by_another_process(env.db_path):
        cli("run", *debug, exit_code=2)
        cli("check", *debug, exit_code=2)

    # A bug whose exception text carries the secrets: one line, the --debug traceback redacted.
    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError(f"unexpected {SECRET_TOKEN} {SECRET_APP}")

    with monkeypatch.context() as patch:
        patch.setattr("sync.commands.sync_commands.sync_audiences", explode)
        result = cli("run", "--debug", exit_code=1)
    assert "this is a bug" in result.stderr and "Traceback" in result.stderr

    # A real process: whatever any library prints to the process's stderr counts too.
    settings = {k: v for k, v in env.env(**secret_env).items() if v is not None}
    process = subprocess.run(
        [
            sys.executable,
            "-m",
            "sync",
            "run",
            "--debug",
            "--json",
            "--project-dir",
            str(PROJECT_DIR),
        ],
        env={**{k: v for k, v in os.environ.items() if k not in settings}, **settings},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert process.returncode == 0, process.stderr
    outputs.append(("subprocess run", process.stdout + process.stderr))

    assert any("DEBUG sync.tiktok" in text for _, text in outputs)  # --debug was really on
    for where, text in outputs:
        for secret in SECRETS:
            assert secret not in text, f"{secret} in the output of {where}"

    # Files: dbt's logs/ and target/, the warehouse, anything else written under the work dir.
    assert (workdir / "logs").is_dir() and (workdir / "target").is_dir()
    scanned = 0
    for path in workdir.rglob("*"):
        if not path.is_file() or path == credentials:
            continue
        data = path.read_bytes()
        scanned += 1
        for secret in SECRETS:
            assert secret.encode() not in data, f"{secret} in {path}"
    assert scanned >= 20
    # The one place the token may be: the credentials file, readable by its owner only.
    assert SECRET_TOKEN in credentials.read_text()
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600

    # Every string column of every table and view (compressed storage hides from a byte scan).
    with duckdb.connect(str(env.db_path), read_only=True) as con:
        columns = con.execute(
            "select table_name, column_name from information_schema.columns "
            "where data_type = 'VARCHAR'"
        ).fetchall()
        tables: dict[str, list[str]] = {}
        for table, column in columns:
            tables.setdefault(table, []).append(column)
        assert len(tables) >= 15
        # One query per table or view: a view that normalises identifiers is evaluated once,
        # not once per column and secret.
        for table, names in tables.items():
            condition = " or ".join(f'contains("{name}", ?)' for name in names for _ in SECRETS)
            hits = con.execute(
                f'select count(*) from "{table}" where {condition}',
                [secret for _ in names for secret in SECRETS],
            ).fetchone()
            assert hits == (0,), f"a secret in {table} (string columns {names})"
        errors = con.execute(
            "select count(*) from tiktok_sync_run_history where error_message is not null"
        ).fetchone()
    assert errors is not None and errors[0] >= 2  # the failures were recorded, redacted
    assert json.loads(process.stdout)["status"] == "success"
