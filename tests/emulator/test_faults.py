"""Injected faults: each kind, whether the change was applied, path filters, seeds
(docs/tiktok-api.md §5, §7)."""

from __future__ import annotations

import json
import socket
import time
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from sync.emulator import Emulator

from .helpers import ADVERTISER, TOKEN, Api, shas

MAPPING = "segment/mapping/"


def _faults(emulator: Emulator, *rules: dict[str, Any], seed: int = 0) -> dict[str, Any]:
    response = requests.post(
        emulator.control_url + "faults/", json={"seed": seed, "rules": list(rules)}, timeout=5
    )
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def _post_mapping(api: Api, audience_id: str, hashes: list[str], **kw: Any) -> requests.Response:
    return api.session.post(
        api.base + MAPPING,
        json=api.mapping_body(audience_id, hashes),
        headers=api.headers(),
        **kw,
    )


@pytest.mark.parametrize(
    "rule, code, message",
    [
        pytest.param({"kind": "throttle"}, 40100, "Too many requests", id="throttle"),
        pytest.param({"kind": "busy"}, 40201, "not ready", id="busy-default"),
        pytest.param({"kind": "busy", "code": 40202}, 40202, "conflict", id="busy-40202"),
        pytest.param({"kind": "server_error"}, 50000, "System error", id="server-error"),
        pytest.param(
            {"kind": "server_error", "code": 51003}, 51003, "51003", id="server-error-51003"
        ),
        pytest.param(
            {"kind": "server_error", "code": 50002}, 50002, "TikTok side", id="server-error-50002"
        ),
    ],
)
def test_envelope_faults_answer_http_200_and_apply_nothing(
    api: Api, rule: dict[str, Any], code: int, message: str
) -> None:
    audience_id = api.partner()
    _faults(api.emulator, {**rule, "count": 1, "path": MAPPING})
    response = _post_mapping(api, audience_id, shas(0, 5))
    assert response.status_code == 200
    body = response.json()
    assert (body["code"], body["data"]) == (code, {})
    assert message in body["message"]
    assert body["request_id"]
    assert api.emulator.members(audience_id) == {}
    assert api.map(audience_id, shas(0, 5))["code"] == 0  # count exhausted: back to normal
    assert api.emulator.members(audience_id) == {"EMAIL_SHA256": set(shas(0, 5))}


@pytest.mark.parametrize("status", [500, 503])
def test_http_5xx_is_a_non_json_page(api: Api, status: int) -> None:
    audience_id = api.partner()
    _faults(api.emulator, {"kind": "http_5xx", "count": 1, "code": status})
    response = _post_mapping(api, audience_id, shas(0, 5))
    assert response.status_code == status
    with pytest.raises(ValueError):
        response.json()
    assert api.emulator.members(audience_id) == {}


def test_drop_closes_the_connection_without_applying(api: Api) -> None:
    audience_id = api.partner()
    _faults(api.emulator, {"kind": "drop", "count": 1, "path": MAPPING})
    with pytest.raises(requests.ConnectionError):
        _post_mapping(api, audience_id, shas(0, 5))
    assert api.emulator.members(audience_id) == {}
    assert api.emulator.requests()[-1]["fault"] == "drop"


def test_applied_then_error_applies_and_answers_50002(api: Api) -> None:
    audience_id = api.partner()
    _faults(api.emulator, {"kind": "applied_then_error", "count": 1, "path": MAPPING})
    body = _post_mapping(api, audience_id, shas(0, 5)).json()
    assert body["code"] == 50002
    assert api.emulator.members(audience_id) == {"EMAIL_SHA256": set(shas(0, 5))}
    # A client retrying the same batch converges: add is a set operation.
    assert api.map(audience_id, shas(0, 5))["code"] == 0
    assert api.emulator.members(audience_id) == {"EMAIL_SHA256": set(shas(0, 5))}


