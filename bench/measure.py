"""Run one command as a child process and measure it: wall time, CPU time and peak RSS.

Peak RSS is the kernel's `ru_maxrss` of the command, read with `os.wait4()` when it exits: the
largest resident set of the process (or of the largest descendant it waited for; dbt,
`tiktok-sync` and the baseline are single processes). Each measurement is its own process.

The command is started by a small launcher (this file run as a script), not by the runner
itself: Linux carries the resident set a process had before `execve` into its `ru_maxrss`, and
a child spawned straight from the runner (vfork: the runner's own memory) would report at least
the runner's high-water mark, which holds the emulator's members at 10M. The launcher is a
plain interpreter of ~10 MB, so that floor is negligible.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Measurement:
    """One finished command."""

    wall_seconds: float
    cpu_seconds: float  # user + system of the command and its waited-for descendants
    peak_rss_bytes: int
    returncode: int
    stdout: str
    stderr: str

    @property
    def peak_rss_mb(self) -> float:
        return self.peak_rss_bytes / 1024 / 1024

    def check(self, what: str) -> Measurement:
        if self.returncode != 0:
            raise RuntimeError(
                f"{what} failed (exit {self.returncode}):\n{self.stdout[-4000:]}\n"
                f"{self.stderr[-4000:]}"
            )
        return self


def measure(
    cmd: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 7200,
) -> Measurement:
    """Run `cmd` to completion; stdout and stderr go to temporary files, not pipes.

    Files rather than pipes: a command that writes a lot would block on a full pipe while
    nobody reads it, and reading pipes on threads would add the runner's work to the figures.
    """
    with (
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
        tempfile.TemporaryDirectory() as tmp,
    ):
        report = Path(tmp) / "usage.json"
        launcher = [sys.executable, "-S", "-E", __file__, str(report), "--", *cmd]
        proc = subprocess.Popen(
            launcher,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            stdout=out,
            stderr=err,
            start_new_session=True,  # a timeout stops the command too, not just the launcher
        )
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode("utf-8", "replace")
        stderr = err.read().decode("utf-8", "replace")
        if not report.exists():
            return Measurement(0.0, 0.0, 0, proc.returncode or -1, stdout, stderr)
        usage = json.loads(report.read_text())
        return Measurement(
            wall_seconds=usage["wall_seconds"],
            cpu_seconds=usage["cpu_seconds"],
            peak_rss_bytes=usage["maxrss_kb"] * 1024,  # Linux reports kilobytes
            returncode=usage["returncode"],
            stdout=stdout,
            stderr=stderr,
        )


def _launch(report: str, cmd: list[str]) -> int:
    """Spawn `cmd` (inheriting stdout, stderr, cwd, environment), wait, write its usage."""
    started = time.perf_counter()
    pid = os.posix_spawnp(cmd[0], cmd, dict(os.environ))
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - started
    returncode = os.waitstatus_to_exitcode(status)
    with open(report, "w") as f:
        json.dump(
            {
                "wall_seconds": wall,
                "cpu_seconds": usage.ru_utime + usage.ru_stime,
                "maxrss_kb": usage.ru_maxrss,
                "returncode": returncode,
            },
            f,
        )
    return 0


if __name__ == "__main__":
    # python measure.py REPORT -- COMMAND...
    sys.exit(_launch(sys.argv[1], sys.argv[3:]))
