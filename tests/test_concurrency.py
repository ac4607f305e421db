"""One run at a time: concurrent runs and a warehouse held by another process.

DuckDB lets one process hold a file read-write and shuts every other process out; a run holds
the warehouse from before its first request to its end (sync/warehouse.py), and a running
`dbt build` holds it the same way for its whole invocation (dbt-duckdb keeps one connection).
So of two runs started together exactly one proceeds, the other refuses in one line with exit
2 before sending anything, and nothing goes to TikTok twice. tests/test_sync_faults.py covers
a second run started while the first is surely running; this adds the simultaneous start and
every command against a held warehouse.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.dbt_support import PROJECT_DIR
from tests.sync_support import (
    WRITE_PATHS,
    SyncEnv,
    sync_env,
    warehouse_held_by_another_process,
)


@pytest.fixture
def env(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> Iterator[SyncEnv]:
    with sync_env(tmp_path_factory, tmp_path / "dbt") as sync:
        yield sync


def _start_run(env: SyncEnv) -> subprocess.Popen[str]:
    settings = {k: v for k, v in env.env().items() if v is not None}
    base = {k: v for k, v in os.environ.items() if k not in env.env()}
    return subprocess.Popen(
        [sys.executable, "-m", "sync", "run", "--json", "--project-dir", str(PROJECT_DIR)],
        env={**base, **settings},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_two_runs_started_together_one_proceeds_the_other_refuses(env: SyncEnv) -> None:
    # TikTok is slow on the first mapping, so the winner surely still holds the warehouse when
    # the other one tries to open it.
    env.emulator.set_faults([{"kind": "slow", "path": "segment/mapping/", "count": 1, "delay": 2}])

    runs = [_start_run(env), _start_run(env)]
    outputs = [p.communicate(timeout=120) for p in runs]
    finished = [(p.returncode, out, err) for p, (out, err) in zip(runs, outputs, strict=True)]

    assert sorted(code for code, _, _ in finished) == [0, 2], finished
    (_, _, refused_err) = next(f for f in finished if f[0] == 2)
    assert "another process" in refused_err and "wait for it to finish" in refused_err
    assert refused_err.count("\n") == 1 and "Traceback" not in refused_err
    # Nothing went twice: each identifier mapped once, each audience created once.
    sent = [
        (item["audience_ids"][0], item["id"])
        for r in env.api_requests()
        if r["endpoint"] == "segment/mapping/"
        for row in r["body"]["batch_data"]
        for item in row
    ]
    assert len(sent) == len(set(sent))
    env.assert_converged()
    assert len(env.emulator.audiences()) == 3
    assert len({h["run_id"] for h in env.history()}) == 1  # the refused run recorded nothing


@pytest.mark.parametrize("command", ["run", "plan", "check", "audiences"])
def test_a_warehouse_held_by_another_process_is_one_line_and_exit_2(
    env: SyncEnv, command: str
) -> None:
    with warehouse_held_by_another_process(env.db_path):
        result = env.cli(command, "--json")

    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert not [r for r in env.api_requests() if r["endpoint"] in WRITE_PATHS]  # reads only
    if command == "check":  # check reports it as its failing warehouse check, with the fix
        warehouse = json.loads(result.stdout)["checks"][0]
        assert warehouse["status"] == "FAIL" and "locked by another process" in warehouse["detail"]
        assert "wait for" in warehouse["fix"]
        return
    assert result.stdout == ""  # nothing half-written for a caller parsing --json
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: ")
    assert "another process" in result.stderr
