"""TIKTOK_ACCESS_TOKEN wins over the credentials file, and an exposed file is named.

With the variable set, a credentials file that is corrupt, unreadable or a directory must not
stop `plan`, `run` or `check`: the token the user gave works without it, and
stderr says in one line that the file was ignored. A credentials file other users can open gets
a one-line warning with the command that fixes it, as ssh does for a private key (the file
still works: why warn rather than refuse is in `sync.settings.read_credentials_file`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.sync_support import TOKEN, SyncEnv, sync_env

pytestmark = pytest.mark.engines("duckdb")  # the client's settings, not the warehouse


@pytest.fixture
def env(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> Iterator[SyncEnv]:
    with sync_env(tmp_path_factory, tmp_path / "dbt") as sync:
        yield sync


def _private(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(0o600)  # only the breakage under test: no warning about the mode


def _corrupt(path: Path) -> None:
    _private(path, '{"access_token": "half a fil')


def _directory(path: Path) -> None:
    path.mkdir()


def _unreadable(path: Path) -> None:
    # chmod 000 does not stop root; a symlink loop cannot be read by anyone (ELOOP).
    if os.geteuid() != 0:
        path.write_text(json.dumps({"access_token": "from-the-file"}))
        path.chmod(0o000)
    else:
        os.symlink(path, path)


def _not_an_object(path: Path) -> None:
    _private(path, '["a", "list"]')


BROKEN: dict[str, Callable[[Path], None]] = {
    "corrupt": _corrupt,
    "directory": _directory,
    "unreadable": _unreadable,
    "not-an-object": _not_an_object,
}


@pytest.mark.parametrize("breakage", sorted(BROKEN))
def test_the_access_token_variable_wins_over_a_broken_credentials_file(
    env: SyncEnv, tmp_path: Path, breakage: str
) -> None:
    credentials = tmp_path / "credentials.json"
    BROKEN[breakage](credentials)
    overrides = {"TIKTOK_CREDENTIALS_FILE": str(credentials), "TIKTOK_ACCESS_TOKEN": TOKEN}

    for command in ("plan", "run", "check"):
        result = env.cli(command, env=overrides)
        assert result.exit_code == 0, (command, result.output)
        warnings = [line for line in result.stderr.splitlines() if str(credentials) in line]
        assert len(warnings) == 1, (command, result.stderr)
        assert "ignored, since TIKTOK_ACCESS_TOKEN is set" in warnings[0]
        assert "Traceback" not in result.output
    env.assert_converged()

    # Without the variable the file is the only source: a clear error, exit 2, as before.
    result = env.cli("run", env={**overrides, "TIKTOK_ACCESS_TOKEN": None})
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"error: credentials file {credentials}")
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_credentials_file_other_users_can_read_is_named_with_the_fix(
    env: SyncEnv, tmp_path: Path
) -> None:
    credentials = tmp_path / "credentials.json"
    credentials.write_text(json.dumps({"access_token": TOKEN}))
    credentials.chmod(0o644)
    from_file = {"TIKTOK_CREDENTIALS_FILE": str(credentials), "TIKTOK_ACCESS_TOKEN": None}

    for command in ("plan", "run", "check"):
        result = env.cli(command, env=from_file)
        assert result.exit_code == 0, (command, result.output)  # warned, not refused
        warnings = [line for line in result.stderr.splitlines() if "WARNING" in line]
        assert len(warnings) == 1, (command, result.stderr)
        assert "mode 0644" in warnings[0]
        assert warnings[0].endswith(f"run `chmod 600 {credentials}`")

    credentials.chmod(0o600)
    result = env.cli("check", env=from_file)
    assert result.exit_code == 0, result.output
    assert "WARNING" not in result.stderr
