"""An audience the sync created, deleted at TikTok (in Ads Manager): a hint, then recovery.

Every run used to fail on it with TikTok's bare error and no way out short of editing the
registry by hand. Now the run confirms with TikTok that the audience is gone, says so with the
fix (exit 2: a person must decide, since it may have been deleted on purpose), and
`--recreate-missing` creates it again under a new id with every desired member, leaving the
state equal to what TikTok holds.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.sync_support import ADVERTISER, SyncEnv, demo_day1_members, sync_env


@pytest.fixture
def env(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> Iterator[SyncEnv]:
    with sync_env(tmp_path_factory, tmp_path / "dbt") as sync:
        yield sync


@pytest.mark.parametrize(
    "audience_key",
    [
        pytest.param("demo_high_value_customers", id="streaming"),
        pytest.param("demo_newsletter_subscribers", id="customer_file"),
    ],
)
def test_a_deleted_audience_gets_a_hint_and_is_recreated_on_request(
    env: SyncEnv, tmp_path_factory: pytest.TempPathFactory, audience_key: str
) -> None:
    assert env.cli("run").exit_code == 0
    old = env.registry()[audience_key]
    assert old is not None
    with env.client() as client:  # someone deletes it in Ads Manager
        client.delete_custom_audiences(ADVERTISER, [old])
    env.use_members(demo_day1_members(tmp_path_factory), demo_day=1)

    for _ in range(2):  # every run says the same, and creates nothing
        refused = env.cli("run", "--json")
        assert refused.exit_code == 2, refused.output
        report = {a["audience_key"]: a for a in json.loads(refused.stdout)["audiences"]}
        message = report[audience_key]["error"]["message"]
        assert f"TikTok has no audience {old}" in message and "--recreate-missing" in message
        others = [a for key, a in report.items() if key != audience_key]
        assert all(a["status"] == "success" for a in others)  # the others went on
        assert env.registry()[audience_key] == old
        assert len(env.emulator.audiences()) == 2

    recreated = env.cli("run", "--recreate-missing")

    assert recreated.exit_code == 0, recreated.output
    assert "created it again" in recreated.stdout
    new = env.registry()[audience_key]
    assert new is not None and new != old
    assert not env.query(
        "select * from tiktok_sync_acknowledged_members where audience_id = ?", [old]
    )
    env.assert_converged()
    assert len(env.emulator.audiences()) == 3


def test_recreate_missing_alone_recreates_deleted_audiences_with_nothing_to_send(
    env: SyncEnv,
) -> None:
    """What `check` advises for a deleted audience: with nothing pending no batch is refused,
    so the flag itself asks TikTok which of the sync's audiences still exist."""
    assert env.cli("run").exit_code == 0
    deleted = ["demo_high_value_customers", "demo_newsletter_subscribers"]  # streaming, file
    old = {key: env.registry()[key] for key in deleted}
    with env.client() as client:  # someone deletes them in Ads Manager
        client.delete_custom_audiences(ADVERTISER, [str(i) for i in old.values()])
    env.emulator.clear_requests()

    unchanged = env.cli("run")  # without the flag: nothing to send, and no look-up either

    assert unchanged.exit_code == 0, unchanged.output
    assert env.api_requests() == []

    recreated = env.cli("run", "--recreate-missing")

    assert recreated.exit_code == 0, recreated.output
    for key in deleted:
        assert f"TikTok audience {old[key]} was deleted at TikTok: created it again" in (
            recreated.stdout
        )
        assert env.registry()[key] not in (None, old[key])
    lookups = [r for r in env.api_requests() if r["endpoint"] == "dmp/custom_audience/list/"]
    assert len(lookups) == 1  # one for the advertiser, not one per audience
    env.assert_converged()
    assert len(env.emulator.audiences()) == 3
    again = env.cli("run", "--recreate-missing")  # all of them exist: nothing is created
    assert again.exit_code == 0 and "created" not in again.stdout, again.output
    assert len(env.emulator.audiences()) == 3
