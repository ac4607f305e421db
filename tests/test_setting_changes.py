"""An audience's settings changed between runs (README "Changing an audience's settings").

What a user does between two runs: edit `meta.tiktok` of an audience model and `dbt build`. The
build's only effect the sync job sees is the audience's row of `tiktok_audiences` (the table dbt
builds from the models' config), so the tests change that row as the build would and keep the
one dbt build of the session. Each change is either applied (a customer-file audience renamed at
TikTok), shown and left (a streaming audience keeps its name), or blocks that audience with exit 2
and the fix while the others sync; nothing is lost, no second audience is made.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.sync_support import ADVERTISER, SyncEnv, demo_day1_members, sync_env
from tests.test_crash_resume import kill_in_slow_request
from tests.warehouses import Warehouses

HIGH_VALUE = "demo_high_value_customers"  # streaming, mirror
MOBILE = "demo_mobile_app_users"  # streaming, add_only
NEWSLETTER = "demo_newsletter_subscribers"  # customer file, mirror
RENAMED = "Renamed since the last run"


@pytest.fixture
def env(engine: Warehouses, tmp_path: Path) -> Iterator[SyncEnv]:
    with sync_env(engine, tmp_path / "dbt") as sync:
        yield sync


@pytest.fixture
def members(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return demo_day1_members(tmp_path_factory)


def configure(env: SyncEnv, audience_key: str, column: str, value: str) -> None:
    """The audience's row of tiktok_audiences as `dbt build` writes it after a meta change."""
    env.query(
        f"update tiktok_audiences set {column} = ? where audience_key = ?", [value, audience_key]
    )


def names(env: SyncEnv) -> dict[str, str]:
    return {a["audience_id"]: a["name"] for a in env.emulator.audiences()}


def lines_with(text: str, *needles: str) -> list[str]:
    return [line for line in text.splitlines() if all(n in line for n in needles)]


def sent_to(env: SyncEnv, audience_id: str) -> list[str]:
    """Membership requests that named `audience_id`."""
    return [
        r["endpoint"] for r in env.membership_requests() if audience_id in json.dumps(r["body"])
    ]


@pytest.mark.parametrize(
    ("audience_key", "create_path", "tiktok_name"),
    [
        pytest.param(HIGH_VALUE, "segment/audience/", HIGH_VALUE, id="streaming"),
        pytest.param(NEWSLETTER, "dmp/custom_audience/create/", RENAMED, id="customer_file"),
    ],
)
def test_a_name_changed_after_an_interrupted_create_adopts_that_audience(
    env: SyncEnv, members: Path, audience_key: str, create_path: str, tiktok_name: str
) -> None:
    kill_in_slow_request(env, create_path)
    # TikTok created it under the old name; the registry holds the pending row.
    (made,) = [i for i, name in names(env).items() if name == audience_key]
    assert env.registry()[audience_key] is None
    configure(env, audience_key, "audience_name", RENAMED)
    env.use_members(members, demo_day=1)

    result = env.cli("run")

    assert result.exit_code == 0, result.output
    assert "adopted TikTok audience" in result.stdout
    assert env.registry()[audience_key] == made
    # Customer file: renamed at TikTok. Streaming: the segment API has no rename, so it keeps
    # the old name and the run says so.
    assert names(env)[made] == tiktok_name
    if tiktok_name != RENAMED:
        assert lines_with(result.stdout, audience_key, "keeps its TikTok name")
    env.assert_converged()
    assert env.cli("run").exit_code == 0
    assert names(env)[made] == tiktok_name


