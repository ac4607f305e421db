"""Guards refuse before anything is sent; overrides are explicit; full refresh repairs drift.

Specifications (README "Running the sync", the guards): a run that would remove more than
--max-removal-share of an audience, or create a customer-file audience under 1,000, is refused with
exit 2 and sends nothing, unless --allow-mass-removal / --force. Audiences under 1,000 are warned
about. A customer-file audience takes one id type (docs/tiktok-api.md §3.2-§3.4). `--full-refresh`
makes TikTok hold exactly the desired members again after it drifted behind the state's back.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from sync.apply import run
from sync.errors import ConfigError
from sync.plan import AudiencePlan, PlanOptions, build_plan, plan_audience
from sync.settings import TikTokSettings, WarehouseSettings
from sync.tiktok.lookup import HeldAudience
from sync.warehouse import AudienceCounts, RegistryEntry, Target, Warehouse
from tests.sync_support import ADVERTISER, SyncEnv, sync_env

HIGH_VALUE = "demo_high_value_customers"
NEWSLETTER = "demo_newsletter_subscribers"
MOBILE = "demo_mobile_app_users"


@pytest.fixture
def env(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> Iterator[SyncEnv]:
    with sync_env(tmp_path_factory, tmp_path / "dbt") as sync:
        yield sync


# --- end to end ------------------------------------------------------------------------------


def test_a_mass_removal_is_refused_until_explicitly_allowed(env: SyncEnv) -> None:
    assert env.cli("run").exit_code == 0
    env.rebuild(demo_day=-300)  # a third of the customers gone upstream: a broken source?
    env.emulator.clear_requests()

    planned = env.cli("plan", "--json")
    refused = env.cli("run")

    assert planned.exit_code == 2
    verdicts = {a["audience_key"]: a for a in json.loads(planned.stdout)["audiences"]}
    assert "--allow-mass-removal" in verdicts[HIGH_VALUE]["error"]["message"]
    assert refused.exit_code == 2
    assert "Nothing was sent" in refused.stdout
    assert env.api_requests() == []
    assert {h["status"] for h in env.history()[-3:]} == {"refused"}
    assert env.cli("plan", "--max-removal-share", "0.6").exit_code == 0

    allowed = env.cli("run", "--allow-mass-removal")

    assert allowed.exit_code == 0, allowed.output
    tiktok, desired = env.tiktok(), env.desired()
    assert tiktok[HIGH_VALUE] == desired[HIGH_VALUE]
    assert tiktok[NEWSLETTER] == desired[NEWSLETTER]


def test_members_that_shrank_after_the_plan_are_not_removed_past_the_guard(env: SyncEnv) -> None:
    # On a server warehouse a dbt build may replace an audience's members between the plan and
    # the run's copy of its changes; the guard holds for what the run would actually send.
    assert env.cli("run").exit_code == 0
    env.emulator.clear_requests()
    settings = WarehouseSettings("duckdb", env.db_path, "main", "p", "t")
    tiktok = TikTokSettings(api_base=env.emulator.base_url, advertiser_id=ADVERTISER)
    with Warehouse.open(settings) as warehouse:
        # One new member, so that the run has a change of the audience to send (an audience the
        # plan counted no change for is left for the next run, which plans it afresh).
        warehouse.engine.execute(
            f"insert into {warehouse.table('tiktok_audience_members')} "
            "(audience_key, id_type, id_hash, built_at) values (?, 'EMAIL_SHA256', ?, ?)",
            [HIGH_VALUE, "a" * 64, datetime(2026, 1, 1)],
        )
        plan = build_plan(warehouse, tiktok)
        assert not plan.refused and not any(a.removes_total for a in plan.audiences)
        assert [a.adds_total for a in plan.audiences if a.audience_key == HIGH_VALUE] == [1]
        # What a rebuild from a broken source would write after the plan was made.
        warehouse.engine.execute(
            f"delete from {warehouse.table('tiktok_audience_members')} "
            "where audience_key = ? and id_hash < '8'",
            [HIGH_VALUE],
        )
        result = run(plan, env.client(), warehouse, run_id="changed-under-the-plan")

    assert result.exit_code == 2
    (high_value,) = [a for a in result.audiences if a.plan.audience_key == HIGH_VALUE]
    assert high_value.error is not None and "changed since the plan" in high_value.error.message
    assert high_value.removes_sent == 0
    assert env.membership_requests() == []  # the others had nothing to send either
    assert env.tiktok()[HIGH_VALUE] == env.acknowledged()[HIGH_VALUE]


def test_a_small_customer_file_audience_is_created_only_with_force(env: SyncEnv) -> None:
    env.rebuild(demo_day=-500)  # 770 newsletter subscribers: under TikTok's 1,000

    refused = env.cli("run")

    assert refused.exit_code == 2
    assert "pass --force" in refused.stdout
    assert "under TikTok's 1,000" in refused.stdout  # the warning for the streaming ones
    assert env.api_requests() == []
    assert env.registry() == {}

    forced = env.cli("run", "--force")

    assert forced.exit_code == 0, forced.output
    (created,) = [a for a in env.emulator.audiences() if a["name"] == NEWSLETTER]
    assert created["member_total"] == sum(len(h) for h in env.desired()[NEWSLETTER].values())
    assert created["editable"] is False  # TikTok's size-0 audience (docs/tiktok-api.md §3.8)


def test_full_refresh_restores_segment_members_removed_behind_the_states_back(
    env: SyncEnv,
) -> None:
    assert env.cli("run").exit_code == 0
    audience_id = env.registry()[HIGH_VALUE] or ""
    lost = sorted(env.emulator.members(audience_id)["EMAIL_SHA256"])[:150]
    with env.client() as client:
        client.map_segment(ADVERTISER, audience_id, "delete", "EMAIL_SHA256", lost)
    assert env.cli("run").exit_code == 0  # the state still says they are there
    assert env.tiktok()[HIGH_VALUE] != env.desired()[HIGH_VALUE]
    env.emulator.clear_requests()

    refreshed = env.cli("run", "--full-refresh", "--audience", HIGH_VALUE)

    assert refreshed.exit_code == 0, refreshed.output
    assert env.tiktok()[HIGH_VALUE] == env.desired()[HIGH_VALUE] == env.acknowledged()[HIGH_VALUE]
    resent = {h for _, h in env.mapped_hashes("add")}
    assert resent == {h for hashes in env.desired()[HIGH_VALUE].values() for h in hashes}


def test_full_refresh_replaces_a_drifted_customer_file_audience(env: SyncEnv) -> None:
    assert env.cli("run").exit_code == 0
    audience_id = env.registry()[NEWSLETTER] or ""
    strangers = "".join(f"{n:064x}\n" for n in range(1, 301)).encode()
    with env.client() as client:  # added in Ads Manager, say: TikTok drifts from the state
        path = client.upload_customer_file(ADVERTISER, strangers, "EMAIL_SHA256")
        client.update_custom_audience(ADVERTISER, audience_id, [path], "APPEND")
    assert env.tiktok()[NEWSLETTER] != env.desired()[NEWSLETTER]
    env.emulator.clear_requests()

    refreshed = env.cli("run", "--full-refresh", "--audience", NEWSLETTER, "--json")

    assert refreshed.exit_code == 0, refreshed.output
    assert [r["body"]["action"] for r in env.api_requests() if "update" in r["endpoint"]] == [
        "REPLACE"
    ]
    assert env.tiktok()[NEWSLETTER] == env.desired()[NEWSLETTER] == env.acknowledged()[NEWSLETTER]


# --- verdicts, case by case (no dbt, no TikTok: plan_audience is a pure function) --------------

TIKTOK = TikTokSettings(advertiser_id=ADVERTISER)
OTHER = "7000000000000000009"  # an advertiser the audience was not created under


def _target(**overrides: object) -> Target:
    target = Target(
        audience_key="aud",
        audience_name="aud",
        api="streaming",
        mode="mirror",
        audience_id="7100000000000000001",
        advertiser_id=ADVERTISER,
        configured_advertiser_id=None,
        registered_advertiser_id=ADVERTISER,
        retention_days=None,
        is_audience_id_configured=False,
    )
    return replace(target, **overrides)  # type: ignore[arg-type]


def _counts(
    desired: dict[str, int] | None = None,
    acknowledged: dict[str, int] | None = None,
    adds: dict[str, int] | None = None,
    removes: dict[str, int] | None = None,
) -> AudienceCounts:
    return AudienceCounts(
        desired if desired is not None else {"EMAIL_SHA256": 5000},
        acknowledged if acknowledged is not None else {"EMAIL_SHA256": 5000},
        adds or {},
        removes or {},
        0,
    )


def _plan(
    target: Target | None = None,
    counts: AudienceCounts | None = None,
    registered: RegistryEntry | None = None,
    **options: object,
) -> AudiencePlan:
    return plan_audience(
        target or _target(),
        counts or _counts(),
        registered,
        TIKTOK,
        PlanOptions(**options),  # type: ignore[arg-type]
    )


NEW_FILE = {"api": "customer_file", "audience_id": None, "registered_advertiser_id": None}

VERDICTS = [
    pytest.param({}, {}, {}, (), id="in-step"),
    pytest.param(
        {},
        {"removes": {"EMAIL_SHA256": 1000}, "desired": {"EMAIL_SHA256": 4000}},
        {},
        (),
        id="removing-exactly-the-share-is-allowed",
    ),
    pytest.param(
        {},
        {"removes": {"EMAIL_SHA256": 1001}},
        {},
        ("--allow-mass-removal",),
        id="removing-more-than-the-share-is-refused",
    ),
    pytest.param(
        {}, {"removes": {"EMAIL_SHA256": 1001}}, {"allow_mass_removal": True}, (), id="allowed"
    ),
    pytest.param(
        {},
        {"removes": {"EMAIL_SHA256": 2000}},
        {"max_removal_share": 0.5},
        (),
        id="share-set-higher",
    ),
    pytest.param(
        NEW_FILE,
        {"desired": {"EMAIL_SHA256": 999}, "acknowledged": {}},
        {},
        ("--force",),
        id="new-customer-file-under-1000",
    ),
    pytest.param(
        NEW_FILE,
        {"desired": {"EMAIL_SHA256": 1000}, "acknowledged": {}},
        {},
        (),
        id="new-customer-file-of-1000",
    ),
    pytest.param(
        NEW_FILE,
        {"desired": {"EMAIL_SHA256": 999}, "acknowledged": {}},
        {"force": True},
        (),
        id="new-customer-file-forced",
    ),
    pytest.param(
        {"api": "customer_file"},
        {"desired": {"EMAIL_SHA256": 3000, "PHONE_SHA256": 2000}},
        {"force": True},
        ("2 id types",),
        id="customer-file-with-two-id-types",
    ),
    pytest.param(
        {"api": "customer_file"},
        {"desired": {"PHONE_SHA256": 5000}, "acknowledged": {"EMAIL_SHA256": 5000}},
        {"allow_mass_removal": True},
        ("EMAIL_SHA256, PHONE_SHA256",),
        id="customer-file-changing-its-id-type",
    ),
    pytest.param(
        {"configured_advertiser_id": OTHER, "advertiser_id": OTHER},
        {},
        {},
        ("registered under advertiser 7000000000000000001",),
        id="moved-to-another-advertiser",
    ),
]


@pytest.mark.parametrize(("target", "counts", "options", "refusals"), VERDICTS)
def test_guard_verdicts(
    target: dict[str, Any],
    counts: dict[str, dict[str, int]],
    options: dict[str, Any],
    refusals: tuple[str, ...],
) -> None:
    plan = _plan(_target(**target), _counts(**counts), **options)

    assert len(plan.refusals) == len(refusals), plan.refusals
    for refusal, expected in zip(plan.refusals, refusals, strict=True):
        assert expected in refusal


def test_moving_to_another_advertiser_is_refused_with_a_fix_the_ledger_allows() -> None:
    """The registry is append-only (docs/decisions/0001): its row cannot be deleted, so the
    fix is the README's ("Changing an audience's settings"): restore it, or rename the model."""
    moved = _target(configured_advertiser_id=OTHER, advertiser_id=OTHER)

    (refusal,) = _plan(moved).refusals

    assert f"Restore meta.tiktok.advertiser_id {ADVERTISER}" in refusal
    assert f"to move the audience to {OTHER}, rename model aud" in refusal
    assert "orphan" in refusal
    assert "registry row" not in refusal


