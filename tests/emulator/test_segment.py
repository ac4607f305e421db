"""Segment API: Partner audiences and /segment/mapping/ (docs/tiktok-api.md §4.1, §4.2)."""

from __future__ import annotations

import gc
import time
from collections.abc import Set
from typing import Any

import pytest

from .conftest import EmulatorFactory
from .helpers import ADVERTISER, Api, md5, sha, shas

SEGMENT = "segment/audience/"
MAPPING = "segment/mapping/"


# --- /segment/audience/ ----------------------------------------------------------------


@pytest.mark.parametrize(
    "name, stored",
    [
        pytest.param("Loyal buyers", "Loyal buyers", id="short"),
        pytest.param("x" * 70, "x" * 70, id="exactly-70-kept"),
        pytest.param("y" * 71, "y" * 67 + "...", id="71-truncated"),
        pytest.param("z" * 300, "z" * 67 + "...", id="300-truncated"),
    ],
)
def test_create_segment_truncates_long_names(api: Api, name: str, stored: str) -> None:
    reply = api.post(SEGMENT, {"advertiser_id": ADVERTISER, "custom_audience_name": name})
    assert reply["code"] == 0, reply
    audience_id = reply["data"]["audience_id"]
    details = api.details(audience_id)
    assert details["name"] == stored
    assert (details["type"], details["calculate_type"]) == ("Partner", "MULTIPLE_TYPES")
    # Segment's fixture of a new segment audience (docs/tiktok-api.md §3.5).
    assert (details["cover_num"], details["is_valid"]) == (0, False)


def test_segment_request_body_exactly_as_segment_sends_it(api: Api) -> None:
    body = {"custom_audience_name": "seg", "advertiser_id": ADVERTISER, "action": "create"}
    reply = api.post(SEGMENT, body)
    assert (reply["code"], reply["message"]) == (0, "OK")
    assert set(reply["data"]) == {"audience_id"}


@pytest.mark.parametrize(
    "body, code, says",
    [
        pytest.param({"custom_audience_name": ""}, 40002, "custom_audience_name", id="empty-name"),
        pytest.param(
            {"custom_audience_name": "  "}, 40002, "custom_audience_name", id="blank-name"
        ),
        pytest.param({}, 40002, "custom_audience_name", id="no-name"),
        pytest.param({"custom_audience_name": 5}, 40002, "custom_audience_name", id="name-not-str"),
        pytest.param(
            {"custom_audience_name": "a", "action": "update"}, 40002, "action", id="action"
        ),
        pytest.param(
            {"custom_audience_name": "a", "action": "CREATE"}, 40002, "action", id="upper"
        ),
        pytest.param({"action": "delete"}, 40002, "delete_audience_id", id="delete-without-id"),
        pytest.param(
            {"action": "delete", "delete_audience_id": "7100000000000009999"},
            40007,
            "does not exist",
            id="delete-unknown",
        ),
    ],
)
def test_segment_audience_errors(api: Api, body: dict[str, Any], code: int, says: str) -> None:
    reply = api.post(SEGMENT, {"advertiser_id": ADVERTISER, **body})
    assert reply["code"] == code, reply
    assert says in reply["message"]


def test_delete_segment(api: Api) -> None:
    audience_id = api.partner()
    body = {"advertiser_id": ADVERTISER, "action": "delete", "delete_audience_id": audience_id}
    reply = api.post(SEGMENT, body)
    assert reply["code"] == 0
    assert api.emulator.audiences() == []


def test_segment_delete_refuses_customer_file_audiences(make_emulator: EmulatorFactory) -> None:
    api = Api(make_emulator(min_customer_file_size=1))
    audience_id = api.file_audience(shas(0, 3))
    body = {"advertiser_id": ADVERTISER, "action": "delete", "delete_audience_id": audience_id}
    assert api.post(SEGMENT, body)["code"] == 40002
    assert len(api.emulator.audiences()) == 1


# --- /segment/mapping/ -------------------------------------------------------------------


def test_add_and_delete_are_set_operations(api: Api) -> None:
    audience_id = api.partner()
    assert api.map(audience_id, shas(0, 10))["code"] == 0
    assert api.map(audience_id, shas(5, 15))["code"] == 0  # overlap is idempotent
    assert api.map(audience_id, shas(0, 3) + shas(100, 102), action="delete")["code"] == 0
    assert api.emulator.members(audience_id) == {"EMAIL_SHA256": set(shas(3, 15))}
    assert api.details(audience_id)["cover_num"] == 12


def test_the_garbage_collector_never_walks_the_members(api: Api) -> None:
    # Each full collection walks every entry of every container it tracks: members held in one
    # made each mapping request slower than the last once an audience held millions.
    segment = api.partner()
    api.map(segment, shas(0, 1500))
    api.map(segment, shas(0, 500), action="delete")
    customers = api.file_audience(shas(2000, 3500))
    assert api.update(customers, "APPEND", shas(3500, 4000))["code"] == 0
    assert api.update(customers, "REMOVE", shas(2000, 2100))["code"] == 0
    gc.collect()
    members = {sha(1000), sha(2500), sha(3800)}  # one of each: mapped, created, appended

    def holds_members(tracked: object) -> bool:
        keys = tracked.keys() if isinstance(tracked, dict) else tracked
        return isinstance(keys, Set) and len(keys) >= 400 and not members.isdisjoint(keys)

    holding = [type(tracked).__name__ for tracked in gc.get_objects() if holds_members(tracked)]
    assert holding == []
    assert api.emulator.members(segment) == {"EMAIL_SHA256": set(shas(500, 1500))}
    assert api.emulator.members(customers) == {"EMAIL_SHA256": set(shas(2100, 4000))}