@pytest.mark.every_engine(
    bigquery="crucible has no UPDATE, which the test changes a setting with",
    spark="plain parquet tables have no UPDATE, which the test changes a setting with",
)
def test_a_new_name_is_shown_by_plan_then_applied_at_tiktok(env: SyncEnv) -> None:
    assert env.cli("run").exit_code == 0
    ids = env.registry()
    configure(env, NEWSLETTER, "audience_name", RENAMED)
    configure(env, HIGH_VALUE, "audience_name", RENAMED)

    plan = env.cli("plan")

    assert plan.exit_code == 0, plan.output
    assert lines_with(plan.stdout, NEWSLETTER, "renames TikTok audience", repr(RENAMED))
    assert lines_with(plan.stdout, HIGH_VALUE, "keeps its TikTok name", repr(HIGH_VALUE))
    planned = {
        a["audience_key"]: a for a in json.loads(env.cli("plan", "--json").stdout)["audiences"]
    }
    assert [c for c in planned[NEWSLETTER]["setting_changes"] if repr(RENAMED) in c]
    assert planned[HIGH_VALUE]["setting_changes"] == []
    assert names(env)[ids[NEWSLETTER] or ""] == NEWSLETTER  # plan sends nothing

    result = env.cli("run")

    assert result.exit_code == 0, result.output
    renames = [
        r["body"]
        for r in env.api_requests()
        if r["endpoint"] == "dmp/custom_audience/update/" and "file_paths" not in r["body"]
    ]
    assert renames == [  # docs/tiktok-api.md §3.4: a name and no files
        {
            "advertiser_id": ADVERTISER,
            "custom_audience_id": ids[NEWSLETTER],
            "custom_audience_name": RENAMED,
        }
    ]
    assert names(env)[ids[NEWSLETTER] or ""] == RENAMED
    assert names(env)[ids[HIGH_VALUE] or ""] == HIGH_VALUE
    assert env.registry() == ids
    assert "renames" not in env.cli("plan").stdout  # done: the registry holds the new name
    env.assert_converged()


def test_changing_the_api_of_an_existing_audience_is_refused_and_the_others_sync(
    env: SyncEnv, members: Path
) -> None:
    assert env.cli("run").exit_code == 0
    newsletter = env.registry()[NEWSLETTER] or ""
    held = env.tiktok()[NEWSLETTER]
    held_high_value = env.tiktok()[HIGH_VALUE]
    configure(env, NEWSLETTER, "api", "streaming")
    # Two id types, now customer_file (which takes one): blocked as the api change it is, not
    # a reason to stop the whole run.
    configure(env, HIGH_VALUE, "api", "customer_file")
    env.use_members(members, demo_day=1)
    env.emulator.clear_requests()

    plan = env.cli("plan")

    assert plan.exit_code == 2, plan.output
    (fix,) = lines_with(plan.stdout, NEWSLETTER, "meta.tiktok.api changed")
    assert "Restore api 'customer_file', or rename model" in fix
    assert lines_with(plan.stdout, HIGH_VALUE, "Restore api 'streaming'")
    planned = {
        a["audience_key"]: a for a in json.loads(env.cli("plan", "--json").stdout)["audiences"]
    }
    assert planned[NEWSLETTER]["blocked"] == [fix.split(": ", 1)[1]]
    assert planned[HIGH_VALUE]["blocked"] != []
    assert planned[MOBILE]["blocked"] == []

    result = env.cli("run")

    assert result.exit_code == 2, result.output
    assert lines_with(result.stdout, NEWSLETTER, "meta.tiktok.api changed")
    assert sent_to(env, newsletter) == []
    assert env.tiktok()[NEWSLETTER] == held
    assert env.tiktok()[HIGH_VALUE] == held_high_value
    assert sent_to(env, env.registry()[MOBILE] or "")  # the other audience synced:
    assert env.pending().keys() == {NEWSLETTER, HIGH_VALUE}  # nothing of it left pending

    configure(env, NEWSLETTER, "api", "customer_file")  # the fix: nothing was lost
    configure(env, HIGH_VALUE, "api", "streaming")
    assert env.cli("run").exit_code == 0
    env.assert_converged()


