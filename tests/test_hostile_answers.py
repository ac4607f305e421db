"""A server that answers slowly or hugely cannot hold a run past its bound or fill its memory.

`requests`' read timeout is per socket read, so an answer trickled a byte at a time, status line
and headers included, never trips it; and a body is read whole unless the client stops it.
Against a tiny hostile server on loopback (tests/hostile.py; the
emulator answers like TikTok, so it cannot do this), `tiktok-sync` runs as a real process:
`run --max-duration 5` and `check --max-duration 5` end within about a second of the bound
(counted from their first request: starting Python and reading the warehouse on a loaded
machine is not what is bounded), and a 400 MB answer leaves the process' peak memory where a
small answer leaves it. Either way the run
exits 1 with every change still pending, as after any transport failure.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sync.tiktok.client import MIN_READ_TIMEOUT
from tests.dbt_support import PROJECT_DIR
from tests.hostile import Answer, hostile_server, huge, small, trickle
from tests.sync_support import SyncEnv, sync_env

pytestmark = pytest.mark.engines("duckdb")  # the client's transport, not the warehouse

LIMIT = 5.0
SLACK = 2.0  # the process' own ending: writing the run history, exiting
HUGE = 400 * 1024 * 1024


@pytest.fixture
def env(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> Iterator[SyncEnv]:
    with sync_env(tmp_path_factory, tmp_path / "dbt") as sync:
        yield sync


def _tiktok_sync(
    env: SyncEnv, base_url: str, *args: str, timeout: float
) -> tuple[int, str, str, float]:
    """`python -m sync <args>` against `base_url`: exit code, stdout, stderr and when it ended."""
    settings = {k: v for k, v in env.env(TIKTOK_API_BASE=base_url).items() if v is not None}
    command = [sys.executable, "-m", "sync", *args, "--project-dir", str(PROJECT_DIR)]
    process = subprocess.Popen(
        command,
        env={**{k: v for k, v in os.environ.items() if k not in settings}, **settings},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        pytest.fail(f"tiktok-sync {' '.join(args)} still running after {timeout} s")
    return process.returncode, stdout, stderr, time.monotonic()


def _run_measured(command: list[str], environ: dict[str, str], timeout: float) -> tuple[int, int]:
    """Exit code and peak resident memory (KB) of `command`, from the kernel's accounting of
    that one child (os.wait4), not of every child this test process ever had."""
    process = subprocess.Popen(
        command, env=environ, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + timeout
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            process.returncode = os.waitstatus_to_exitcode(status)
            return process.returncode, usage.ru_maxrss
        if time.monotonic() > deadline:
            process.kill()
            os.wait4(process.pid, 0)
            pytest.fail(f"{command} still running after {timeout} s")
        time.sleep(0.1)


def _all_pending(env: SyncEnv) -> None:
    desired = sum(len(h) for by_type in env.desired().values() for h in by_type.values())
    assert env.acknowledged() == {}
    assert sum(env.pending().values()) == desired > 0


@pytest.mark.parametrize("command", ["run", "check"])
def test_a_trickled_answer_cannot_hold_a_command_past_max_duration(
    env: SyncEnv, command: str
) -> None:
    with hostile_server(trickle(0.5)) as server:
        code, stdout, stderr, ended = _tiktok_sync(
            env,
            server.base_url,
            command,
            "--json",
            "--max-duration",
            str(LIMIT),
            timeout=LIMIT + 60,
        )
        assert server.requests  # it was asked, and it trickled
    elapsed = ended - server.requests[0].at
    assert elapsed < LIMIT + MIN_READ_TIMEOUT + SLACK, (elapsed, stderr)
    assert "Traceback" not in stderr
    if command == "run":
        assert code == 1, stderr  # documented: pending changes go out on the next run
        report = json.loads(stdout)
        assert sum(a["adds_pending"] for a in report["audiences"]) > 0
        _all_pending(env)
    else:
        assert code == 2, stderr  # documented: a check failed
        checks = {c["name"]: c for c in json.loads(stdout)["checks"]}
        assert checks["token"]["status"] == "FAIL", checks


def test_a_huge_answer_fails_the_request_without_filling_memory(env: SyncEnv) -> None:
    def run_measured(answer: Answer) -> tuple[int, int]:
        with hostile_server(answer) as server:
            settings = {
                k: v for k, v in env.env(TIKTOK_API_BASE=server.base_url).items() if v is not None
            }
            environ = {**{k: v for k, v in os.environ.items() if k not in settings}, **settings}
            # The bound only shortens the retries' backoff (five attempts would take ~25 s):
            # a retry still reads the answer again, so a buffer kept across retries would show.
            command = [sys.executable, "-m", "sync", "run", "--max-duration", "8"]
            command += ["--project-dir", str(PROJECT_DIR)]
            measured = _run_measured(command, environ, timeout=120)
            assert len(server.requests) >= 2  # the failed request was retried
        return measured

    # The same run answered briefly is the baseline for both ways of sending 400 MB: with a
    # Content-Length, and until the connection closes. Each run fails, so the next one starts
    # from the same state: everything pending.
    baseline_code, baseline_kb = run_measured(small(50000))
    assert baseline_code == 1
    for declare_length in (True, False):
        code, peak_kb = run_measured(huge(HUGE, declare_length=declare_length))
        assert code == 1, declare_length  # a transport failure: everything stays pending
        # The answer alone is 400 MB; the client reads at most 16 MB of it.
        assert peak_kb < baseline_kb + 64 * 1024, (declare_length, f"peak {peak_kb // 1024} MB")
        _all_pending(env)
