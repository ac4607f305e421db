"""The control API under /_emulator/ and its in-process mirror on `Emulator`."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from sync.emulator import Emulator

from .conftest import EmulatorFactory
from .helpers import ADVERTISER, Api, md5, shas

OTHER = "7000000000000000002"


def _control(emulator: Emulator, method: str, path: str, **kw: Any) -> requests.Response:
    return requests.request(method, emulator.control_url + path, timeout=5, **kw)


def test_control_url_is_beside_the_api(emulator: Emulator) -> None:
    assert emulator.base_url.endswith("/open_api/v1.3/")
    assert emulator.control_url == emulator.base_url.replace("/open_api/v1.3/", "/_emulator/")
    assert _control(emulator, "GET", "").json()["paths"]


def test_audiences_lists_kinds_counts_and_processing(make_emulator: EmulatorFactory) -> None:
    emulator = make_emulator(
        advertisers={ADVERTISER: "A", OTHER: "B"},
        tokens={"emulator-token": [ADVERTISER, OTHER]},
        processing_seconds=30,
    )
    api = Api(emulator)
    file_id = api.file_audience(shas(0, 1000))
    partner = api.partner("stream")
    api.map(partner, shas(0, 2))
    api.post(
        "segment/mapping/",
        {
            "advertiser_ids": [ADVERTISER],
            "id_schema": ["IDFA_MD5"],
            "batch_data": [[{"id": md5(1), "audience_ids": [partner]}]],
        },
    )
    api.post("segment/audience/", {"advertiser_id": OTHER, "custom_audience_name": "other"})
    listed = _control(emulator, "GET", "audiences/", params={"advertiser_id": ADVERTISER}).json()
    assert listed["audiences"] == [
        {
            "audience_id": file_id,
            "advertiser_id": ADVERTISER,
            "name": "customers",
            "kind": "customer_file",
            "calculate_type": "EMAIL_SHA256",
            "audience_sub_type": "NORMAL",
            "members": {"EMAIL_SHA256": 1000},
            "member_total": 1000,
            "processing": True,
            "editable": True,
        },
        {
            "audience_id": partner,
            "advertiser_id": ADVERTISER,
            "name": "stream",
            "kind": "partner",
            "calculate_type": "MULTIPLE_TYPES",
            "audience_sub_type": "NORMAL",
            "members": {"EMAIL_SHA256": 2, "IDFA_MD5": 1},
            "member_total": 3,
            "processing": False,
            "editable": True,
        },
    ]
    assert len(_control(emulator, "GET", "audiences/").json()["audiences"]) == 3
    assert emulator.audiences(ADVERTISER) == listed["audiences"]


def test_members_are_sorted_per_id_type(api: Api) -> None:
    audience_id = api.partner()
    api.map(audience_id, shas(0, 5))
    reply = _control(api.emulator, "GET", f"audiences/{audience_id}/members/").json()
    assert reply == {"audience_id": audience_id, "members": {"EMAIL_SHA256": sorted(shas(0, 5))}}
    assert api.emulator.members(audience_id) == {"EMAIL_SHA256": set(shas(0, 5))}


def test_members_of_an_unknown_audience_is_404(api: Api) -> None:
    assert _control(api.emulator, "GET", "audiences/123/members/").status_code == 404
    with pytest.raises(KeyError):
        api.emulator.members("123")


def test_request_log_records_and_redacts(api: Api) -> None:
    api.post(
        "oauth2/access_token/",
        {"app_id": "emulator-app", "secret": "emulator-secret", "auth_code": "emulator-auth-code"},
        token=None,
    )
    api.get("oauth2/advertiser/get/", {"app_id": "emulator-app", "secret": "emulator-secret"})
    missing_slash = api.base + "dmp/custom_audience/list"
    assert api.session.get(missing_slash, headers=api.headers()).status_code == 404  # logged too
    log = _control(api.emulator, "GET", "requests/").json()["requests"]
    assert [(e["method"], e["path"], e["http_status"], e["code"]) for e in log] == [
        ("POST", "/open_api/v1.3/oauth2/access_token/", 200, 0),
        ("GET", "/open_api/v1.3/oauth2/advertiser/get/", 200, 0),
        ("GET", "/open_api/v1.3/dmp/custom_audience/list", 404, None),
    ]
    exchange, advertisers, _ = log
    assert exchange["body"] == {
        "app_id": "emulator-app",
        "secret": "***",
        "auth_code": "***",
    }
    assert exchange["access_token"] is None
    assert advertisers["query"] == {"app_id": ["emulator-app"], "secret": ["***"]}
    assert advertisers["access_token"] == "***"
    assert advertisers["request_id"] and advertisers["message"] == "OK"
    text = str(log)
    assert "emulator-secret" not in text
    assert "emulator-token" not in text
    assert "emulator-auth-code" not in text


def test_request_log_keeps_json_bodies_for_assertions(api: Api) -> None:
    audience_id = api.partner()
    api.map(audience_id, shas(0, 2))
    entry = api.emulator.requests()[-1]
    assert entry["body"] == api.mapping_body(audience_id, shas(0, 2))


def test_request_log_can_be_cleared(api: Api) -> None:
    api.partner()
    assert _control(api.emulator, "DELETE", "requests/").status_code == 200
    assert api.emulator.requests() == []


def test_reset_wipes_state_but_keeps_config(make_emulator: EmulatorFactory) -> None:
    emulator = make_emulator(max_audiences=7)
    api = Api(emulator)
    first = api.partner()
    emulator.set_faults([{"kind": "busy", "rate": 0}])
    assert _control(emulator, "POST", "reset/").status_code == 200
    assert emulator.audiences() == []
    assert emulator.requests() == []
    assert emulator.faults() == {"seed": 0, "rules": [], "counts": {}}
    assert emulator.config.max_audiences == 7
    second = api.partner()
    assert second != first  # ids are never reused, even across a reset


def test_config_endpoint_changes_limits(emulator: Emulator) -> None:
    reply = _control(
        emulator,
        "POST",
        "config/",
        json={"qps": 5, "processing_seconds": 1.5, "mapping_batch_limit": 20},
    )
    assert reply.status_code == 200
    config = reply.json()["config"]
    assert (config["qps"], config["processing_seconds"], config["mapping_batch_limit"]) == (
        5,
        1.5,
        20,
    )
    assert _control(emulator, "GET", "config/").json()["config"] == config
    assert "tokens" not in config and "apps" not in config  # no secrets shown


@pytest.mark.parametrize(
    "body, says",
    [
        pytest.param({"tokens": {}}, "cannot change tokens", id="identity-field"),
        pytest.param({"qps": -1}, "qps", id="negative-qps"),
        pytest.param({"mapping_batch_limit": 0}, "mapping_batch_limit", id="zero-limit"),
        pytest.param({"max_audiences": "many"}, "max_audiences", id="not-int"),
    ],
)
def test_config_endpoint_rejects_bad_changes(
    emulator: Emulator, body: dict[str, Any], says: str
) -> None:
    reply = _control(emulator, "POST", "config/", json=body)
    assert reply.status_code == 400
    assert says in reply.json()["error"]
    with pytest.raises(ValueError, match=says):
        emulator.configure(**body)


@pytest.mark.parametrize(
    "method, path, status",
    [
        pytest.param("GET", "nope/", 404, id="unknown-path"),
        pytest.param("POST", "requests/", 405, id="post-requests"),
        pytest.param("GET", "reset/", 405, id="get-reset"),
        pytest.param("PUT", "faults/", 405, id="put-faults"),
    ],
)
def test_control_errors_are_plain_http(
    emulator: Emulator, method: str, path: str, status: int
) -> None:
    reply = _control(emulator, method, path)
    assert reply.status_code == status
    assert "error" in reply.json()


def test_bad_control_json_is_400(emulator: Emulator) -> None:
    reply = _control(emulator, "POST", "faults/", data=b"{nope")
    assert reply.status_code == 400


def test_control_requests_are_not_in_the_api_log(emulator: Emulator) -> None:
    _control(emulator, "GET", "audiences/")
    assert emulator.requests() == []


def test_context_manager_starts_and_stops() -> None:
    with Emulator() as emulator:
        url = emulator.base_url
        assert requests.get(emulator.control_url + "config/", timeout=5).status_code == 200
    with pytest.raises(requests.ConnectionError):
        requests.get(url.replace("/open_api/v1.3/", "/_emulator/config/"), timeout=2)
    with pytest.raises(RuntimeError):
        _ = emulator.base_url