def test_two_models_in_one_tiktok_audience_are_refused_naming_both(
    env: SyncEnv, members: Path
) -> None:
    assert env.cli("run").exit_code == 0
    high_value = env.registry()[HIGH_VALUE] or ""
    held = env.tiktok()[HIGH_VALUE]
    configure(env, MOBILE, "configured_audience_id", high_value)
    env.use_members(members, demo_day=1)
    env.emulator.clear_requests()

    plan = env.cli("plan")

    assert plan.exit_code == 2, plan.output
    assert lines_with(plan.stdout, f"{HIGH_VALUE}: syncs into TikTok audience {high_value}", MOBILE)
    assert lines_with(plan.stdout, f"{MOBILE}: syncs into TikTok audience {high_value}", HIGH_VALUE)

    result = env.cli("run")

    assert result.exit_code == 2, result.output
    assert sent_to(env, high_value) == []
    assert env.tiktok()[HIGH_VALUE] == held
    assert env.tiktok()[NEWSLETTER] == env.desired()[NEWSLETTER]  # the other one synced
    # --audience cannot hide the other model.
    assert env.cli("run", "--audience", HIGH_VALUE).exit_code == 2
    assert sent_to(env, high_value) == []


def test_configured_audiences_are_compared_with_tiktok_once_a_run(
    env: SyncEnv, members: Path
) -> None:
    assert env.cli("run").exit_code == 0
    env.emulator.clear_requests()
    assert env.cli("run").exit_code == 0
    looked_up = ("dmp/custom_audience/list/", "dmp/custom_audience/get/")
    # Nothing is asked about the audiences the sync created: the registry says what they are.
    assert [r for r in env.api_requests() if r["endpoint"] in looked_up] == []
    newsletter = env.registry()[NEWSLETTER] or ""
    with env.client() as client:  # audiences made elsewhere (in Ads Manager, say)
        segment = client.create_segment_audience(ADVERTISER, "Made in Ads Manager")
        other_segment = client.create_segment_audience(ADVERTISER, "Also made elsewhere")
    unknown = "7999999999999999999"
    configure(env, NEWSLETTER, "configured_audience_id", segment)  # customer_file into a Partner
    configure(env, MOBILE, "configured_audience_id", unknown)
    configure(env, HIGH_VALUE, "configured_audience_id", other_segment)  # fits; another name
    env.use_members(members, demo_day=1)
    held_newsletter = env.tiktok()[NEWSLETTER]
    env.emulator.clear_requests()

    plan = env.cli("plan")

    assert plan.exit_code == 2, plan.output
    (mismatch,) = lines_with(plan.stdout, f"{NEWSLETTER}: meta.tiktok.api is 'customer_file'")
    assert f"TikTok audience {segment}" in mismatch and "is a streaming audience" in mismatch
    assert "Set meta.tiktok.api 'streaming'" in mismatch
    (missing,) = lines_with(plan.stdout, f"{MOBILE}: TikTok has no audience {unknown}")
    assert f"correct meta.tiktok.audience_id of model {MOBILE}" in missing
    assert lines_with(plan.stdout, HIGH_VALUE, "keeps its TikTok name 'Also made elsewhere'")
    assert not lines_with(plan.stdout, HIGH_VALUE, "Restore", "correct")
    # One read for the three of them (one advertiser), and nothing sent.
    assert [r["endpoint"] for r in env.api_requests()] == ["dmp/custom_audience/list/"]
    planned = {
        a["audience_key"]: a for a in json.loads(env.cli("plan", "--json").stdout)["audiences"]
    }
    assert planned[NEWSLETTER]["blocked"] == [mismatch.split(": ", 1)[1]]
    assert planned[MOBILE]["blocked"] == [missing.split(": ", 1)[1]]
    assert planned[HIGH_VALUE]["blocked"] == []
    # Without a token plan still runs (CI), and says what it could not compare.
    offline = env.cli("plan", env={"TIKTOK_ACCESS_TOKEN": None})
    assert offline.exit_code == 0, offline.output
    assert "meta.tiktok.audience_id were not compared with TikTok" in offline.stdout
    env.emulator.clear_requests()

    result = env.cli("run")

    assert result.exit_code == 2, result.output
    assert lines_with(result.stdout, f"{NEWSLETTER}: meta.tiktok.api is 'customer_file'")
    assert lines_with(result.stdout, f"{MOBILE}: TikTok has no audience {unknown}")
    lookups = [r for r in env.api_requests() if r["endpoint"] in looked_up]
    assert len(lookups) == 1
    assert sent_to(env, segment) == [] and sent_to(env, unknown) == []
    assert sent_to(env, newsletter) == []
    assert env.tiktok()[NEWSLETTER] == held_newsletter
    assert sent_to(env, other_segment)  # the one that fits synced into its audience
    assert names(env)[other_segment] == "Also made elsewhere"  # and was not renamed

    for key in (NEWSLETTER, MOBILE):  # the fix: back to the audiences the sync created
        env.query(
            "update tiktok_audiences set configured_audience_id = null where audience_key = ?",
            [key],
        )
    assert env.cli("run").exit_code == 0


