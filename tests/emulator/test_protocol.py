"""Wire format: envelope, request ids, plain 404/405, Access-Token, advertiser checks
(docs/tiktok-api.md §1)."""

from __future__ import annotations

import pytest
import requests

from sync.emulator import Emulator

from .conftest import EmulatorFactory
from .helpers import ADVERTISER, Api

LIST = "dmp/custom_audience/list/"


def test_success_envelope_has_code_message_request_id_data(api: Api) -> None:
    response = api.session.get(
        api.base + LIST, params={"advertiser_id": ADVERTISER}, headers=api.headers()
    )
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"code", "message", "request_id", "data"}
    assert (body["code"], body["message"]) == (0, "OK")
    assert response.headers["X-Tt-Logid"] == body["request_id"]


def test_errors_are_http_200_envelopes_with_request_id(api: Api) -> None:
    response = api.session.get(api.base + LIST, params={"advertiser_id": ADVERTISER})
    assert response.status_code == 200
    body = response.json()
    assert body["code"] == 40104
    assert body["request_id"]
    assert body["data"] == {}


def test_request_ids_are_unique(api: Api) -> None:
    ids = {api.get(LIST, {"advertiser_id": ADVERTISER})["request_id"] for _ in range(20)}
    ids |= {api.get(LIST, {"advertiser_id": "1"})["request_id"] for _ in range(5)}
    assert len(ids) == 25


@pytest.mark.parametrize(
    "method, path, status",
    [
        pytest.param("GET", "dmp/custom_audience/list", 404, id="missing-trailing-slash"),
        pytest.param("POST", "segment/mapping", 404, id="post-missing-trailing-slash"),
        pytest.param("GET", "dmp/custom_audience/nope/", 404, id="unknown-path"),
        pytest.param("GET", "../v1.2/segment/mapping/", 404, id="other-version"),
        pytest.param("GET", "segment/mapping/", 405, id="get-on-post-endpoint"),
        pytest.param("POST", "dmp/custom_audience/get/", 405, id="post-on-get-endpoint"),
        pytest.param("DELETE", "segment/audience/", 405, id="delete-method"),
    ],
)
def test_routing_errors_are_plain_http_not_envelopes(
    api: Api, method: str, path: str, status: int
) -> None:
    response = api.session.request(method, api.base + path, headers=api.headers())
    assert response.status_code == status
    assert not response.headers["Content-Type"].startswith("application/json")
    with pytest.raises(ValueError):
        response.json()


def test_paths_outside_the_api_are_404(emulator: Emulator) -> None:
    root = emulator.base_url.split("/open_api/")[0]
    assert requests.get(root + "/", timeout=5).status_code == 404


@pytest.mark.parametrize(
    "token, code",
    [
        pytest.param(None, 40104, id="missing-token"),
        pytest.param("", 40104, id="empty-token"),
        pytest.param("not-a-token", 40105, id="unknown-token"),
    ],
)
def test_access_token_is_checked_on_every_endpoint(api: Api, token: str | None, code: int) -> None:
    replies = {
        LIST: api.get(LIST, {"advertiser_id": ADVERTISER}, token=token),
        "segment/mapping/": api.post("segment/mapping/", {}, token=token),
        "oauth2/advertiser/get/": api.get("oauth2/advertiser/get/", token=token),
        "dmp/custom_audience/file/upload/": api.post(
            "dmp/custom_audience/file/upload/", token=token
        ),
    }
    assert {path: reply["code"] for path, reply in replies.items()} == dict.fromkeys(replies, code)


def test_missing_token_message_says_to_set_the_header(api: Api) -> None:
    reply = api.get(LIST, {"advertiser_id": ADVERTISER}, token=None)
    assert "Access-Token" in reply["message"]


def test_token_is_read_from_the_header_not_the_query(api: Api) -> None:
    reply = api.get(
        LIST, {"advertiser_id": ADVERTISER, "access_token": "emulator-token"}, token=None
    )
    assert reply["code"] == 40104


@pytest.mark.parametrize(
    "advertiser_id",
    [
        pytest.param("7000000000000000002", id="unknown-advertiser"),
        pytest.param("7000000000000000009", id="other-tokens-advertiser"),
    ],
)
def test_advertiser_the_token_cannot_manage_is_40001(
    make_emulator: EmulatorFactory, advertiser_id: str
) -> None:
    emulator = make_emulator(
        advertisers={ADVERTISER: "Mine", "7000000000000000009": "Theirs"},
        tokens={"emulator-token": [ADVERTISER], "their-token": ["7000000000000000009"]},
        auth_codes={},
    )
    api = Api(emulator)
    assert api.get(LIST, {"advertiser_id": advertiser_id})["code"] == 40001
    body = {"advertiser_id": advertiser_id, "custom_audience_name": "x"}
    assert api.post("segment/audience/", body)["code"] == 40001
    mapping = {"advertiser_ids": [ADVERTISER, advertiser_id], "id_schema": ["EMAIL_SHA256"]}
    assert api.post("segment/mapping/", mapping)["code"] == 40001


def test_integer_advertiser_id_is_accepted(api: Api) -> None:
    body = {"advertiser_id": int(ADVERTISER), "custom_audience_name": "int id"}
    assert api.post("segment/audience/", body)["code"] == 0


@pytest.mark.parametrize(
    "data, content_type, code",
    [
        pytest.param(b"{not json", "application/json", 40000, id="not-json"),
        pytest.param(b"[1, 2]", "application/json", 40000, id="json-array"),
        pytest.param(b"advertiser_id=1", "application/x-www-form-urlencoded", 40000, id="form"),
        pytest.param(b"", "application/json", 40000, id="empty-body"),
    ],
)
def test_bodies_that_are_not_a_json_object_are_40000(
    api: Api, data: bytes, content_type: str, code: int
) -> None:
    response = api.session.post(
        api.base + "segment/audience/",
        data=data,
        headers={**api.headers(), "Content-Type": content_type},
    )
    assert response.json()["code"] == code


def test_ids_are_19_digit_strings_beyond_float_precision(api: Api) -> None:
    audience_id = api.partner()
    assert isinstance(audience_id, str) and len(audience_id) == 19 and audience_id.isdigit()
    assert int(audience_id) > 2**53


def test_keep_alive_connection_serves_many_requests(api: Api) -> None:
    for _ in range(30):
        assert api.get(LIST, {"advertiser_id": ADVERTISER})["code"] == 0
