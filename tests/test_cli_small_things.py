"""Small things users hit on the command line: each failed before its fix."""

from __future__ import annotations

import re
import subprocess
import sys

from typer.testing import CliRunner

from sync.cli import app


def test_an_impossible_emulator_port_is_one_line_and_exit_2() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "sync", "emulator", "--port", "80000"],
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert proc.returncode == 2
    assert proc.stdout == ""
    (line,) = proc.stderr.splitlines()
    assert "80000" in line and "pick another --port" in line


def test_flags_show_no_value_in_help() -> None:
    result = CliRunner().invoke(app, ["run", "--help"], env={"COLUMNS": "200"})

    assert result.exit_code == 0
    flags = [line for line in result.stdout.splitlines() if "--allow-mass-removal" in line]
    assert flags and not re.search(r"--allow-mass-removal\s+<", flags[0]), flags[0]
    assert "<bool>" not in result.stdout