def test_deleting_every_member_leaves_no_empty_id_type(api: Api) -> None:
    audience_id = api.partner()
    api.map(audience_id, shas(0, 3))
    api.map(audience_id, shas(0, 3), action="delete")
    assert api.emulator.members(audience_id) == {}


def test_action_defaults_to_add(api: Api) -> None:
    audience_id = api.partner()
    body = api.mapping_body(audience_id, shas(0, 2))
    del body["action"]
    assert api.post(MAPPING, body)["code"] == 0
    assert api.emulator.members(audience_id) == {"EMAIL_SHA256": set(shas(0, 2))}


def test_multi_id_rows_align_by_position_with_placeholders(api: Api) -> None:
    first, second = api.partner("first"), api.partner("second")
    body = {
        "advertiser_ids": [ADVERTISER],
        "action": "add",
        "id_schema": ["email_sha256", "PHONE_SHA256", "AAID_MD5"],  # lowercase is accepted
        "batch_data": [
            [{"id": sha(1), "audience_ids": [first]}, {}, {"id": md5(1), "audience_ids": [first]}],
            [{}, {"id": sha(2, "phone"), "audience_ids": [first, second]}],  # short row
            [{}, {}, {}],
        ],
    }
    assert api.post(MAPPING, body)["code"] == 0
    assert api.emulator.members(first) == {
        "EMAIL_SHA256": {sha(1)},
        "PHONE_SHA256": {sha(2, "phone")},
        "AAID_MD5": {md5(1)},
    }
    assert api.emulator.members(second) == {"PHONE_SHA256": {sha(2, "phone")}}


def test_partner_audience_becomes_valid_at_the_floor(make_emulator: EmulatorFactory) -> None:
    api = Api(make_emulator(min_customer_file_size=5))
    audience_id = api.partner()
    api.map(audience_id, shas(0, 4))
    assert api.details(audience_id)["is_valid"] is False
    api.map(audience_id, shas(4, 5))
    assert api.details(audience_id)["is_valid"] is True


def _row(audience_id: str, value: Any) -> list[dict[str, Any]]:
    return [{"id": value, "audience_ids": [audience_id]}]


MAPPING_ERRORS = [
    pytest.param(
        lambda a: {"batch_data": [_row(a, sha(0)), _row(a, sha(1)[:63])]},
        40002,
        "batch_data[1][0].id: must be 64 hex characters",
        id="short-hash-names-row",
    ),
    pytest.param(
        lambda a: {"batch_data": [_row(a, sha(0).upper())]},
        40002,
        "batch_data[0][0].id: must be lowercase",
        id="uppercase-hash",
    ),
    pytest.param(
        lambda a: {"batch_data": [_row(a, md5(0))]},
        40002,
        "got 32",
        id="md5-under-sha256-schema",
    ),
    pytest.param(
        lambda a: {"id_schema": ["IDFA_MD5"], "batch_data": [_row(a, sha(0))]},
        40002,
        "must be 32 hex characters",
        id="sha256-under-md5-schema",
    ),
    pytest.param(
        lambda a: {"batch_data": [_row(a, 12345)]}, 40002, "must be a string", id="id-not-string"
    ),
    pytest.param(
        lambda a: {"id_schema": ["GAID_SHA256"]}, 40002, "id_schema[0]", id="unknown-id-schema"
    ),
    pytest.param(
        lambda a: {"id_schema": ["EMAIL_SHA256", "email_sha256"]},
        40002,
        "Duplicate",
        id="duplicate-id-schema",
    ),
    pytest.param(lambda a: {"id_schema": []}, 40002, "id_schema", id="empty-id-schema"),
    pytest.param(
        lambda a: {"batch_data": [_row(a, sha(0)) + _row(a, sha(1))]},
        40002,
        "batch_data[0]: Has 2 entries but id_schema has 1",
        id="row-longer-than-schema",
    ),
    pytest.param(lambda a: {"batch_data": []}, 40002, "batch_data", id="empty-batch"),
    pytest.param(lambda a: {"batch_data": None}, 40002, "batch_data", id="no-batch"),
    pytest.param(lambda a: {"batch_data": ["x"]}, 40002, "batch_data[0]", id="row-not-list"),
    pytest.param(lambda a: {"batch_data": [["x"]]}, 40002, "batch_data[0][0]", id="entry-not-obj"),
    pytest.param(
        lambda a: {"batch_data": [[{"id": sha(0)}]]},
        40002,
        "audience_ids",
        id="no-audience-ids",
    ),
    pytest.param(
        lambda a: {"batch_data": [[{"id": sha(0), "audience_ids": []}]]},
        40002,
        "audience_ids",
        id="empty-audience-ids",
    ),
    pytest.param(
        lambda a: {"batch_data": [_row("7100000000000009999", sha(0))]},
        40002,
        "invalid audience ID 7100000000000009999",
        id="unknown-audience",
    ),
    pytest.param(lambda a: {"action": "remove"}, 40002, "action", id="remove-is-not-an-action"),
    pytest.param(lambda a: {"advertiser_ids": []}, 40002, "advertiser_ids", id="no-advertisers"),
    pytest.param(lambda a: {"advertiser_ids": ["99"]}, 40001, "99", id="foreign-advertiser"),
]