def test_applied_then_drop_applies_and_closes_the_connection(api: Api) -> None:
    _faults(api.emulator, {"kind": "applied_then_drop", "count": 1, "path": "segment/audience/"})
    body = {"advertiser_id": ADVERTISER, "custom_audience_name": "lost reply"}
    with pytest.raises(requests.ConnectionError):
        api.session.post(api.base + "segment/audience/", json=body, headers=api.headers())
    # The audience exists although the client never heard its id (docs/tiktok-api.md §7: list before
    # re-creating).
    assert [a["name"] for a in api.emulator.audiences()] == ["lost reply"]


def test_slow_exceeds_a_short_client_timeout_then_applies(api: Api) -> None:
    audience_id = api.partner()
    _faults(api.emulator, {"kind": "slow", "count": 1, "delay": 0.5, "path": MAPPING})
    started = time.monotonic()
    with pytest.raises(requests.ReadTimeout):
        _post_mapping(api, audience_id, shas(0, 5), timeout=(2, 0.15))
    assert time.monotonic() - started < 0.45
    deadline = time.monotonic() + 2
    while api.emulator.members(audience_id) == {} and time.monotonic() < deadline:
        time.sleep(0.05)
    assert api.emulator.members(audience_id) == {"EMAIL_SHA256": set(shas(0, 5))}


def test_slow_answers_normally_when_the_client_waits(api: Api) -> None:
    audience_id = api.partner()
    _faults(api.emulator, {"kind": "slow", "count": 1, "delay": 0.1})
    started = time.monotonic()
    assert _post_mapping(api, audience_id, shas(0, 1)).json()["code"] == 0
    assert time.monotonic() - started >= 0.1


def test_slow_body_applies_then_trickles_the_answer_a_byte_per_read(api: Api) -> None:
    audience_id = api.partner()
    _faults(api.emulator, {"kind": "slow_body", "count": 1, "delay": 0.01, "path": MAPPING})
    body = json.dumps(api.mapping_body(audience_id, shas(0, 5))).encode()
    url = urlsplit(api.base + MAPPING)
    with socket.create_connection((url.hostname, url.port), timeout=5) as connection:
        connection.sendall(
            f"POST {url.path} HTTP/1.1\r\nHost: emulator\r\n"
            f"Access-Token: {TOKEN}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
            + body
        )
        reads = [connection.recv(65536)]
        while reads[-1]:
            reads.append(connection.recv(65536))
    head, _, answer = b"".join(reads).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and json.loads(answer)["code"] == 0
    # Applied before the answer started; the answer came a byte (a read) at a time: a client
    # whose every read is quick still waits len(answer) * delay for the whole of it.
    assert api.emulator.members(audience_id) == {"EMAIL_SHA256": set(shas(0, 5))}
    assert len(reads) > len(answer) // 2
    assert api.emulator.faults()["counts"] == {"slow_body": 1}


def test_path_filter_leaves_other_endpoints_alone(api: Api) -> None:
    _faults(api.emulator, {"kind": "server_error", "rate": 1, "path": "segment/mapping/"})
    audience_id = api.partner()  # segment/audience/ is untouched
    assert api.map(audience_id, shas(0, 1))["code"] == 50000


def test_full_api_path_works_as_a_filter_too(api: Api) -> None:
    _faults(api.emulator, {"kind": "throttle", "count": 1, "path": "/open_api/v1.3/segment/"})
    reply = api.post(
        "segment/audience/", {"advertiser_id": ADVERTISER, "custom_audience_name": "a"}
    )
    assert reply["code"] == 40100


def test_faults_are_decided_only_after_auth(api: Api) -> None:
    _faults(api.emulator, {"kind": "server_error", "count": 1})
    assert (
        api.get("dmp/custom_audience/list/", {"advertiser_id": ADVERTISER}, token=None)["code"]
        == 40104
    )
    assert (
        api.get("dmp/custom_audience/list/", {"advertiser_id": ADVERTISER}, token="bad")["code"]
        == 40105
    )
    assert api.get("dmp/custom_audience/list/", {"advertiser_id": ADVERTISER})["code"] == 50000


