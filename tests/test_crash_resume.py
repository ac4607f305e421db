"""Crash and resume: `tiktok-sync run` killed with SIGKILL at the worst moments, then run again.

The windows that matter (README "Guarantees": at-least-once, no duplicate audiences): a batch in
flight (or several side by side), TikTok applying a change the process never hears about (the
acknowledgement and the state write never happen), and an audience created at TikTok before its id
reaches the registry. The emulator widens each window with a `slow` fault or its `latency` (it
sleeps, then applies the request normally), and the test kills the separate `tiktok-sync run`
process while TikTok sleeps; TikTok then applies the request for a process that is gone. Between the
kill and the next run the audiences change, so a member TikTok took without the warehouse knowing
must be removed again. The next run must converge: TikTok holds exactly the desired members, the
state says so, each audience exists once.

No test-only hook in the library: the process is killed from outside, as an OOM killer or a
lost CI runner would.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.dbt_support import PROJECT_DIR
from tests.sync_support import SyncEnv, demo_day1_members, sync_env
from tests.warehouses import Warehouses

HIGH_VALUE = "demo_high_value_customers"  # streaming, mirror; synced first
NEWSLETTER = "demo_newsletter_subscribers"  # customer file, mirror
# On crucible each resume after the kill took 6-7 minutes here (20 for the three tests), past the
# BigQuery target's time in CI; the Snowflake double runs them.
SLOW_ON_CRUCIBLE = "crucible took 6-7 minutes per resume after a kill here; Snowflake runs it"
SLOW = 1.5  # seconds TikTok sleeps on the request the run is killed in


@pytest.fixture
def env(engine: Warehouses, tmp_path: Path) -> Iterator[SyncEnv]:
    with sync_env(engine, tmp_path / "dbt") as sync:
        yield sync


@pytest.fixture
def members(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return demo_day1_members(tmp_path_factory)


def start_run(env: SyncEnv) -> subprocess.Popen[str]:
    """`tiktok-sync run` as its own process, pointed at this test's warehouse and emulator."""
    env.warehouse.before_another_process()
    settings = env.env()
    process_env = {k: v for k, v in os.environ.items() if k not in settings}
    process_env.update({k: v for k, v in settings.items() if v is not None})
    return subprocess.Popen(
        [sys.executable, "-m", "sync", "run", "--project-dir", str(PROJECT_DIR)],
        env=process_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(condition: Callable[[], bool], process: subprocess.Popen[str]) -> None:
    # A guard against a hang, wide enough for Spark: the run starts a JVM before its first read.
    deadline = time.monotonic() + 300
    while not condition():
        if process.poll() is not None:
            out, err = process.communicate()
            raise AssertionError(f"the run ended before the window: {out}\n{err}")
        assert time.monotonic() < deadline, "the window never came"
        time.sleep(0.01)


def kill(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=30)
    assert process.returncode == -signal.SIGKILL


def slow_fired(env: SyncEnv) -> bool:
    return env.emulator.faults()["counts"].get("slow", 0) >= 1


def slow_landed(env: SyncEnv) -> bool:
    """The slow request was handled (applied, or refused) by TikTok after its client died."""
    return any(r["fault"] == "slow" and r["code"] is not None for r in env.emulator.requests())


def kill_in_slow_request(env: SyncEnv, path: str) -> None:
    env.emulator.set_faults([{"kind": "slow", "path": path, "count": 1, "delay": SLOW}])
    process = start_run(env)
    wait_for(lambda: slow_fired(env), process)
    kill(process)
    env.outlive_killed_runs()
    deadline = time.monotonic() + SLOW + 10
    while not slow_landed(env):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    env.emulator.clear_faults()


@pytest.mark.every_engine(bigquery=SLOW_ON_CRUCIBLE)
def test_killed_mid_batch_after_tiktok_applied_it_converges(env: SyncEnv, members: Path) -> None:
    kill_in_slow_request(env, "segment/mapping/")

    # TikTok applied the batch; the killed run recorded none of it. (The next audience may
    # have been begun, its create sent, while that batch was in flight.)
    audience_id = env.registry()[HIGH_VALUE]
    assert audience_id in {a["audience_id"] for a in env.emulator.audiences()}
    applied = {h for _, h in env.mapped_hashes("add")}
    assert applied and env.acknowledged() == {}
    # Some of the members TikTok took leave before the next run: they must not stay.
    env.use_members(members, demo_day=1)
    leaving = applied - {h for hs in env.desired()[HIGH_VALUE].values() for h in hs}
    assert leaving

    result = env.cli("run")

    assert result.exit_code == 0, result.output
    env.assert_converged()
    assert len(env.emulator.audiences()) == 3


def test_killed_with_requests_in_flight_then_resumed_converges(env: SyncEnv, members: Path) -> None:
    # Every mapping request takes SLOW seconds at TikTok: the run keeps several in flight.
    env.emulator.configure(latency={"segment/mapping/": {"fixed": SLOW}})
    process = start_run(env)
    wait_for(lambda: env.emulator.in_flight()["in_flight"] >= 2, process)
    kill(process)
    deadline = time.monotonic() + SLOW + 10
    while env.emulator.in_flight()["in_flight"]:  # TikTok applies them for a process now gone
        assert time.monotonic() < deadline
        time.sleep(0.02)
    env.emulator.configure(latency={})

    # TikTok took the batches in flight; the killed run recorded none of them.
    applied = env.mapped_hashes("add")
    registry = env.registry()
    recorded = {
        (registry[key], h)
        for key, by_type in env.acknowledged().items()
        for hashes in by_type.values()
        for h in hashes
    }
    assert len({audience_id for audience_id, _ in applied - recorded}) >= 1
    assert len(applied - recorded) > len(recorded & applied)
    env.use_members(members, demo_day=1)

    result = env.cli("run")

    assert result.exit_code == 0, result.output
    env.assert_converged()
    assert len(env.emulator.audiences()) == 3


def test_killed_while_tiktok_applies_a_customer_file_update_converges(
    env: SyncEnv, members: Path
) -> None:
    assert env.cli("run").exit_code == 0
    env.use_members(members, demo_day=1)
    newsletter = env.registry()[NEWSLETTER]
    before = env.emulator.members(newsletter or "")["EMAIL_SHA256"]

    kill_in_slow_request(env, "dmp/custom_audience/update/")

    # The APPEND reached TikTok; the state never heard of it.
    appended = env.emulator.members(newsletter or "")["EMAIL_SHA256"] - before
    assert appended
    assert appended.isdisjoint(env.acknowledged()[NEWSLETTER]["EMAIL_SHA256"])
    env.use_members(members, demo_day=0)  # and the new members leave again

    result = env.cli("run")

    assert result.exit_code == 0, result.output
    env.assert_converged()


@pytest.mark.every_engine(bigquery=SLOW_ON_CRUCIBLE)
@pytest.mark.parametrize(
    ("audience_key", "create_path"),
    [
        pytest.param(HIGH_VALUE, "segment/audience/", id="streaming"),
        pytest.param(NEWSLETTER, "dmp/custom_audience/create/", id="customer_file"),
    ],
)
def test_killed_between_create_and_registry_write_creates_no_duplicate(
    env: SyncEnv, members: Path, audience_key: str, create_path: str
) -> None:
    kill_in_slow_request(env, create_path)

    # TikTok created the audience; the registry has only the pending row written before.
    (made,) = [a["audience_id"] for a in env.emulator.audiences() if a["name"] == audience_key]
    assert env.registry()[audience_key] is None
    env.use_members(members, demo_day=1)

    result = env.cli("run")

    assert result.exit_code == 0, result.output
    assert "adopted TikTok audience" in result.stdout
    assert env.registry()[audience_key] == made
    env.assert_converged()


def test_killed_at_random_points_then_resumed_converges(env: SyncEnv, members: Path) -> None:
    rng = random.Random(20)
    kills = 0
    for attempt in range(4):
        # TikTok is slow on 40% of the requests, so kills land in every kind of window.
        env.emulator.set_faults(
            [{"kind": "slow", "path": "", "rate": 0.4, "delay": 0.4}], seed=attempt
        )
        env.use_members(members, demo_day=attempt % 2)
        env.emulator.clear_requests()
        process = start_run(env)
        # Once it talks to TikTok, at a random moment of its run.
        wait_for(
            lambda: bool(env.emulator.faults()["counts"]) or bool(env.emulator.requests()), process
        )
        time.sleep(rng.uniform(0, 1.5))
        if process.poll() is None:
            kill(process)
            kills += 1
        else:
            process.communicate()
            assert process.returncode in (0, 1)
        time.sleep(0.5)  # slow requests still land after their client died
        env.emulator.clear_faults()
    assert kills >= 2

    result = env.cli("run")

    assert result.exit_code == 0, result.output
    env.assert_converged()


@pytest.mark.parametrize(
    ("audience_key", "create_path"),
    [
        pytest.param(HIGH_VALUE, "segment/audience/", id="streaming"),
        pytest.param(NEWSLETTER, "dmp/custom_audience/create/", id="customer_file"),
    ],
)
def test_a_create_answered_after_the_timeout_makes_exactly_one_audience(
    env: SyncEnv, audience_key: str, create_path: str
) -> None:
    # TikTok answers the create after the client gave up, and creates it all the same.
    env.emulator.set_faults([{"kind": "slow", "path": create_path, "count": 1, "delay": 0.6}])

    first = env.run_engine(env.client(read_timeout=0.3), audiences=[audience_key])

    assert first.exit_code == 1  # not created again in this run: the late create may land
    assert first.audiences[0].error is not None
    deadline = time.monotonic() + 10
    while not slow_landed(env):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    second = env.run_engine(env.client(), audiences=[audience_key])
    assert second.exit_code == 0
    assert [a["name"] for a in env.emulator.audiences()] == [audience_key]
    assert (
        env.tiktok()[audience_key]
        == env.desired()[audience_key]
        == env.acknowledged()[audience_key]
    )
    assert env.unconfirmed() == 0
