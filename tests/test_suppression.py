"""The suppression list end to end: dbt-built demo warehouse, emulator over loopback, the real CLI.

Specification (README "Suppression list"): identifiers on the project's suppression list (the
model or seed named by the var `tiktok_sync_suppression`; the demo's is the seed
`demo_suppression_list`), raw or hashed, are normalised by the audiences' own rules, never sent
to any audience, and removed from every audience TikTok holds them in by the next run, add_only
audiences included. `plan` and `run` count the suppressed members of each audience.
`tiktok_suppression_evidence` shows, by the list's own key, each add and remove TikTok
acknowledged, with the request_id TikTok answered.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.sync_support import WRITE_PATHS, SyncEnv, sync_env
from tests.warehouses import Warehouses

HIGH_VALUE = "demo_high_value_customers"
NEWSLETTER = "demo_newsletter_subscribers"
ADD_ONLY = "demo_mobile_app_users"
# Members of the demo at day 0, as the CRM and the app backend hold them.
MEMBER_EMAIL = "zoe_smith@example.com"  # of HIGH_VALUE and NEWSLETTER
MEMBER_GAID = "35df91c1-d299-4b02-923d-38c54b4e2f40"  # of ADD_ONLY


@pytest.fixture
def env(engine: Warehouses, tmp_path: Path) -> Iterator[SyncEnv]:
    with sync_env(engine, tmp_path / "dbt") as sync:
        yield sync


def sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def suppressed(env: SyncEnv) -> set[tuple[str, str]]:
    rows = env.query("select id_type, id_hash from tiktok_suppressed_identifiers")
    return {(str(t), str(h)) for t, h in rows}


def held(members: dict[str, set[str]]) -> set[tuple[str, str]]:
    return {(t, h) for t, hashes in members.items() for h in hashes}


def plan(env: SyncEnv) -> dict[str, dict[str, int]]:
    planned = env.cli("plan", "--json")
    assert planned.exit_code == 0, planned.output
    return {a["audience_key"]: a for a in json.loads(planned.stdout)["audiences"]}


def test_a_suppressed_identifier_tiktok_holds_is_removed_by_the_next_run(env: SyncEnv) -> None:
    # The demo's list: one customer raw and as her SHA-256 (one identifier), a hashed email and
    # a national-format phone of another, an advertising id, and a value that is no email.
    before = suppressed(env)
    assert len(before) == 4
    counts = {key: a["suppressed_identifiers"] for key, a in plan(env).items()}
    assert counts == {HIGH_VALUE: 3, NEWSLETTER: 1, ADD_ONLY: 1}
    text = env.cli("plan")
    assert text.exit_code == 0 and "suppressed" in text.stdout
    # the list's "not an email" suppresses nothing: plan and run say so, not only dbt build
    unusable = "1 value(s) of the suppression list suppress nothing"
    assert unusable in text.stdout
    assert [n for n in json.loads(env.cli("plan", "--json").stdout)["notes"] if unusable in n]

    first = env.cli("run")

    assert first.exit_code == 0, first.output
    assert unusable in first.stdout
    tiktok = env.tiktok()
    assert tiktok == env.desired()
    assert all(not held(members) & before for members in tiktok.values())
    email = ("EMAIL_SHA256", sha256(MEMBER_EMAIL))
    gaid = ("GAID_SHA256", sha256(MEMBER_GAID))
    assert email in held(tiktok[HIGH_VALUE]) and email in held(tiktok[NEWSLETTER])
    assert gaid in held(tiktok[ADD_ONLY])

    # Two requests arrive, written as people write them: a deletion request by email, an
    # opt-out from the app with the advertising id in capitals.
    env.query(
        "insert into demo_suppression_list (request_id, received_day, email, gaid) "
        "values (?, ?, ?, ?), (?, ?, ?, ?)",
        [
            "deletion-3",
            0,
            "\tZoe_Smith@Example.COM ",
            None,
            "opt-out-4",
            0,
            None,
            MEMBER_GAID.upper(),
        ],
    )
    # What a user runs after the list changed (on Postgres dbt's table materialization drops
    # the views over the list, so they are built again with it).
    env.project.run("run", "--select", "tiktok_suppression_entries+")
    planned = plan(env)
    assert {k: (a["removes_sent"], a["suppressed_identifiers"]) for k, a in planned.items()} == {
        HIGH_VALUE: (1, 4),
        NEWSLETTER: (1, 2),
        ADD_ONLY: (1, 2),  # an opt-out outranks add_only
    }
    first_requests = answered(env)
    env.emulator.clear_requests()

    second = env.cli("run", "--json")

    assert second.exit_code == 0, second.output
    report = {a["audience_key"]: a for a in json.loads(second.stdout)["audiences"]}
    assert {k: (a["adds_sent"], a["removes_sent"]) for k, a in report.items()} == {
        HIGH_VALUE: (0, 1),
        NEWSLETTER: (0, 1),
        ADD_ONLY: (0, 1),
    }
    assert report[ADD_ONLY]["suppressed_identifiers"] == 2
    registry = env.registry()
    assert env.mapped_hashes("delete") == {
        (registry[HIGH_VALUE], email[1]),
        (registry[ADD_ONLY], gaid[1]),
    }
    tiktok = env.tiktok()
    assert tiktok == env.desired() == env.acknowledged()
    assert all(not held(members) & {email, gaid} for members in tiktok.values())
    assert env.pending() == {}

    # The privacy team's evidence, by the list's own key: which audiences the email was sent
    # to, and when TikTok acknowledged each add and each remove, with TikTok's request_id.
    evidence = env.query(
        "select audience_key, audience_id, action, outcome, tiktok_request_id, acknowledged_at, "
        "is_possibly_held from tiktok_suppression_evidence where request_id = 'deletion-3'"
    )
    assert sorted((r[0], r[2], r[3], bool(r[6])) for r in evidence) == [
        (HIGH_VALUE, "add", "acknowledged", False),
        (HIGH_VALUE, "remove", "acknowledged", False),
        (NEWSLETTER, "add", "acknowledged", False),
        (NEWSLETTER, "remove", "acknowledged", False),
    ]
    second_requests = answered(env)
    for key, audience_id, action, _, request_id, acknowledged_at, _ in evidence:
        assert audience_id == registry[key] and acknowledged_at is not None
        request = (first_requests if action == "add" else second_requests)[request_id]
        if request["endpoint"] != "dmp/custom_audience/create/":  # TikTok names it in its answer
            assert audience_id in json.dumps(request["body"]), request
    removal = second_requests[
        next(r[4] for r in evidence if r[:3] == (HIGH_VALUE, registry[HIGH_VALUE], "remove"))
    ]
    assert request_action(removal) == ("delete", email[1])
    # An entry that is no email reached nowhere, and says why.
    assert env.query(
        "select audience_key, reason_code from tiktok_suppression_evidence "
        "where request_id = 'opt-out-3'"
    ) == [(None, "email_invalid_format")]


def answered(env: SyncEnv) -> dict[str, dict[str, object]]:
    """The emulator's answered write requests, by the request_id TikTok returned."""
    return {
        str(r["request_id"]): r
        for r in env.api_requests()
        if r["endpoint"] in WRITE_PATHS and r.get("code") == 0
    }


def request_action(request: dict[str, object]) -> tuple[str, str]:
    """The action and the one hash of a /segment/mapping/ request of one identifier."""
    body = request["body"]
    assert isinstance(body, dict)
    [[item]] = body["batch_data"]
    return str(body["action"]), str(item["id"])
