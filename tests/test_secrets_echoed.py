"""A server that echoes the secrets back, in every shape, gets none of them into any output.

tests/test_secrets_surface.py holds the surface to TikTok's own behaviour; this one puts a
hostile server at the base URL (tests/hostile.py) that answers every request with a message,
a `request_id` and an `X-Tt-Logid` header made of the access token, the app secret and the auth
code (where it was sent): upper-cased, lower-cased, case-swapped, cut to a 10-character piece,
inside a URL's query and path, percent-encoded. Every command runs against
it, with `--debug`, in-process and as a real process, and dbt runs afterwards with the secrets
in its environment.
Then no piece of 8 or more characters of any secret, in any case, may appear in any stdout or
stderr, any file under the project's work directory (dbt's `logs/` and `target/`, the
warehouse), or any string column of any table or view, the run history included.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import duckdb
import pytest

from sync.cli import app
from tests.dbt_support import PROJECT_DIR
from tests.hostile import Request, hostile_server, write_json
from tests.sync_support import SyncEnv, sync_env

pytestmark = pytest.mark.engines("duckdb")

# Every 8-character window of these holds a letter that is not hex, so no hash in the
# warehouse can contain a piece of one by chance.
SECRET_TOKEN = "tok-Qwzrty-Plmkjhg-Xvnbsr"
SECRET_APP = "app-Zyxwvut-Srqpon-Mlkjihg"
SECRET_CODE = "code-Ghjklp-Tyuior-Wxzvnm"
SECRETS = (SECRET_TOKEN, SECRET_APP, SECRET_CODE)
APP_ID = "app-7000001"
MIN_FRAGMENT = 8  # a piece of a secret this long is a leak


def _shapes(secret: str) -> str:
    return " ".join(
        [
            secret.upper(),
            secret.lower(),
            secret.swapcase(),
            secret[3:13],  # a piece, as a truncating log line would cut it
            f"https://business-api.tiktok.com/open_api/v1.3/x/?access_token={quote(secret)}",
            f"https://example.com/{secret}/path",
        ]
    )


_CODES = itertools.cycle([50000, 40105])


def _echo(request: Request, wfile: Any, stop: object) -> None:
    """Every request: in turn a 50000 (retried, so logged) or a 40105 answer, each echoing
    every secret in every shape."""
    code = next(_CODES)
    # A process can only mask what it knows: the auth code is echoed where it was sent.
    echoed = [SECRET_TOKEN, SECRET_APP]
    if SECRET_CODE.encode() in request.body:
        echoed.append(SECRET_CODE)
    message = "invalid: " + " ".join(_shapes(s) for s in echoed)
    request_id = "".join(s.upper() for s in echoed)
    body = (
        f'{{"code": {code}, "message": "{message}", "request_id": "{request_id}", "data": {{}}}}'
    ).encode()
    write_json(wfile, body, {"X-Tt-Logid": f"log-{SECRET_TOKEN[2:14]}-{SECRET_APP.lower()}"})


def _pieces() -> set[str]:
    return {
        secret[i : i + MIN_FRAGMENT].lower()
        for secret in SECRETS
        for i in range(len(secret) - MIN_FRAGMENT + 1)
    }


def _leaks(text: str) -> set[str]:
    folded = text.lower()
    return {piece for piece in _pieces() if piece in folded}


@pytest.fixture
def env(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> Iterator[SyncEnv]:
    with sync_env(tmp_path_factory, tmp_path / "dbt") as sync:
        yield sync


def test_secrets_echoed_back_in_any_shape_reach_no_output_file_or_table(
    env: SyncEnv, tmp_path: Path
) -> None:
    code_file = tmp_path / "auth-code.txt"  # the user's input, outside the scanned dir
    code_file.write_text(f"https://example.com/cb?auth_code={SECRET_CODE}&state=x\n")
    outputs: list[tuple[str, str]] = []
    with hostile_server(_echo) as server:
        secret_env = {
            "TIKTOK_ACCESS_TOKEN": SECRET_TOKEN,
            "TIKTOK_APP_ID": APP_ID,
            "TIKTOK_APP_SECRET": SECRET_APP,
            "TIKTOK_API_BASE": server.base_url,
        }

        def cli(*args: str, exit_code: int | tuple[int, ...]) -> None:
            command = [*args]
            if args[0] in ("check", "run", "audiences"):
                command += ["--project-dir", str(PROJECT_DIR)]
            result = env.runner.invoke(app, command, env=env.env(**secret_env))
            codes = exit_code if isinstance(exit_code, tuple) else (exit_code,)
            assert result.exit_code in codes, (args, result.output)
            assert "Traceback" not in result.output
            outputs.append((" ".join(args), result.stdout + result.stderr))

        for args in (("--debug",), ("--debug", "--json")):
            cli("run", *args, exit_code=2)  # 40105: TikTok refuses the token
            cli("check", *args, exit_code=2)
            cli("audiences", *args, exit_code=0)  # nothing created yet: nothing to ask
            cli("advertisers", *args, exit_code=2)
        cli(
            "auth",
            "--auth-code-file",
            str(code_file),
            "--save-to",
            str(tmp_path / "credentials.json"),
            "--debug",
            exit_code=(1, 2),  # 50000 leaves the single-use code in doubt (1), 40105 is 2
        )
        # A real process: whatever reaches its stderr counts too.
        settings = {k: v for k, v in env.env(**secret_env).items() if v is not None}
        process = subprocess.run(
            [sys.executable, "-m", "sync", "run", "--debug", "--project-dir", str(PROJECT_DIR)],
            env={**{k: v for k, v in os.environ.items() if k not in settings}, **settings},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert process.returncode == 2, process.stderr
        outputs.append(("subprocess run", process.stdout + process.stderr))
        assert len(server.requests) >= 10
        assert {r.path for r in server.requests} >= {
            "segment/audience/",
            "dmp/custom_audience/list/",
            "oauth2/advertiser/get/",
            "oauth2/access_token/",
        }

    # dbt, with the secrets in its environment as in a CI job, rebuilds the ledger's views.
    env.project.run("--debug", "run", "--select", "tiktok_sync.sync", env=secret_env)

    assert any("DEBUG sync.tiktok" in text for _, text in outputs)  # --debug was really on
    assert any("[redacted]" in text for _, text in outputs)  # the echoes did arrive
    for where, text in outputs:
        assert _leaks(text) == set(), f"pieces of a secret in the output of {where}"

    workdir = env.project.workdir
    assert (workdir / "target").is_dir() and (workdir / "logs").is_dir()
    scanned = 0
    for path in workdir.rglob("*"):
        if path.is_file() and path.suffix != ".duckdb":
            scanned += 1
            assert _leaks(path.read_bytes().decode("utf-8", "replace")) == set(), path
    assert scanned >= 5

    with duckdb.connect(str(env.db_path), read_only=True) as con:
        columns = con.execute(
            "select table_name, column_name from information_schema.columns "
            "where data_type = 'VARCHAR'"
        ).fetchall()
        tables: dict[str, list[str]] = {}
        for table, column in columns:
            tables.setdefault(table, []).append(column)
        assert len(tables) >= 15
        # One query per table or view: a view that normalises identifiers is evaluated once.
        for table, names in tables.items():
            selected = ", ".join(f'"{name}"' for name in names)
            rows = con.execute(f'select distinct {selected} from "{table}"').fetchall()
            text = "\n".join(str(v) for row in rows for v in row if v is not None)
            assert _leaks(text) == set(), f"pieces of a secret in {table} ({names})"
        history = con.execute(
            "select error_code, error_message, request_id from tiktok_sync_run_history"
        ).fetchall()
    assert history and all(code == 40105 for code, _, _ in history)
    assert all("[redacted]" in (message or "") for _, message, _ in history)
