"""`tiktok-sync run` end to end: dbt-built demo warehouse, emulator over loopback, the real CLI.

Specifications (README "How it works" and "Guarantees"): after a run TikTok holds exactly the
desired members and the state says exactly what TikTok holds; only changes travel, and a run
without an upstream change sends no membership request; add_only audiences never lose a member.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.sync_support import SyncEnv, sync_env
from tests.warehouses import Warehouses

DEMO_AUDIENCES = {
    "demo_high_value_customers",
    "demo_mobile_app_users",
    "demo_newsletter_subscribers",
}
ADD_ONLY = "demo_mobile_app_users"


@pytest.fixture
def env(engine: Warehouses, tmp_path: Path) -> Iterator[SyncEnv]:
    with sync_env(engine, tmp_path / "dbt") as sync:
        yield sync


@pytest.mark.every_engine
def test_run_leaves_tiktok_holding_exactly_the_desired_members(env: SyncEnv) -> None:
    result = env.cli("run")

    assert result.exit_code == 0, result.output
    desired = env.desired()
    assert set(desired) == DEMO_AUDIENCES
    # Per audience and id type, GAID named AAID on the segment API (docs/tiktok-api.md §4.2).
    assert env.tiktok() == desired
    assert env.acknowledged() == desired
    assert env.pending() == {}
    audiences = env.emulator.audiences()
    assert sorted(a["name"] for a in audiences) == sorted(DEMO_AUDIENCES)
    assert {a["kind"] for a in audiences} == {"partner", "customer_file"}
    history = env.history()
    assert [(h["audience_key"], h["status"]) for h in history] == sorted(
        (key, "success") for key in DEMO_AUDIENCES
    )
    for row in history:
        sent = sum(len(hashes) for hashes in desired[row["audience_key"]].values())
        assert (row["adds_sent"], row["removes_sent"], row["adds_pending"]) == (sent, 0, 0)
        assert row["audience_id"] == env.registry()[row["audience_key"]]


@pytest.mark.every_engine
def test_runs_without_an_upstream_change_send_nothing(env: SyncEnv) -> None:
    assert env.cli("run").exit_code == 0
    env.emulator.clear_requests()

    again = env.cli("run")  # no dbt build in between
    assert again.exit_code == 0, again.output
    assert env.api_requests() == []

    env.rebuild(demo_day=0)  # a build, but nothing upstream changed
    third = env.cli("run", "--json")
    assert third.exit_code == 0, third.output
    assert env.api_requests() == []
    report = json.loads(third.stdout)
    assert {(a["adds_sent"], a["removes_sent"]) for a in report["audiences"]} == {(0, 0)}


def test_after_an_upstream_change_only_the_changed_identifiers_are_sent(env: SyncEnv) -> None:
    assert env.cli("run").exit_code == 0
    before = env.acknowledged()
    env.rebuild(demo_day=1)
    desired = env.desired()
    expected_adds = {k: _flat(desired[k]) - _flat(before[k]) for k in DEMO_AUDIENCES}
    expected_removes = {
        k: set() if k == ADD_ONLY else _flat(before[k]) - _flat(desired[k]) for k in DEMO_AUDIENCES
    }
    assert all(expected_adds.values()) and expected_removes["demo_high_value_customers"]
    assert sum(env.pending().values()) == sum(
        len(expected_adds[k]) + len(expected_removes[k]) for k in DEMO_AUDIENCES
    )
    env.emulator.clear_requests()

    result = env.cli("run", "--json")

    assert result.exit_code == 0, result.output
    report = {a["audience_key"]: a for a in json.loads(result.stdout)["audiences"]}
    for key in DEMO_AUDIENCES:
        sent = (report[key]["adds_sent"], report[key]["removes_sent"])
        assert sent == (len(expected_adds[key]), len(expected_removes[key])), key
    registry = env.registry()
    streaming = ("demo_high_value_customers", ADD_ONLY)
    assert env.mapped_hashes("add") == {
        (registry[k], h) for k in streaming for _, h in expected_adds[k]
    }
    assert env.mapped_hashes("delete") == {
        (registry[k], h) for k in streaming for _, h in expected_removes[k]
    }
    tiktok = env.tiktok()
    for key in DEMO_AUDIENCES - {ADD_ONLY}:
        assert tiktok[key] == desired[key], key
    # add_only: everything desired is there, and nothing acknowledged was taken away.
    assert _flat(tiktok[ADD_ONLY]) == _flat(desired[ADD_ONLY]) | _flat(before[ADD_ONLY])
    assert _flat(tiktok[ADD_ONLY]) > _flat(desired[ADD_ONLY])
    assert env.tiktok() == env.acknowledged()
    assert env.pending() == {}


def _flat(members: dict[str, set[str]]) -> set[tuple[str, str]]:
    return {(id_type, h) for id_type, hashes in members.items() for h in hashes}