def test_audiences_under_1000_are_warned_about_not_refused() -> None:
    plan = _plan(counts=_counts(desired={"EMAIL_SHA256": 10}, acknowledged={"EMAIL_SHA256": 10}))

    assert not plan.refused
    assert any("under TikTok's 1,000" in w for w in plan.warnings)


def test_full_refresh_resends_every_desired_member() -> None:
    counts = _counts(desired={"EMAIL_SHA256": 5000, "PHONE_SHA256": 10}, adds={"PHONE_SHA256": 10})

    assert _plan(counts=counts).adds == {"PHONE_SHA256": 10}
    assert _plan(counts=counts, full_refresh=True).adds == {
        "EMAIL_SHA256": 5000,
        "PHONE_SHA256": 10,
    }


def test_a_pending_create_is_announced() -> None:
    pending = RegistryEntry("aud", None, ADVERTISER, "streaming", "aud", datetime(2026, 1, 1), "r")

    plan = _plan(_target(audience_id=None), _counts(acknowledged={}), pending)

    assert plan.pending_create == pending
    assert any("looks for that audience by name" in w for w in plan.warnings)


def test_no_advertiser_anywhere_is_a_configuration_error() -> None:
    target = _target(advertiser_id=None, registered_advertiser_id=None)
    with pytest.raises(ConfigError, match="--advertiser-id or set TIKTOK_ADVERTISER_ID"):
        plan_audience(target, _counts(), None, TikTokSettings(), PlanOptions())


@pytest.mark.parametrize(
    ("type_at_tiktok", "blocked_with"),
    [
        pytest.param("Partner", None, id="partner-streaming"),
        pytest.param("Customer File Audience", "is a customer_file audience", id="file"),
        pytest.param("Lookalike", "'Lookalike' audience, which the sync cannot", id="other"),
        pytest.param(None, None, id="type-not-given"),
    ],
)
def test_a_configured_audience_is_held_to_its_tiktok_type(
    type_at_tiktok: str | None, blocked_with: str | None
) -> None:
    target = _target(is_audience_id_configured=True, registered_advertiser_id=None)
    held = HeldAudience("7100000000000000001", "aud", type_at_tiktok)
    at_tiktok = {"7100000000000000001": held}

    plan = plan_audience(target, _counts(), None, TIKTOK, PlanOptions(), None, at_tiktok)

    if blocked_with is None:
        assert plan.blocked == ()
    else:
        (line,) = plan.blocked
        assert blocked_with in line and "7100000000000000001" in line and "aud" in line
    assert plan.warnings == ()  # same name: nothing to say
