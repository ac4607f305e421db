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
