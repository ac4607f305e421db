"""One run at a time: concurrent runs and a warehouse held by another process.

A run holds the warehouse from before its first read to its end (sync/warehouse.py), each
engine its own way (README "One run at a time"):

- DuckDB lets one process hold a file read-write and shuts every other process out, and a
  running `dbt build` holds it the same way for its whole invocation (dbt-duckdb keeps one
  connection): every command against a held file refuses.
- Postgres: the run holds a session advisory lock on the target's schema. A second run
  refuses; `plan`, `check` and `audiences` only read and go ahead; a `dbt build` of the sync
  models (the views the run reads) stops with one clear error; the lock ends with the run's
  session, so a run killed with SIGKILL leaves nothing held.

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
import time
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
from tests.warehouses import Warehouses


@pytest.fixture
def env(engine: Warehouses, tmp_path: Path) -> Iterator[SyncEnv]:
    with sync_env(engine, tmp_path / "dbt") as sync:
        yield sync


def _start_run(env: SyncEnv) -> subprocess.Popen[str]:
    env.warehouse.before_another_process()
    settings = {k: v for k, v in env.env().items() if v is not None}
    base = {k: v for k, v in os.environ.items() if k not in env.env()}
    return subprocess.Popen(
        [sys.executable, "-m", "sync", "run", "--json", "--project-dir", str(PROJECT_DIR)],
        env={**base, **settings},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.every_engine
def test_two_runs_started_together_one_proceeds_the_other_refuses(env: SyncEnv) -> None:
    # TikTok is slow, so the winner surely still holds the warehouse when the other one tries
    # to open it: on the first mapping, and on Spark on both audiences' creates (one after the
    # other: ~50 s). Spark's loser learns of the held metastore only after its metastore client
    # retried for ~25 s (sync/engines/spark.py); a winner done by then lets it through.
    slow = [{"kind": "slow", "path": "segment/mapping/", "count": 1, "delay": 2}]
    if env.engine == "spark":
        slow.append({"kind": "slow", "path": "segment/audience/", "count": 2, "delay": 25})
    env.emulator.set_faults(slow)

    runs = [_start_run(env), _start_run(env)]
    # A guard against a hang, wide enough for Spark: each run starts a JVM of its own first.
    outputs = [p.communicate(timeout=600) for p in runs]
    finished = [(p.returncode, out, err) for p, (out, err) in zip(runs, outputs, strict=True)]

    assert sorted(code for code, _, _ in finished) == [0, 2], finished
    (_, _, refused_err) = next(f for f in finished if f[0] == 2)
    assert "is locked by" in refused_err and "wait for it to finish" in refused_err
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


@pytest.mark.engines("duckdb")  # Postgres: the two tests below
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
    # Nothing half-written for a caller parsing --json: the error object, and one line on stderr.
    error = json.loads(result.stdout)["error"]
    assert error["code"] == "warehouse" and error["exit_code"] == 2
    assert result.stderr == f"error: {error['message']}\n"
    assert "another process" in result.stderr


@pytest.mark.engines("postgres")
def test_a_run_holding_postgres_refuses_a_second_run_and_a_dbt_build_of_the_sync_models(
    env: SyncEnv,
) -> None:
    # TikTok never answers a mapping in time, retries included (each gets the client's 30 s
    # read timeout): the run holds its advisory lock for minutes, until it is killed at the
    # end, however slowly this machine gets through the checks below.
    env.emulator.set_faults(
        [{"kind": "slow", "path": "segment/mapping/", "count": 1000, "delay": 120}]
    )
    holder = _start_run(env)
    try:
        deadline = time.monotonic() + 60

        # The first audience's mappings held, the run begins the next one (its create) and
        # then sends nothing more until they are answered.
        def creates() -> int:
            return len([r for r in env.api_requests() if r["endpoint"] == "segment/audience/"])

        while not (env.emulator.faults()["counts"].get("slow") and creates() == 2):
            assert holder.poll() is None, holder.communicate()
            assert time.monotonic() < deadline, "the run never reached TikTok"
            time.sleep(0.05)
        writes = len([r for r in env.api_requests() if r["endpoint"] in WRITE_PATHS])

        second = env.cli("run", "--json")

        assert second.exit_code == 2, second.output
        assert json.loads(second.stdout)["error"]["exit_code"] == 2
        assert second.stderr.count("\n") == 1 and second.stderr.startswith("error: ")
        assert "Postgres" in second.stderr and "is locked by backend PID" in second.stderr
        assert "wait for it to finish" in second.stderr
        # Commands that only read go ahead while a run holds the lock.
        for command in ("plan", "check", "audiences"):
            read = env.cli(command, "--json")
            assert read.exit_code == 0, (command, read.output)
        assert len([r for r in env.api_requests() if r["endpoint"] in WRITE_PATHS]) == writes

        # `dbt build` of the views the run reads stops in their pre-hook, with the fix.
        build = env.project.run(
            "build", "--select", "tiktok_sync.sync", "--exclude-resource-type", "unit_test",
            check=False,
        )  # fmt: skip
        assert build.returncode == 1
        assert (
            "a tiktok-sync run holds schema tiktok_sync (Postgres advisory lock "
            "'tiktok_sync:tiktok_sync'); wait for it to finish, then run dbt build again"
        ) in build.stdout
        assert holder.poll() is None  # all of that while the run was running
    finally:
        holder.kill()
        holder.communicate(timeout=30)

    # The lock ended with the killed run's session: the next run proceeds and converges.
    env.emulator.clear_faults()
    deadline = time.monotonic() + 10
    while env.query("select count(*) from pg_locks where locktype = 'advisory'")[0][0]:
        assert time.monotonic() < deadline, "the killed run's lock outlived it"
        time.sleep(0.05)
    result = env.cli("run")
    assert result.exit_code == 0, result.output
    env.assert_converged()