@pytest.mark.parametrize("change, code, says", MAPPING_ERRORS)
def test_mapping_errors_change_nothing(api: Api, change: Any, code: int, says: str) -> None:
    audience_id = api.partner()
    api.map(audience_id, shas(0, 3))
    body = api.mapping_body(audience_id, shas(10, 12))
    body.update(change(audience_id))
    reply = api.post(MAPPING, {k: v for k, v in body.items() if v is not None})
    assert reply["code"] == code, reply
    assert says in reply["message"]
    assert api.emulator.members(audience_id) == {"EMAIL_SHA256": set(shas(0, 3))}


def test_one_bad_row_rejects_the_whole_batch(api: Api) -> None:
    audience_id = api.partner()
    body = api.mapping_body(audience_id, shas(0, 50))
    body["batch_data"][49][0]["id"] = "not-a-hash"
    assert api.post(MAPPING, body)["code"] == 40002
    assert api.emulator.members(audience_id) == {}


def test_mapping_into_a_customer_file_audience_is_invalid(make_emulator: EmulatorFactory) -> None:
    api = Api(make_emulator(min_customer_file_size=1))
    audience_id = api.file_audience(shas(0, 3))
    reply = api.map(audience_id, shas(3, 4))
    assert reply["code"] == 40002
    assert "invalid audience ID" in reply["message"]


def test_audience_of_an_advertiser_not_in_the_request_is_invalid(
    make_emulator: EmulatorFactory,
) -> None:
    other = "7000000000000000002"
    emulator = make_emulator(
        advertisers={ADVERTISER: "A", other: "B"}, tokens={"emulator-token": [ADVERTISER, other]}
    )
    api = Api(emulator)
    body = {"advertiser_id": other, "custom_audience_name": "theirs"}
    theirs = api.post(SEGMENT, body)["data"]["audience_id"]
    reply = api.map(theirs, shas(0, 1))  # advertiser_ids = [ADVERTISER] only
    assert (reply["code"], "invalid audience ID" in reply["message"]) == (40002, True)
    both = {**api.mapping_body(theirs, shas(0, 1)), "advertiser_ids": [ADVERTISER, other]}
    assert api.post(MAPPING, both)["code"] == 0


def test_batch_over_the_row_limit_is_40011(make_emulator: EmulatorFactory) -> None:
    api = Api(make_emulator(mapping_batch_limit=5))
    audience_id = api.partner()
    assert api.map(audience_id, shas(0, 5))["code"] == 0
    reply = api.map(audience_id, shas(5, 11))
    assert reply["code"] == 40011
    assert "limit of 5" in reply["message"]
    assert api.emulator.members(audience_id) == {"EMAIL_SHA256": set(shas(0, 5))}


def test_default_batch_limit_is_10000_rows(api: Api) -> None:
    audience_id = api.partner()
    assert api.map(audience_id, shas(0, 10_000))["code"] == 0
    assert api.map(audience_id, shas(0, 10_001))["code"] == 40011


# --- a new segment is not ready at once (docs/tiktok-api.md §4.1) ---------------------------------


def test_new_segment_answers_mappings_with_plain_http_400_until_ready(
    make_emulator: EmulatorFactory,
) -> None:
    emulator = make_emulator(segment_ready_seconds=0.4)
    api = Api(emulator)
    audience_id = api.partner("fresh")
    early = api.session.post(
        api.base + MAPPING, json=api.mapping_body(audience_id, shas(0, 3)), headers=api.headers()
    )
    assert early.status_code == 400
    assert "code" not in early.text  # no envelope: the request never reached the API logic
    assert emulator.members(audience_id) == {}  # nothing applied
    time.sleep(0.45)
    assert api.map(audience_id, shas(0, 3))["code"] == 0
    assert emulator.members(audience_id) == {"EMAIL_SHA256": set(shas(0, 3))}


def test_segment_ready_window_can_change_at_run_time(make_emulator: EmulatorFactory) -> None:
    emulator = make_emulator()
    api = Api(emulator)
    assert api.map(api.partner("ready at once"), shas(0, 1))["code"] == 0  # the default: 0 s
    emulator.configure(segment_ready_seconds=60)
    fresh = api.partner("waits")
    reply = api.session.post(
        api.base + MAPPING, json=api.mapping_body(fresh, shas(0, 1)), headers=api.headers()
    )
    assert reply.status_code == 400