def set_retention(env: SyncEnv, audience_key: str, days: int | None) -> None:
    """meta.tiktok.retention_days as `dbt build` writes it to tiktok_audiences."""
    if days is None:
        env.query(
            "update tiktok_audiences set retention_days = null where audience_key = ?",
            [audience_key],
        )
    else:
        env.query(
            "update tiktok_audiences set retention_days = ? where audience_key = ?",
            [days, audience_key],
        )


def test_a_retention_change_is_shown_and_the_audience_keeps_syncing(
    env: SyncEnv, members: Path
) -> None:
    set_retention(env, NEWSLETTER, 30)
    assert env.cli("run").exit_code == 0
    (create,) = [r["body"] for r in env.api_requests() if r["endpoint"].endswith("create/")]
    assert create["retention_in_days"] == 30
    ids = env.registry()
    assert "retention" not in env.cli("plan").stdout  # as created: nothing to say
    set_retention(env, NEWSLETTER, None)
    set_retention(env, HIGH_VALUE, 90)  # streaming: TikTok has no retention to compare with
    env.use_members(members, demo_day=1)

    plan = env.cli("plan")

    assert plan.exit_code == 0, plan.output
    (warning,) = lines_with(plan.stdout, f"{NEWSLETTER}: keeps the retention")
    assert f"TikTok audience {ids[NEWSLETTER]} was created with (30 days;" in warning
    assert "retention_days is now TikTok's default" in warning
    assert f"rename model {NEWSLETTER}" in warning
    assert "restore meta.tiktok.retention_days 30" in warning
    assert not lines_with(plan.stdout, HIGH_VALUE, "retention")
    planned = {
        a["audience_key"]: a for a in json.loads(env.cli("plan", "--json").stdout)["audiences"]
    }
    assert warning.split(": ", 1)[1] in planned[NEWSLETTER]["warnings"]
    assert planned[NEWSLETTER]["blocked"] == []
    env.emulator.clear_requests()

    result = env.cli("run")

    # Warned, not blocked: the audience keeps its retention and its members keep syncing.
    assert result.exit_code == 0, result.output
    assert lines_with(result.stdout, f"{NEWSLETTER}: keeps the retention")
    assert sent_to(env, ids[NEWSLETTER] or "")
    assert [r for r in env.api_requests() if r["endpoint"].endswith("create/")] == []
    assert env.registry() == ids
    env.assert_converged()
    set_retention(env, NEWSLETTER, 30)  # restored: nothing to say
    assert "retention" not in env.cli("plan").stdout
    set_retention(env, NEWSLETTER, 60)
    assert lines_with(env.cli("plan").stdout, NEWSLETTER, "keeps the retention")
    # An audience created before retention was recorded: unknown, so no warning.
    env.query("delete from tiktok_sync_create_requests")
    assert "retention" not in env.cli("plan").stdout
