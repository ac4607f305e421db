"""A DuckDB target is rendered by dbt in a process of its own (sync.engines.dbt_target), so that
dbt's modules never load into the sync process: it must give what dbt gives in-process, the
same one-line errors, and a clear one when that process fails or hangs. The test suite itself
has dbt loaded (tests/conftest.py), so these tests call both paths by name.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from sync.engines import dbt_target
from sync.errors import ConfigError
from tests.dbt_support import PROJECT_DIR

PROFILE = "tiktok_sync_integration_tests"


def both(output: dict[str, Any]) -> tuple[dbt_target.DbtTarget, dbt_target.DbtTarget]:
    """(rendered in a child process, rendered in this one)."""
    child = dbt_target._render_in_child(output, PROFILE, "warehouse")
    here = dbt_target._render_here(output, PROFILE, "warehouse", "duckdb")
    return child, here


def test_the_child_renders_what_dbt_renders_in_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIKTOK_TEST_WAREHOUSE", str(tmp_path / "audiences.duckdb"))
    output = {
        "type": "duckdb",
        "path": "{{ env_var('TIKTOK_TEST_WAREHOUSE') }}",
        "schema": "{{ 'audi' ~ 'ences' }}",
        "threads": 4,
        "settings": {
            "preserve_insertion_order": False,
            "threads": 2,
            "s3_region": "{{ env_var('TIKTOK_TEST_UNSET_REGION', 'eu-west-1') }}",
        },
        "config_options": {"allow_unsigned_extensions": True},
    }

    child, here = both(output)

    assert (child.type, child.database, child.schema) == (here.type, here.database, here.schema)
    for key in ("path", "settings", "config_options"):
        assert getattr(child.credentials, key) == getattr(here.credentials, key), key
    assert child.credentials.path == str(tmp_path / "audiences.duckdb")
    assert child.schema == "audiences"
    assert child.credentials.settings["s3_region"] == "eu-west-1"
    assert child.credentials.settings["preserve_insertion_order"] is False


def test_an_unset_env_var_is_the_same_line_from_the_child(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TIKTOK_TEST_UNSET_PATH", raising=False)
    output = {"type": "duckdb", "path": "{{ env_var('TIKTOK_TEST_UNSET_PATH') }}"}

    with pytest.raises(ConfigError) as in_child:
        dbt_target._render_in_child(output, PROFILE, "warehouse")
    with pytest.raises(ConfigError) as in_process:
        dbt_target._render_here(output, PROFILE, "warehouse", "duckdb")

    assert str(in_child.value) == str(in_process.value)
    assert str(in_child.value) == (
        "the dbt profile uses env_var('TIKTOK_TEST_UNSET_PATH') but TIKTOK_TEST_UNSET_PATH is "
        "not set; set it"
    )


def stand_in_interpreter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, script: str) -> None:
    """sys.executable becomes a shell script that reads the request and runs `script`."""
    interpreter = tmp_path / "python"
    interpreter.write_text(f"#!/bin/sh\ncat > /dev/null\n{script}\n")
    interpreter.chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(interpreter))


@pytest.mark.parametrize(
    ("script", "timeout", "ending"),
    [
        # what dbt printed is not shown: a traceback can quote a credential
        ("echo 'Traceback: motherduck_token=md-secret-1' >&2\nexit 3", 60.0, "exited with 3)"),
        ("echo '{\"rendered\": ' ; exit 0", 60.0, "exited with 0)"),
        ('echo \'{"rendered": {"path": 1}}\'', 60.0, "exited with 0)"),
        ("sleep 30", 1.0, "(it took over 1 s)"),
    ],
    ids=["fails", "answers-garbage", "answers-too-little", "hangs"],
)
def test_a_child_that_fails_or_hangs_is_one_line_with_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, script: str, timeout: float, ending: str
) -> None:
    stand_in_interpreter(tmp_path, monkeypatch, script)
    monkeypatch.setattr(dbt_target, "RENDER_TIMEOUT", timeout)

    with pytest.raises(ConfigError) as failed:
        dbt_target._render_in_child({"type": "duckdb", "path": "x.duckdb"}, PROFILE, "warehouse")

    message = str(failed.value)
    assert message.startswith(
        f"dbt could not render target 'warehouse' of profile '{PROFILE}'; run "
        "`dbt debug --target warehouse` to see why ("
    )
    assert message.endswith(ending)
    assert "md-secret" not in message
    assert "\n" not in message


def test_what_dbt_prints_before_the_answer_is_ignored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A deprecation notice of a future dbt must not cost the user their run.
    answer = {
        "path": "x.duckdb",
        "config_options": None,
        "settings": {},
        "database": "x",
        "schema": "main",
    }
    stand_in_interpreter(
        tmp_path,
        monkeypatch,
        f"echo 'Deprecated functionality: ...'\necho '{json.dumps({'rendered': answer})}'",
    )

    rendered = dbt_target._render_in_child({"type": "duckdb", "path": "x"}, PROFILE, "w")

    assert (rendered.schema, rendered.credentials.path) == ("main", "x.duckdb")


def test_without_an_interpreter_to_start_it_renders_in_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "executable", str(tmp_path / "no-such-python"))

    rendered = dbt_target._render_in_child({"type": "duckdb", "path": "x.duckdb"}, PROFILE, "w")

    assert rendered.credentials.path == "x.duckdb"


def test_a_duckdb_command_never_loads_dbt_into_its_process(tmp_path: Path) -> None:
    # `tiktok-sync plan` as a user runs it: a process without dbt loaded. The warehouse file
    # has no tables (dbt build never ran), so the command gets as far as reading it and stops.
    profiles = tmp_path / "profiles.yml"
    profiles.write_text(
        yaml.safe_dump(
            {
                PROFILE: {
                    "target": "warehouse",
                    "outputs": {
                        "warehouse": {"type": "duckdb", "path": str(tmp_path / "w.duckdb")}
                    },
                }
            }
        )
    )
    (tmp_path / "w.duckdb").touch()
    code = (
        "import json, sys\n"
        "from typer.testing import CliRunner\n"
        "from sync.cli import app\n"
        f"result = CliRunner().invoke(app, ['plan', '--project-dir', {str(PROJECT_DIR)!r}, "
        f"'--profiles-dir', {str(tmp_path)!r}])\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('dbt', 'dbt_common'))\n"
        "print(json.dumps({'exit': result.exit_code, 'stderr': result.stderr, "
        "'dbt': loaded}))\n"
    )
    env = {"TIKTOK_ADVERTISER_ID": "7000000000000000001", "PATH": "/usr/bin:/bin"}
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )

    assert proc.returncode == 0, proc.stderr
    answer = json.loads(proc.stdout.splitlines()[-1])
    assert answer["exit"] == 2
    assert "dbt build" in answer["stderr"]
    assert answer["dbt"] == []
