"""What a run's progress counts: identifiers TikTok acknowledged, never files uploaded.

A progress bar (sync/report.py BarProgress) is started at an audience's planned adds and
removes and advanced by what the run reports through `Progress.sent`; `Bars` below keeps the
same two numbers, fed by a real run against the emulator. Seen before: a customer-file audience
whose REPLACE TikTok refused showed a full bar (files counted on upload), and a full refresh
with --recreate-missing read 4562/2281 (the REPLACE's upload, then the recreate's, on one bar).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sync.apply import AudienceResult, sync_audiences
from sync.plan import AudiencePlan, PlanOptions
from sync.settings import TikTokSettings
from tests.sync_support import ADVERTISER, TOKEN, SyncEnv, sync_env

FILE_AUDIENCE = "demo_newsletter_subscribers"  # customer file


class Bars:
    """A bar per audience, as BarProgress keeps it: (done, total), and how it ended."""

    def __init__(self) -> None:
        self.bars: dict[str, tuple[int, int]] = {}
        self.status: dict[str, str] = {}

    def audience_started(self, plan: AudiencePlan) -> None:
        self.bars[plan.audience_key] = (0, plan.adds_total + plan.removes_total)

    def sent(self, audience_key: str, count: int) -> None:
        done, total = self.bars[audience_key]
        self.bars[audience_key] = (done + count, total)

    def note(self, audience_key: str, message: str) -> None:
        pass

    def audience_finished(self, result: AudienceResult) -> None:
        self.status[result.plan.audience_key] = result.status


@pytest.fixture
def env(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> Iterator[SyncEnv]:
    with sync_env(tmp_path_factory, tmp_path / "dbt") as sync:
        yield sync


def _full_refresh(env: SyncEnv, *, recreate_missing: bool = False) -> Bars:
    bars = Bars()
    sync_audiences(
        env.warehouse.settings(),
        TikTokSettings(
            api_base=env.emulator.base_url, advertiser_id=ADVERTISER, access_token=TOKEN
        ),
        PlanOptions(audiences=[FILE_AUDIENCE], full_refresh=True),
        progress=bars,
        processing_wait=1.0,
        requests_per_second=None,
        requests_per_minute=None,
        recreate_missing=recreate_missing,
    )
    return bars


def test_progress_counts_what_tiktok_acknowledged_not_what_was_uploaded(env: SyncEnv) -> None:
    assert env.cli("run").exit_code == 0
    desired = sum(len(hashes) for hashes in env.desired()[FILE_AUDIENCE].values())

    # TikTok refuses the REPLACE (a file code, not retried): the uploads went through.
    env.emulator.set_faults(
        [{"kind": "server_error", "path": "dmp/custom_audience/update/", "count": 1, "code": 40905}]
    )
    refused = _full_refresh(env)

    assert refused.status[FILE_AUDIENCE] == "failed"
    assert refused.bars[FILE_AUDIENCE] == (0, desired)

    # Deleted in Ads Manager, then a full refresh that recreates it: one bar, counted once.
    env.emulator.clear_faults()
    with env.client() as client:
        client.delete_custom_audiences(ADVERTISER, [str(env.registry()[FILE_AUDIENCE])])
    recreated = _full_refresh(env, recreate_missing=True)

    assert recreated.status[FILE_AUDIENCE] == "success"
    assert recreated.bars[FILE_AUDIENCE] == (desired, desired)
    env.assert_converged()
