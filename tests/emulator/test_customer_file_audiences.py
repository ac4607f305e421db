"""Customer-file audiences: create, update (set operations, 1,000 floor, processing lock), get,
list, delete (docs/tiktok-api.md §3.3-§3.8)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from .conftest import EmulatorFactory
from .helpers import ADVERTISER, Api, md5, shas

CREATE = "dmp/custom_audience/create/"
UPDATE = "dmp/custom_audience/update/"
GET = "dmp/custom_audience/get/"
LIST = "dmp/custom_audience/list/"
DELETE = "dmp/custom_audience/delete/"
BASE = shas(0, 1200)  # comfortably above the 1,000 floor


def _members(api: Api, audience_id: str) -> set[str]:
    return api.emulator.members(audience_id)["EMAIL_SHA256"]


# --- create -----------------------------------------------------------------------------


def test_create_returns_custom_audience_id_and_holds_the_files_hashes(api: Api) -> None:
    first, second = api.file_path(shas(0, 700)), api.file_path(shas(500, 1200))
    reply = api.post(
        CREATE,
        {
            "advertiser_id": ADVERTISER,
            "custom_audience_name": "n" * 128,
            "calculate_type": "EMAIL_SHA256",
            "file_paths": [first, second],
            "retention_in_days": 30,
        },
    )
    assert reply["code"] == 0, reply
    assert set(reply["data"]) == {"custom_audience_id"}
    audience_id = reply["data"]["custom_audience_id"]
    assert api.emulator.members(audience_id) == {"EMAIL_SHA256": set(BASE)}
    details = api.details(audience_id)
    assert details["name"] == "n" * 128
    assert details["type"] == "Customer File Audience"
    assert (details["cover_num"], details["is_valid"]) == (1200, True)


def test_maid_alias_files_make_a_first_sha256_audience(api: Api) -> None:
    hashes = shas(0, 1000, "maid")
    file_path = api.file_path(hashes, "MAID_SHA256")
    body = {
        "advertiser_id": ADVERTISER,
        "custom_audience_name": "devices",
        "calculate_type": "FIRST_SHA256",
        "file_paths": [file_path],
    }
    reply = api.post(CREATE, body)
    assert reply["code"] == 0, reply
    assert api.emulator.members(reply["data"]["custom_audience_id"]) == {
        "FIRST_SHA256": set(hashes)
    }


def _create_body(api: Api, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "advertiser_id": ADVERTISER,
        "custom_audience_name": "customers",
        "calculate_type": "EMAIL_SHA256",
        "file_paths": [api.file_path(BASE)],
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


@pytest.mark.parametrize(
    "overrides, code, says",
    [
        pytest.param(
            {"custom_audience_name": "n" * 129}, 40002, "custom_audience_name", id="name-129"
        ),
        pytest.param({"custom_audience_name": ""}, 40002, "custom_audience_name", id="name-empty"),
        pytest.param(
            {"custom_audience_name": None}, 40002, "custom_audience_name", id="name-missing"
        ),
        pytest.param({"calculate_type": "EMAIL"}, 40002, "calculate_type", id="unknown-type"),
        pytest.param(
            {"calculate_type": "MAID_SHA256"}, 40002, "calculate_type", id="alias-on-create"
        ),
        pytest.param({"calculate_type": "MULTIPLE_TYPES"}, 40002, "MULTIPLE_TYPES", id="multiple"),
        pytest.param(
            {"calculate_type": "PHONE_SHA256"}, 40002, "does not match", id="type-mismatch"
        ),
        pytest.param({"calculate_type": None}, 40002, "calculate_type", id="type-missing"),
        pytest.param({"file_paths": []}, 40002, "file_paths", id="no-files"),
        pytest.param({"file_paths": ["x"] * 501}, 40002, "file_paths", id="501-files"),
        pytest.param({"file_paths": "abc"}, 40002, "file_paths", id="files-not-list"),
        pytest.param({"file_paths": None}, 40002, "file_paths", id="files-missing"),
        pytest.param(
            {"file_paths": ["0123456789abcdef"]}, 40905, "does not exist", id="unknown-file"
        ),
        pytest.param({"retention_in_days": 0}, 40002, "retention_in_days", id="retention-0"),
        pytest.param({"retention_in_days": 366}, 40002, "retention_in_days", id="retention-366"),
        pytest.param({"retention_in_days": "30"}, 40002, "retention_in_days", id="retention-text"),
        pytest.param({"audience_sub_type": "BIG"}, 40002, "audience_sub_type", id="bad-sub-type"),
        pytest.param({"advertiser_id": "42"}, 40001, "42", id="foreign-advertiser"),
    ],
)
def test_create_errors(api: Api, overrides: dict[str, Any], code: int, says: str) -> None:
    reply = api.post(CREATE, _create_body(api, **overrides))
    assert reply["code"] == code, reply
    assert says in reply["message"]
    assert api.emulator.audiences() == []


def test_another_advertisers_file_path_does_not_exist(make_emulator: EmulatorFactory) -> None:
    other = "7000000000000000002"
    emulator = make_emulator(
        advertisers={ADVERTISER: "A", other: "B"},
        tokens={"emulator-token": [ADVERTISER, other]},
    )
    api = Api(emulator)
    reply = api.post(CREATE, _create_body(api, advertiser_id=other))
    assert reply["code"] == 40905


def test_small_audience_is_created_but_ends_at_size_zero_and_not_editable(api: Api) -> None:
    audience_id = api.file_audience(shas(0, 999))
    details = api.details(audience_id)
    assert (details["cover_num"], details["is_valid"]) == (0, False)
    assert "1,000" in details["error_msg"]
    reply = api.update(audience_id, "APPEND", shas(999, 2000))
    assert reply["code"] == 40002
    assert reply["message"] == "Audience is not editable, please check audience status"


def test_the_400_cap_counts_every_audience_of_the_advertiser(
    make_emulator: EmulatorFactory,
) -> None:
    api = Api(make_emulator(max_audiences=3, min_customer_file_size=1))
    api.file_audience(shas(0, 2))
    api.partner("one")
    api.partner("two")
    reply = api.post(CREATE, _create_body(api))
    assert reply["code"] == 40002
    assert "limit of 3" in reply["message"]
    segment = {"advertiser_id": ADVERTISER, "custom_audience_name": "three"}
    assert api.post("segment/audience/", segment)["code"] == 40002
    first = api.emulator.audiences()[0]["audience_id"]
    delete = {"advertiser_id": ADVERTISER, "custom_audience_ids": [first]}
    assert api.post(DELETE, delete)["code"] == 0
    assert api.post(CREATE, _create_body(api))["code"] == 0


# --- update: set operations and the floor ------------------------------------------------


@pytest.mark.parametrize(
    "action, incoming, expected",
    [
        pytest.param("APPEND", shas(1100, 1300), shas(0, 1300), id="append-adds-new-only"),
        pytest.param("REMOVE", shas(0, 100) + shas(5000, 5100), shas(100, 1200), id="remove"),
        pytest.param("REPLACE", shas(2000, 3000), shas(2000, 3000), id="replace"),
    ],
)
def test_update_applies_set_operations(
    api: Api, action: str, incoming: list[str], expected: list[str]
) -> None:
    audience_id = api.file_audience(BASE)
    reply = api.update(audience_id, action, incoming)
    assert reply["code"] == 0, reply
    assert _members(api, audience_id) == set(expected)


def test_update_defaults_to_replace(api: Api) -> None:
    audience_id = api.file_audience(BASE)
    body = {
        "advertiser_id": ADVERTISER,
        "custom_audience_id": audience_id,
        "file_paths": [api.file_path(shas(5000, 6000))],
    }
    assert api.post(UPDATE, body)["code"] == 0
    assert _members(api, audience_id) == set(shas(5000, 6000))


@pytest.mark.parametrize(
    "action, incoming",
    [
        pytest.param("REMOVE", shas(0, 201), id="remove-to-999"),
        pytest.param("REPLACE", shas(0, 999), id="replace-with-999"),
        pytest.param("APPEND", [], id="append-to-small"),
    ],
)
def test_update_below_the_floor_is_40002_and_changes_nothing(
    make_emulator: EmulatorFactory, action: str, incoming: list[str]
) -> None:
    emulator = make_emulator()
    api = Api(emulator)
    audience_id = api.file_audience(BASE)
    if action == "APPEND":
        # An audience can sit below the floor only if the floor rose after it was made.
        emulator.configure(min_customer_file_size=1500)
        incoming = shas(1200, 1201)
    reply = api.update(audience_id, action, incoming)
    assert reply["code"] == 40002
    assert "below the minimum of 1," in reply["message"]
    assert _members(api, audience_id) == set(BASE)


def test_update_with_a_file_of_another_type_is_40002(api: Api) -> None:
    audience_id = api.file_audience(BASE)
    file_path = api.file_path([md5(i) for i in range(5)], "IDFA_MD5")
    body = {
        "advertiser_id": ADVERTISER,
        "custom_audience_id": audience_id,
        "action": "APPEND",
        "file_paths": [file_path],
    }
    reply = api.post(UPDATE, body)
    assert reply["code"] == 40002
    assert "does not match" in reply["message"]


def test_rename_only(api: Api) -> None:
    audience_id = api.file_audience(BASE)
    body = {"advertiser_id": ADVERTISER, "custom_audience_id": audience_id}
    assert api.post(UPDATE, {**body, "custom_audience_name": "renamed"})["code"] == 0
    assert api.details(audience_id)["name"] == "renamed"
    assert _members(api, audience_id) == set(BASE)


@pytest.mark.parametrize(
    "overrides, code, says",
    [
        pytest.param(
            {"custom_audience_id": "7100000000000009999"}, 40007, "does not exist", id="unknown"
        ),
        pytest.param({"action": "DELETE"}, 40002, "action", id="delete-is-not-an-action"),
        pytest.param({"action": "append"}, 40002, "action", id="lowercase-action"),
        pytest.param({"file_paths": None}, 40002, "file_paths", id="nothing-to-do"),
        pytest.param(
            {"file_paths": ["0123456789abcdef"]}, 40905, "does not exist", id="unknown-file"
        ),
        pytest.param(
            {"custom_audience_name": "x" * 129}, 40002, "custom_audience_name", id="long-name"
        ),
        pytest.param(
            {"custom_audience_id": None}, 40002, "custom_audience_id", id="no-audience-id"
        ),
    ],
)
def test_update_errors(api: Api, overrides: dict[str, Any], code: int, says: str) -> None:
    audience_id = api.file_audience(BASE)
    body: dict[str, Any] = {
        "advertiser_id": ADVERTISER,
        "custom_audience_id": audience_id,
        "action": "APPEND",
        "file_paths": [api.file_path(shas(5000, 5010))],
    }
    body.update(overrides)
    reply = api.post(UPDATE, {k: v for k, v in body.items() if v is not None})
    assert reply["code"] == code, reply
    assert says in reply["message"]
    assert _members(api, audience_id) == set(BASE)


def test_partner_audiences_are_not_updated_with_files(api: Api) -> None:
    audience_id = api.partner()
    assert api.update(audience_id, "APPEND", BASE)["code"] == 40002


# --- processing lock ------------------------------------------------------------------------


def test_processing_lock_after_create_and_after_each_update(make_emulator: EmulatorFactory) -> None:
    api = Api(make_emulator(processing_seconds=0.3))
    audience_id = api.file_audience(BASE)
    assert api.details(audience_id)["is_valid"] is False
    locked = api.update(audience_id, "APPEND", shas(1200, 1300))
    assert locked["code"] == 40002
    assert locked["message"] == "The audience is processing, please try again later."
    time.sleep(0.35)
    assert api.details(audience_id)["is_valid"] is True
    assert api.update(audience_id, "APPEND", shas(1200, 1300))["code"] == 0
    assert api.update(audience_id, "REMOVE", shas(1200, 1300))["code"] == 40002  # new window
    assert _members(api, audience_id) == set(shas(0, 1300))


def test_processing_window_can_change_at_run_time(make_emulator: EmulatorFactory) -> None:
    emulator = make_emulator(processing_seconds=60)
    api = Api(emulator)
    audience_id = api.file_audience(BASE)
    emulator.configure(processing_seconds=0)
    assert api.update(audience_id, "APPEND", shas(1200, 1300))["code"] == 40002  # old window
    emulator.reset()
    audience_id = api.file_audience(BASE)
    assert api.update(audience_id, "APPEND", shas(1200, 1300))["code"] == 0


# --- get --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "encode",
    [
        pytest.param(
            lambda ids: {"custom_audience_ids": "[" + ",".join(f'"{i}"' for i in ids) + "]"},
            id="json-array",
        ),
        pytest.param(
            lambda ids: {"custom_audience_ids": "[" + ",".join(ids) + "]"}, id="json-ints"
        ),
        pytest.param(lambda ids: {"custom_audience_ids": ids}, id="repeated-params"),
    ],
)
def test_get_accepts_both_array_encodings(api: Api, encode: Any) -> None:
    first, second = api.file_audience(BASE), api.partner()
    reply = api.get(GET, {"advertiser_id": ADVERTISER, **encode([second, first])})
    assert reply["code"] == 0, reply
    ids = [item["audience_details"]["audience_id"] for item in reply["data"]["list"]]
    assert ids == [second, first]


def test_get_details_and_history_fields(api: Api) -> None:
    audience_id = api.file_audience(BASE, name="crm")
    api.update(audience_id, "APPEND", shas(1200, 1300))
    reply = api.get(GET, {"advertiser_id": ADVERTISER, "custom_audience_ids": f'["{audience_id}"]'})
    item = reply["data"]["list"][0]
    details = item["audience_details"]
    assert details["audience_id"] == audience_id
    assert details["calculate_type"] == "EMAIL_SHA256"
    assert details["cover_num"] == 1300
    assert (details["is_creator"], details["shared"], details["is_expiring"]) == (
        True,
        False,
        False,
    )
    assert time.strptime(details["create_time"], "%Y-%m-%d %H:%M:%S")
    assert time.strptime(details["expired_time"], "%Y-%m-%d %H:%M:%S")
    assert {"msg", "error_msg"} <= set(details)
    history = item["audience_history"]
    assert [h["action"] for h in history] == ["APPEND", "CREATE"]
    assert {h["editor"] for h in history} == {"open_api"}


def test_retention_sets_expiry_and_expiring_flag(api: Api) -> None:
    body = {
        "advertiser_id": ADVERTISER,
        "custom_audience_name": "short",
        "calculate_type": "EMAIL_SHA256",
        "file_paths": [api.file_path(BASE)],
        "retention_in_days": 30,
    }
    audience_id = api.post(CREATE, body)["data"]["custom_audience_id"]
    details = api.details(audience_id)
    assert details["is_expiring"] is True  # within 60 days of expiry (docs/tiktok-api.md §3.5)
    created = time.mktime(time.strptime(details["create_time"], "%Y-%m-%d %H:%M:%S"))
    expires = time.mktime(time.strptime(details["expired_time"], "%Y-%m-%d %H:%M:%S"))
    assert expires - created == 30 * 86400


@pytest.mark.parametrize(
    "params, code",
    [
        pytest.param({"custom_audience_ids": '["7100000000000009999"]'}, 40007, id="unknown-id"),
        pytest.param({}, 40002, id="ids-missing"),
        pytest.param({"custom_audience_ids": "[]"}, 40002, id="ids-empty"),
        pytest.param({"custom_audience_ids": '["abc"]'}, 40002, id="ids-not-numeric"),
        pytest.param({"custom_audience_ids": "[1,"}, 40002, id="ids-bad-json"),
        pytest.param(
            {"custom_audience_ids": str([str(i) for i in range(101)]).replace("'", '"')},
            40002,
            id="ids-101",
        ),
    ],
)
def test_get_errors(api: Api, params: dict[str, Any], code: int) -> None:
    assert api.get(GET, {"advertiser_id": ADVERTISER, **params})["code"] == code


# --- list -------------------------------------------------------------------------------


def test_list_pages_through_every_audience_including_partner(
    make_emulator: EmulatorFactory,
) -> None:
    api = Api(make_emulator(min_customer_file_size=1))
    made = [api.file_audience(shas(0, 3), name="file")] + [api.partner(f"p{i}") for i in range(4)]
    first = api.get(LIST, {"advertiser_id": ADVERTISER, "page_size": 2})
    assert first["data"]["page_info"] == {
        "page": 1,
        "page_size": 2,
        "total_number": 5,
        "total_page": 3,
    }
    seen = []
    for page in (1, 2, 3):
        reply = api.get(LIST, {"advertiser_id": ADVERTISER, "page": page, "page_size": 2})
        seen += reply["data"]["list"]
    assert [item["audience_id"] for item in seen] == made
    assert [item["audience_type"] for item in seen] == ["Customer File Audience"] + ["Partner"] * 4
    assert set(seen[0]) == {
        "audience_id",
        "name",
        "audience_type",
        "calculate_type",
        "cover_num",
        "is_valid",
        "is_expiring",
        "shared",
        "is_creator",
        "create_time",
        "expired_time",
    }


def test_list_defaults_to_page_size_10(api: Api) -> None:
    for i in range(12):
        api.partner(f"p{i}")
    reply = api.get(LIST, {"advertiser_id": ADVERTISER})
    assert len(reply["data"]["list"]) == 10
    assert reply["data"]["page_info"]["total_page"] == 2


@pytest.mark.parametrize(
    "params",
    [
        pytest.param({"page_size": 0}, id="page-size-0"),
        pytest.param({"page_size": 101}, id="page-size-101"),
        pytest.param({"page": 0}, id="page-0"),
        pytest.param({"page": "first"}, id="page-not-int"),
    ],
)
def test_list_rejects_bad_paging(api: Api, params: dict[str, Any]) -> None:
    reply = api.get(LIST, {"advertiser_id": ADVERTISER, **params})
    assert reply["code"] == 40002
    assert next(iter(params)) in reply["message"]


# --- delete -------------------------------------------------------------------------------


def test_delete_removes_audiences(api: Api) -> None:
    keep, drop = api.partner("keep"), api.partner("drop")
    reply = api.post(DELETE, {"advertiser_id": ADVERTISER, "custom_audience_ids": [drop]})
    assert reply["code"] == 0
    assert [a["audience_id"] for a in api.emulator.audiences()] == [keep]


@pytest.mark.parametrize(
    "ids, code",
    [
        pytest.param(["KEEP", "7100000000000009999"], 40007, id="one-unknown-id"),
        pytest.param([], 40002, id="empty"),
        pytest.param(["KEEP"] + [str(i) for i in range(100)], 40002, id="101-ids"),
        pytest.param(None, 40002, id="missing"),
    ],
)
def test_delete_errors_delete_nothing(api: Api, ids: list[str] | None, code: int) -> None:
    keep = api.partner("keep")
    body: dict[str, Any] = {"advertiser_id": ADVERTISER}
    if ids is not None:
        body["custom_audience_ids"] = [keep if i == "KEEP" else i for i in ids]
    assert api.post(DELETE, body)["code"] == code
    assert [a["audience_id"] for a in api.emulator.audiences()] == [keep]
