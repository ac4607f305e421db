"""A segment audience TikTok has just created refuses mappings for a while (docs/tiktok-api.md
§4.1).

TikTok answers `segment/mapping/` with HTTP 400 until a new segment audience is ready, usually
1-2 minutes after its create. The emulator models it (`segment_ready_seconds`); the run waits
it out within minutes of the create, leaves the changes pending with a clear error when the
wait runs out, and takes a 400 at face value for an audience created long ago.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import ledger
from tests.sync_support import SyncEnv, sync_env

NOT_READY_FOR = 2.5  # seconds the emulator keeps a new segment unready
# For a test that needs the segments still unready for its second run, however slow this
# machine is between the two.
NEVER_READY_IN_A_TEST = 3600.0


@pytest.fixture
def env(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> Iterator[SyncEnv]:
    with sync_env(tmp_path_factory, tmp_path / "dbt", segment_ready_seconds=NOT_READY_FOR) as sync:
        yield sync


@pytest.fixture
def unready_env(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> Iterator[SyncEnv]:
    with sync_env(
        tmp_path_factory, tmp_path / "dbt", segment_ready_seconds=NEVER_READY_IN_A_TEST
    ) as sync:
        yield sync


def _segment_keys(env: SyncEnv) -> set[str]:
    return {
        key
        for (key,) in env.query("select audience_key from tiktok_audiences where api = 'streaming'")
    }


def _refused_mappings(env: SyncEnv) -> list[dict[str, object]]:
    return [
        r
        for r in env.api_requests()
        if r["endpoint"] == "segment/mapping/" and r["http_status"] == 400
    ]


def test_the_first_run_waits_until_a_new_segment_is_ready(env: SyncEnv) -> None:
    result = env.run_engine(env.client(), processing_wait=30)

    assert result.exit_code == 0, [a.error for a in result.audiences]
    assert _refused_mappings(env)  # TikTok did refuse at first, and the run waited
    env.assert_converged()
    created = [r for r in env.api_requests() if r["endpoint"] == "segment/audience/"]
    assert len(created) == len(_segment_keys(env))  # each created once, waiting or not


def test_when_the_wait_runs_out_the_changes_stay_pending_for_the_next_run(env: SyncEnv) -> None:
    segments = _segment_keys(env)
    first = env.run_engine(env.client(), processing_wait=0)

    assert first.exit_code == 1
    waiting = {a.plan.audience_key: a for a in first.audiences if a.error is not None}
    assert set(waiting) == segments
    for audience in waiting.values():
        assert audience.error is not None
        assert "not take members into the new audience" in audience.error.message
        assert "run again in a few minutes" in audience.error.message
        assert audience.adds_sent == 0 and audience.adds_pending > 0
    assert env.acknowledged().keys().isdisjoint(segments)  # nothing recorded as sent

    time.sleep(NOT_READY_FOR)
    second = env.run_engine(env.client(), processing_wait=0)

    assert second.exit_code == 0, [a.error for a in second.audiences]
    env.assert_converged()
    created = [r for r in env.api_requests() if r["endpoint"] == "segment/audience/"]
    assert len(created) == len(segments)  # the second run did not create them again


def test_an_http_400_long_after_the_create_is_not_waited_out(unready_env: SyncEnv) -> None:
    env = unready_env
    segments = _segment_keys(env)
    env.run_engine(env.client(), processing_wait=0)
    # The same audiences, as if created an hour ago: TikTok's 400 now means what it says.
    ledger.shift_created_at(env.query, "1 hour")
    before = len(_refused_mappings(env))

    again = env.run_engine(env.client(), processing_wait=30)

    assert again.exit_code == 1
    refused = {a.plan.audience_key: a for a in again.audiences if a.error is not None}
    assert set(refused) == segments
    for audience in refused.values():
        assert audience.error is not None
        assert "new audience" not in audience.error.message
    # Not a poll: nothing was waited out, no batch went out twice (an audience's batches go
    # out side by side, so each audience may have several refused, each once).
    sent = [json.dumps(r["body"], sort_keys=True) for r in _refused_mappings(env)[before:]]
    assert len(sent) == len(set(sent)) >= len(segments)