def test_count_rule_fires_exactly_n_times_then_rules_and_counts_are_reported(api: Api) -> None:
    _faults(api.emulator, {"kind": "busy", "count": 3})
    codes = [
        api.get("dmp/custom_audience/list/", {"advertiser_id": ADVERTISER})["code"]
        for _ in range(5)
    ]
    assert codes == [40201, 40201, 40201, 0, 0]
    report = requests.get(api.emulator.control_url + "faults/", timeout=5).json()
    assert report["counts"] == {"busy": 3}
    assert report["rules"] == [{"kind": "busy", "path": "", "count": 0, "fired": 3}]


def _pattern(api: Api, seed: int, n: int = 40) -> list[int]:
    _faults(api.emulator, {"kind": "server_error", "rate": 0.5}, seed=seed)
    return [
        api.get("dmp/custom_audience/list/", {"advertiser_id": ADVERTISER})["code"]
        for _ in range(n)
    ]


def test_same_seed_same_faults(api: Api) -> None:
    first = _pattern(api, seed=7)
    assert 0 < first.count(50000) < len(first)
    assert _pattern(api, seed=7) == first
    assert _pattern(api, seed=8) != first


def test_first_matching_rule_wins_and_exhausted_rules_step_aside(api: Api) -> None:
    audience_id = api.partner()
    _faults(
        api.emulator,
        {"kind": "throttle", "count": 1, "path": MAPPING},
        {"kind": "server_error", "count": 1},
    )
    codes = [api.map(audience_id, shas(0, 1))["code"] for _ in range(3)]
    assert codes == [40100, 50000, 0]


def test_delete_clears_rules_but_keeps_counts_until_reset(api: Api) -> None:
    _faults(api.emulator, {"kind": "throttle", "rate": 1})
    api.get("dmp/custom_audience/list/", {"advertiser_id": ADVERTISER})
    report = requests.delete(api.emulator.control_url + "faults/", timeout=5).json()
    assert (report["rules"], report["counts"]) == ([], {"throttle": 1})
    assert api.get("dmp/custom_audience/list/", {"advertiser_id": ADVERTISER})["code"] == 0
    requests.post(api.emulator.control_url + "reset/", timeout=5)
    assert api.emulator.faults()["counts"] == {}


def test_in_process_set_faults(api: Api) -> None:
    api.emulator.set_faults([{"kind": "busy", "count": 1, "code": 40202}], seed=1)
    assert api.get("dmp/custom_audience/list/", {"advertiser_id": ADVERTISER})["code"] == 40202
    with pytest.raises(ValueError, match="kind"):
        api.emulator.set_faults([{"kind": "meteor", "count": 1}])


@pytest.mark.parametrize(
    "body, says",
    [
        pytest.param({"rules": [{"kind": "meteor", "count": 1}]}, "kind", id="unknown-kind"),
        pytest.param({"rules": [{"kind": "drop"}]}, "exactly one", id="neither-rate-nor-count"),
        pytest.param(
            {"rules": [{"kind": "drop", "rate": 0.5, "count": 1}]}, "exactly one", id="both"
        ),
        pytest.param({"rules": [{"kind": "drop", "rate": 1.5}]}, "rate", id="rate-above-1"),
        pytest.param({"rules": [{"kind": "drop", "count": -1}]}, "count", id="negative-count"),
        pytest.param(
            {"rules": [{"kind": "http_5xx", "count": 1, "code": 404}]}, "500..599", id="http-404"
        ),
        pytest.param({"rules": [{"kind": "slow", "count": 1, "delay": -1}]}, "delay", id="delay"),
        pytest.param({"rules": [{"kind": "drop", "count": 1, "when": 1}]}, "when", id="extra-key"),
        pytest.param({"seed": "x", "rules": []}, "seed", id="seed-not-int"),
        pytest.param({"rules": {}}, "rules", id="rules-not-list"),
    ],
)
def test_bad_fault_rules_are_400_and_keep_the_old_rules(
    api: Api, body: dict[str, Any], says: str
) -> None:
    _faults(api.emulator, {"kind": "busy", "count": 5})
    response = requests.post(api.emulator.control_url + "faults/", json=body, timeout=5)
    assert response.status_code == 400
    assert says in response.json()["error"]
    assert [r["kind"] for r in api.emulator.faults()["rules"]] == ["busy"]
