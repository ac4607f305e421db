"""`tiktok-sync run` fixes glibc's mmap threshold (sync/memory.py); its effect on peak RSS is
measured in bench/ (bench/README.md, "Share of the quota"), not here."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

from sync.memory import return_large_blocks_when_freed

GLIBC = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"


@pytest.mark.skipif(not GLIBC, reason="mallopt is glibc's; elsewhere the call does nothing")
def test_glibc_takes_the_threshold() -> None:
    # In a process of its own: the setting is process-wide and lasts.
    code = "from sync.memory import return_large_blocks_when_freed as f; print(f())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"


def test_other_platforms_are_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "darwin")
    assert return_large_blocks_when_freed() is False
