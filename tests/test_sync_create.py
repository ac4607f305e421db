"""An audience is created once (README "Guarantees"), whatever happens between create and record.

TikTok allows duplicate names and has no idempotency keys (docs/tiktok-api.md §7), so after a crash
between the create call and recording its id, or a create whose answer was lost, the run looks for
an audience of that name created since its pending registry row, and adopts it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sync.errors import WarehouseError
from sync.tiktok import TikTokClient
from sync.warehouse import Warehouse
from tests import ledger
from tests.sync_support import ADVERTISER, SyncEnv, sync_env
from tests.warehouses import Warehouses

HIGH_VALUE = "demo_high_value_customers"
NEWSLETTER = "demo_newsletter_subscribers"


@pytest.fixture
def env(engine: Warehouses, tmp_path: Path) -> Iterator[SyncEnv]:
    with sync_env(engine, tmp_path / "dbt", processing_seconds=0.2) as sync:
        yield sync


def _pending_row(env: SyncEnv, key: str, api: str, created_at: datetime) -> None:
    """What a run that crashed right after its create call leaves in the registry."""
    ledger.register(
        env.query, key, None, ADVERTISER, api, created_at=created_at, run_id="crashed-run"
    )


def _creates(env: SyncEnv) -> list[str]:
    paths = ("segment/audience/", "dmp/custom_audience/create/")
    return [r["endpoint"] for r in env.api_requests() if r["endpoint"] in paths]


def _named(env: SyncEnv, name: str) -> list[str]:
    return [a["audience_id"] for a in env.emulator.audiences() if a["name"] == name]


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def test_a_pending_create_found_at_tiktok_is_adopted_not_created_again(env: SyncEnv) -> None:
    _pending_row(env, HIGH_VALUE, "streaming", _now() - timedelta(minutes=1))
    with env.client() as client:  # the audience the crashed run's create made
        made = client.create_segment_audience(ADVERTISER, HIGH_VALUE)
    env.emulator.clear_requests()

    result = env.cli("run", "--audience", HIGH_VALUE)

    assert result.exit_code == 0, result.output
    assert "adopted TikTok audience" in result.stdout
    assert _creates(env) == []
    assert _named(env, HIGH_VALUE) == [made]
    assert env.registry() == {HIGH_VALUE: made}
    assert env.tiktok()[HIGH_VALUE] == env.desired()[HIGH_VALUE]


def test_a_pending_create_not_found_at_tiktok_creates_one(env: SyncEnv) -> None:
    _pending_row(env, HIGH_VALUE, "streaming", _now() - timedelta(minutes=1))

    result = env.cli("run", "--audience", HIGH_VALUE)

    assert result.exit_code == 0, result.output
    assert _creates(env) == ["segment/audience/"]
    assert len(_named(env, HIGH_VALUE)) == 1


def test_a_same_named_audience_older_than_the_pending_create_is_not_adopted(
    env: SyncEnv,
) -> None:
    with env.client() as client:  # someone else's audience of that name, made long before
        older = client.create_segment_audience(ADVERTISER, HIGH_VALUE)
    _pending_row(env, HIGH_VALUE, "streaming", _now() + timedelta(hours=1))

    result = env.cli("run", "--audience", HIGH_VALUE)

    assert result.exit_code == 0, result.output
    created = env.registry()[HIGH_VALUE]
    assert created is not None and created != older
    assert env.emulator.members(older) == {}


@pytest.mark.parametrize(
    ("audience_key", "create_path"),
    [
        pytest.param(HIGH_VALUE, "segment/audience/", id="streaming"),
        pytest.param(NEWSLETTER, "dmp/custom_audience/create/", id="customer_file"),
    ],
)
def test_a_create_whose_answer_is_lost_makes_exactly_one_audience(
    env: SyncEnv, audience_key: str, create_path: str
) -> None:
    # TikTok creates the audience, then the connection drops before the answer (docs/tiktok-api.md
    # §7).
    env.emulator.set_faults([{"kind": "applied_then_drop", "path": create_path, "count": 1}])

    result = env.cli("run", "--audience", audience_key)

    assert result.exit_code == 0, result.output
    assert _creates(env) == [create_path]
    (only,) = _named(env, audience_key)
    assert env.registry() == {audience_key: only}
    assert env.tiktok()[audience_key] == env.desired()[audience_key]
    assert env.acknowledged()[audience_key] == env.desired()[audience_key]


def test_a_create_that_surely_failed_leaves_no_pending_row(env: SyncEnv) -> None:
    env.emulator.set_faults([{"kind": "throttle", "path": "segment/audience/", "count": 2}])

    result = env.run_engine(env.client(max_attempts=2), audiences=[HIGH_VALUE])

    assert result.exit_code == 1
    assert result.audiences[0].error is not None
    assert result.audiences[0].error.code == 40100
    assert env.registry() == {}  # throttled: TikTok did nothing, no need to look next time
    assert env.emulator.audiences() == []


def test_a_new_streaming_audience_is_frozen_while_tiktok_creates_it(
    env: SyncEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The create is a round trip with nothing in it for the warehouse: the audience's changes
    # are copied meanwhile (segment.EarlyFreeze). TikTok holds the create for 2 s; the freeze
    # notes whether it began while the create was out.
    env.emulator.set_faults([{"kind": "slow", "path": "segment/audience/", "count": 1, "delay": 2}])
    create_sent, create_answered, during_create = threading.Event(), threading.Event(), []
    create, freeze = TikTokClient.create_segment_audience, Warehouse.freeze_changes

    def creating(self: TikTokClient, *args: Any, **kwargs: Any) -> Any:
        create_sent.set()
        try:
            return create(self, *args, **kwargs)
        finally:
            create_answered.set()

    def freezing(self: Warehouse, *args: Any, **kwargs: Any) -> Any:
        during_create.append(create_sent.wait(10) and not create_answered.is_set())
        return freeze(self, *args, **kwargs)

    monkeypatch.setattr(TikTokClient, "create_segment_audience", creating)
    monkeypatch.setattr(Warehouse, "freeze_changes", freezing)
    result = env.cli("run", "--audience", HIGH_VALUE)

    assert result.exit_code == 0, result.output
    assert during_create == [True]
    assert _creates(env) == ["segment/audience/"]
    assert env.tiktok()[HIGH_VALUE] == env.desired()[HIGH_VALUE]
    assert env.acknowledged()[HIGH_VALUE] == env.desired()[HIGH_VALUE]


def test_a_freeze_failing_during_the_create_still_records_the_audience(
    env: SyncEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing(self: Warehouse, *args: Any, **kwargs: Any) -> Any:
        raise WarehouseError("the warehouse failed while copying the changes (injected)")

    monkeypatch.setattr(Warehouse, "freeze_changes", failing)
    failed = env.cli("run", "--audience", HIGH_VALUE)
    monkeypatch.undo()

    assert failed.exit_code == 2, failed.output
    assert "copying the changes (injected)" in failed.stderr
    (made,) = _named(env, HIGH_VALUE)
    assert env.registry() == {HIGH_VALUE: made}  # recorded, not left pending
    assert not env.tiktok().get(HIGH_VALUE)  # nothing was sent

    env.emulator.clear_requests()
    again = env.cli("run", "--audience", HIGH_VALUE)

    assert again.exit_code == 0, again.output
    assert _creates(env) == []  # the recorded audience gets the members
    assert _named(env, HIGH_VALUE) == [made]
    assert env.tiktok()[HIGH_VALUE] == env.desired()[HIGH_VALUE]
