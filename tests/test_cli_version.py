"""`tiktok-sync --version` names the version of the installed package (pyproject.toml's)."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_version_is_the_one_pyproject_declares() -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]

    proc = subprocess.run(
        [sys.executable, "-m", "sync", "--version"], capture_output=True, text=True, timeout=60
    )

    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"tiktok-sync {declared}\n"
    assert proc.stderr == ""
