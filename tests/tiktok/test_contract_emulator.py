"""Contract: the client against the project's TikTok emulator (sync/emulator), over real HTTP.

Each test drives a client call, then reads the emulator's request log (GET /_emulator/requests/)
to check what went over the wire against docs/tiktok-api.md, and its state (members per audience)
to check what TikTok would hold. Faults are injected with POST /_emulator/faults/: count-limited
rules fire on the first N matching requests, so a retried call sees them clear.

The client gets a recording `sleep`, so backoff costs nothing; only timeouts take wall time.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from sync.emulator import Emulator, EmulatorConfig
from sync.tiktok import (
    Action,
    Advertiser,
    AmbiguousWriteError,
    AudienceBusyError,
    AuthError,
    FatalError,
    NotFoundError,
    RequestError,
    ServerError,
    TikTokClient,
    TikTokError,
)

ADVERTISER = "7000000000000000001"
TOKEN = "emulator-token"
APP_ID, APP_SECRET, AUTH_CODE = "emulator-app", "emulator-secret", "emulator-auth-code"
PREFIX = "/open_api/v1.3/"
READ_TIMEOUT = 0.25
SLOW = 0.5  # a `slow` fault's delay: outlasts READ_TIMEOUT


def sha(i: int, kind: str = "email") -> str:
    return hashlib.sha256(f"{kind}-{i}".encode()).hexdigest()


def shas(start: int, stop: int, kind: str = "email") -> list[str]:
    return [sha(i, kind) for i in range(start, stop)]


def csv(hashes: list[str]) -> bytes:
    return "".join(f"{h}\n" for h in hashes).encode()


class Control:
    """The emulator's control API (/_emulator/), spoken over HTTP like any test tool would."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.base_url = emulator.base_url
        self.url = emulator.control_url
        self.http = requests.Session()

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = self.http.request(method, self.url + path, json=body, timeout=5)
        assert response.status_code == 200, response.text
        return response.json()

    def reset(self) -> None:
        """Forget audiences, files, log and faults; limits back to defaults, no rate limit."""
        self._call("POST", "reset/")
        defaults = EmulatorConfig.default().runtime_settings()
        self._call("POST", "config/", {**defaults, "qps": 0})

    def configure(self, **config: Any) -> None:
        self._call("POST", "config/", config)

    def faults(self, *rules: dict[str, Any]) -> None:
        self._call("POST", "faults/", {"seed": 7, "rules": list(rules)})

    def clear_faults(self) -> None:
        self._call("DELETE", "faults/")

    def requests(self, path: str | None = None, settle: int = 0) -> list[dict[str, Any]]:
        """The request log, optionally for one API path; wait until `settle` entries are in.

        A request the client gave up on (read timeout) is logged when the emulator finishes it.
        """
        deadline = time.monotonic() + 5
        while True:
            log: list[dict[str, Any]] = self._call("GET", "requests/")["requests"]
            if path is not None:
                log = [e for e in log if e["path"] == PREFIX + path]
            if len(log) >= settle or time.monotonic() > deadline:
                return log
            time.sleep(0.02)

    def members(self, audience_id: str) -> dict[str, list[str]]:
        members: dict[str, list[str]] = self._call("GET", f"audiences/{audience_id}/members/")[
            "members"
        ]
        return members

    def audiences(self) -> list[dict[str, Any]]:
        audiences: list[dict[str, Any]] = self._call("GET", "audiences/")["audiences"]
        return audiences


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    running = Emulator(EmulatorConfig.default())
    running.start()
    yield running
    running.stop()


@pytest.fixture
def emu(emulator: Emulator) -> Iterator[Control]:
    control = Control(emulator)
    control.reset()
    yield control
    errors = emulator.internal_errors()
    assert not errors, errors[0]  # an emulator bug, not a client one
    control.http.close()


@pytest.fixture
def backoffs() -> list[float]:
    return []


@pytest.fixture
def api(emu: Control, backoffs: list[float]) -> Iterator[TikTokClient]:
    client = TikTokClient(
        TOKEN,
        base_url=emu.base_url,
        read_timeout=READ_TIMEOUT,
        requests_per_second=0,
        sleep=backoffs.append,
    )
    yield client
    client.close()


def only(entries: list[dict[str, Any]]) -> dict[str, Any]:
    assert len(entries) == 1, entries
    return entries[0]


# --- Every endpoint: request shape in the emulator's log, and result parsing -----------------


def test_exchange_auth_code(emu: Control, api: TikTokClient) -> None:
    grant = TikTokClient(None, base_url=emu.base_url).exchange_auth_code(
        APP_ID, APP_SECRET, AUTH_CODE
    )
    assert (grant.access_token, grant.advertiser_ids) == (TOKEN, (ADVERTISER,))
    assert 31 in grant.scope  # create and update custom audiences (docs/tiktok-api.md §2 "Scopes")
    sent = only(emu.requests("oauth2/access_token/"))
    assert sent["method"] == "POST" and sent["access_token"] is None  # no header sent
    assert sent["body"] == {"app_id": APP_ID, "secret": "***", "auth_code": "***"}

    with pytest.raises(AuthError) as raised:  # single use (docs/tiktok-api.md §2)
        api.exchange_auth_code(APP_ID, APP_SECRET, AUTH_CODE)
    assert raised.value.code == 40110


def test_get_authorized_advertisers(emu: Control, api: TikTokClient) -> None:
    assert api.get_authorized_advertisers(APP_ID, APP_SECRET) == [
        Advertiser(ADVERTISER, "Demo advertiser")
    ]
    sent = only(emu.requests("oauth2/advertiser/get/"))
    assert sent["method"] == "GET" and sent["access_token"] == "***"
    assert sent["query"] == {"app_id": [APP_ID], "secret": ["***"]}

    with pytest.raises(AuthError):
        api.get_authorized_advertisers(APP_ID, "wrong-secret")


def test_segment_audience_lifecycle(emu: Control, api: TikTokClient) -> None:
    audience_id = api.create_segment_audience(ADVERTISER, "VIP buyers")
    assert only(emu.requests("segment/audience/"))["body"] == {
        "advertiser_id": ADVERTISER,
        "action": "create",
        "custom_audience_name": "VIP buyers",
    }

    added = api.map_segment(ADVERTISER, audience_id, "add", "EMAIL_SHA256", shas(0, 3))
    assert (added.code, added.partial) == (0, False)
    api.map_segment(ADVERTISER, audience_id, "delete", "EMAIL_SHA256", [sha(1)])
    add, delete = emu.requests("segment/mapping/")
    assert add["body"] == {
        "advertiser_ids": [ADVERTISER],
        "action": "add",
        "id_schema": ["EMAIL_SHA256"],
        "batch_data": [[{"id": h, "audience_ids": [audience_id]}] for h in shas(0, 3)],
    }
    assert delete["body"]["action"] == "delete"
    assert emu.members(audience_id) == {"EMAIL_SHA256": sorted([sha(0), sha(2)])}

    (details,) = api.get_custom_audiences(ADVERTISER, [audience_id])
    assert (details.audience_id, details.name) == (audience_id, "VIP buyers")
    assert details.type == "Partner"
    assert details.cover_num == 2 and details.is_valid is False  # under 1,000: not usable yet

    api.delete_segment_audience(ADVERTISER, audience_id)
    assert emu.requests("segment/audience/")[-1]["body"] == {
        "advertiser_id": ADVERTISER,
        "action": "delete",
        "delete_audience_id": audience_id,
    }
    assert list(api.list_custom_audiences(ADVERTISER)) == []


@pytest.mark.parametrize(
    ("id_type", "schema", "hashes"),
    [
        ("GAID_SHA256", "AAID_SHA256", shas(0, 2, "gaid")),
        ("GAID_MD5", "AAID_MD5", [hashlib.md5(b"gaid-0").hexdigest()]),
        ("IDFA_MD5", "IDFA_MD5", [hashlib.md5(b"idfa-0").hexdigest()]),
        ("PHONE_SHA256", "PHONE_SHA256", shas(0, 2, "phone")),
    ],
)
def test_mapping_id_types_reach_the_right_schema(
    emu: Control, api: TikTokClient, id_type: str, schema: str, hashes: list[str]
) -> None:
    audience_id = api.create_segment_audience(ADVERTISER, "maids")
    api.map_segment(ADVERTISER, audience_id, "add", id_type, hashes)
    assert only(emu.requests("segment/mapping/"))["body"]["id_schema"] == [schema]
    assert emu.members(audience_id) == {schema: sorted(hashes)}


def test_customer_file_audience_lifecycle(emu: Control, api: TikTokClient) -> None:
    first = shas(0, 1000)
    content = csv(first)
    file_path = api.upload_customer_file(ADVERTISER, content, "EMAIL_SHA256")
    upload = only(emu.requests("dmp/custom_audience/file/upload/"))
    assert upload["body"]["form"] == {
        "advertiser_id": ADVERTISER,
        "calculate_type": "EMAIL_SHA256",
        "file_signature": hashlib.md5(content).hexdigest(),
    }
    assert upload["body"]["files"]["file"] == {
        "filename": "audience.csv",
        "size": len(content),
        "md5": hashlib.md5(content).hexdigest(),
    }

    audience_id = api.create_custom_audience(
        ADVERTISER, "Loyal", "EMAIL_SHA256", [file_path], retention_in_days=90
    )
    assert only(emu.requests("dmp/custom_audience/create/"))["body"] == {
        "advertiser_id": ADVERTISER,
        "custom_audience_name": "Loyal",
        "calculate_type": "EMAIL_SHA256",
        "file_paths": [file_path],
        "retention_in_days": 90,
    }

    more = api.upload_customer_file(ADVERTISER, csv(shas(1000, 1010)), "EMAIL_SHA256", "b.txt")
    api.update_custom_audience(ADVERTISER, audience_id, [more], "APPEND")
    assert emu.requests("dmp/custom_audience/update/")[-1]["body"] == {
        "advertiser_id": ADVERTISER,
        "custom_audience_id": audience_id,
        "action": "APPEND",
        "file_paths": [more],
    }
    fewer = api.upload_customer_file(ADVERTISER, csv(shas(0, 5)), "EMAIL_SHA256")
    api.update_custom_audience(ADVERTISER, audience_id, [fewer], "REMOVE")
    assert emu.members(audience_id) == {"EMAIL_SHA256": sorted(shas(5, 1010))}

    (details,) = api.get_custom_audiences(ADVERTISER, [audience_id])
    assert (details.type, details.calculate_type) == ("Customer File Audience", "EMAIL_SHA256")
    assert (details.cover_num, details.is_valid) == (1005, True)

    (response,) = api.delete_custom_audiences(ADVERTISER, [audience_id])
    assert response.code == 0
    assert only(emu.requests("dmp/custom_audience/delete/"))["body"] == {
        "advertiser_id": ADVERTISER,
        "custom_audience_ids": [audience_id],
    }
    assert emu.audiences() == []


def test_get_chunks_ids_and_list_pages(emu: Control, api: TikTokClient) -> None:
    created = [api.create_segment_audience(ADVERTISER, f"a{n}") for n in range(101)]
    assert [d.audience_id for d in api.get_custom_audiences(ADVERTISER, created)] == created
    first, second = emu.requests("dmp/custom_audience/get/")
    assert first["query"]["custom_audience_ids"] == [
        "[" + ",".join(f'"{i}"' for i in created[:100]) + "]"
    ]
    assert second["query"]["custom_audience_ids"] == [f'["{created[100]}"]']

    listed = list(api.list_custom_audiences(ADVERTISER, page_size=40))
    assert sorted(a.audience_id for a in listed) == sorted(created)
    pages = emu.requests("dmp/custom_audience/list/")
    assert [p["query"]["page"] for p in pages] == [["1"], ["2"], ["3"]]


# --- TikTok's own refusals, typed by what happens next ---------------------------------------


def test_processing_lock_is_wait_and_not_retried(
    emu: Control, api: TikTokClient, backoffs: list[float]
) -> None:
    emu.configure(processing_seconds=30)
    file_path = api.upload_customer_file(ADVERTISER, csv(shas(0, 1000)), "EMAIL_SHA256")
    audience_id = api.create_custom_audience(ADVERTISER, "Locked", "EMAIL_SHA256", [file_path])
    with pytest.raises(AudienceBusyError) as raised:
        api.update_custom_audience(ADVERTISER, audience_id, [file_path], "APPEND")
    assert (raised.value.code, raised.value.action) == (40002, Action.WAIT)
    assert len(emu.requests("dmp/custom_audience/update/")) == 1 and backoffs == []


def test_audience_under_the_floor_is_not_editable(emu: Control, api: TikTokClient) -> None:
    file_path = api.upload_customer_file(ADVERTISER, csv(shas(0, 10)), "EMAIL_SHA256")
    audience_id = api.create_custom_audience(ADVERTISER, "Tiny", "EMAIL_SHA256", [file_path])
    with pytest.raises(FatalError) as raised:
        api.update_custom_audience(ADVERTISER, audience_id, [file_path], "APPEND")
    assert (raised.value.code, raised.value.action) == (40002, Action.GIVE_UP)


def test_update_that_would_cross_the_floor_needs_a_fix(emu: Control, api: TikTokClient) -> None:
    file_path = api.upload_customer_file(ADVERTISER, csv(shas(0, 1000)), "EMAIL_SHA256")
    audience_id = api.create_custom_audience(ADVERTISER, "Edge", "EMAIL_SHA256", [file_path])
    one = api.upload_customer_file(ADVERTISER, csv([sha(0)]), "EMAIL_SHA256")
    with pytest.raises(RequestError) as raised:
        api.update_custom_audience(ADVERTISER, audience_id, [one], "REMOVE")
    assert raised.value.code == 40002


def test_unknown_token_needs_reauthorisation(emu: Control) -> None:
    client = TikTokClient("revoked-token", base_url=emu.base_url, requests_per_second=0)
    with pytest.raises(AuthError) as raised:
        client.create_segment_audience(ADVERTISER, "x")
    assert raised.value.code == 40105 and raised.value.request_id
    assert "re-authorise with `tiktok-sync auth`" in str(raised.value)


def test_deleting_an_unknown_audience_is_not_found(emu: Control, api: TikTokClient) -> None:
    with pytest.raises(NotFoundError):
        api.delete_custom_audiences(ADVERTISER, ["7199999999999999999"])


def test_mapping_to_an_unknown_audience_is_a_request_error(emu: Control, api: TikTokClient) -> None:
    with pytest.raises(RequestError) as raised:
        api.map_segment(ADVERTISER, "7199999999999999999", "add", "EMAIL_SHA256", [sha(0)])
    assert raised.value.code == 40002


def test_batch_limit_is_enforced_by_the_emulator_and_refused_locally(
    emu: Control, api: TikTokClient
) -> None:
    emu.configure(mapping_batch_limit=5)
    audience_id = api.create_segment_audience(ADVERTISER, "small batches")
    with pytest.raises(RequestError) as raised:  # the client's own limit is 10,000
        api.map_segment(ADVERTISER, audience_id, "add", "EMAIL_SHA256", shas(0, 6))
    assert raised.value.code == 40011
    strict = TikTokClient(TOKEN, base_url=emu.base_url, mapping_batch_limit=5)
    with pytest.raises(RequestError, match="refused before sending"):
        strict.map_segment(ADVERTISER, audience_id, "add", "EMAIL_SHA256", shas(0, 6))
    assert len(emu.requests("segment/mapping/")) == 1  # only the first one travelled


# --- Injected faults: what is retried, what is not, and that retries converge ---------------

RETRIED_FAULTS = {
    "throttle-40100": {"kind": "throttle"},
    "throttle-40016": {"kind": "throttle", "code": 40016},
    "throttle-40133": {"kind": "throttle", "code": 40133},
    "throttle-61000": {"kind": "throttle", "code": 61000},
    "busy-40201": {"kind": "busy"},
    "busy-40202": {"kind": "busy", "code": 40202},
    "server_error-50000": {"kind": "server_error"},
    "server_error-50002": {"kind": "server_error", "code": 50002},
    "server_error-51063": {"kind": "server_error", "code": 51063},
    "server_error-52001": {"kind": "server_error", "code": 52001},
    "server_error-60001": {"kind": "server_error", "code": 60001},
    "http_5xx-500": {"kind": "http_5xx"},
    "http_5xx-503": {"kind": "http_5xx", "code": 503},
    "drop": {"kind": "drop"},
    "slow": {"kind": "slow", "delay": SLOW},
    "applied_then_error": {"kind": "applied_then_error"},
    "applied_then_drop": {"kind": "applied_then_drop"},
}


@pytest.mark.parametrize("fault", RETRIED_FAULTS.values(), ids=RETRIED_FAULTS.keys())
def test_mapping_is_retried_through_count_limited_faults(
    emu: Control, api: TikTokClient, backoffs: list[float], fault: dict[str, Any]
) -> None:
    audience_id = api.create_segment_audience(ADVERTISER, "faulty")
    emu.faults({**fault, "path": "segment/mapping/", "count": 2})
    response = api.map_segment(ADVERTISER, audience_id, "add", "EMAIL_SHA256", shas(0, 50))
    assert response.code == 0
    attempts = emu.requests("segment/mapping/", settle=3)
    assert sorted(str(e["fault"]) for e in attempts) == sorted([fault["kind"]] * 2 + ["None"])
    assert len(backoffs) == 2
    # Set semantics: applied up to three times, held once.
    members = emu.members(audience_id)["EMAIL_SHA256"]
    assert members == sorted(shas(0, 50))


@pytest.mark.parametrize("kind", ["applied_then_error", "applied_then_drop"])
def test_applied_then_failed_mapping_converges_with_one_retry(
    emu: Control, api: TikTokClient, backoffs: list[float], kind: str
) -> None:
    audience_id = api.create_segment_audience(ADVERTISER, "at least once")
    api.map_segment(ADVERTISER, audience_id, "add", "EMAIL_SHA256", shas(0, 10))
    emu.faults({"kind": kind, "path": "segment/mapping/", "count": 1})
    api.map_segment(ADVERTISER, audience_id, "delete", "EMAIL_SHA256", shas(0, 4))
    deletes = [e for e in emu.requests("segment/mapping/") if e["body"]["action"] == "delete"]
    assert [e["fault"] for e in deletes] == [kind, None]  # exactly one retry
    assert len(backoffs) == 1
    members = emu.members(audience_id)["EMAIL_SHA256"]
    assert members == sorted(shas(4, 10)) and len(set(members)) == len(members)


@pytest.mark.parametrize("kind", ["applied_then_error", "applied_then_drop"])
def test_applied_then_failed_append_converges(emu: Control, api: TikTokClient, kind: str) -> None:
    base = api.upload_customer_file(ADVERTISER, csv(shas(0, 1000)), "EMAIL_SHA256")
    audience_id = api.create_custom_audience(ADVERTISER, "file", "EMAIL_SHA256", [base])
    more = api.upload_customer_file(ADVERTISER, csv(shas(1000, 1020)), "EMAIL_SHA256")
    emu.faults({"kind": kind, "path": "dmp/custom_audience/update/", "count": 1})
    api.update_custom_audience(ADVERTISER, audience_id, [more], "APPEND")
    assert len(emu.requests("dmp/custom_audience/update/")) == 2
    assert emu.members(audience_id) == {"EMAIL_SHA256": sorted(shas(0, 1020))}


def test_bounded_attempts_give_up_with_a_clear_error(emu: Control, backoffs: list[float]) -> None:
    client = TikTokClient(
        TOKEN, base_url=emu.base_url, max_attempts=3, requests_per_second=0, sleep=backoffs.append
    )
    audience_id = client.create_segment_audience(ADVERTISER, "down")
    emu.faults({"kind": "server_error", "path": "segment/mapping/", "rate": 1.0})
    with pytest.raises(ServerError) as raised:
        client.map_segment(ADVERTISER, audience_id, "add", "EMAIL_SHA256", [sha(0)])
    assert raised.value.attempts == 3 and raised.value.code == 50000
    assert str(raised.value).startswith("POST segment/mapping/ failed after 3 attempts: ")
    assert raised.value.request_id == emu.requests("segment/mapping/")[-1]["request_id"]
    assert len(emu.requests("segment/mapping/")) == 3 and len(backoffs) == 2

    emu.clear_faults()  # the next run succeeds
    client.map_segment(ADVERTISER, audience_id, "add", "EMAIL_SHA256", [sha(0)])
    assert emu.members(audience_id) == {"EMAIL_SHA256": [sha(0)]}


def test_non_retryable_code_fails_at_once(
    emu: Control, api: TikTokClient, backoffs: list[float]
) -> None:
    audience_id = api.create_segment_audience(ADVERTISER, "x")
    emu.faults({"kind": "server_error", "code": 40001, "path": "segment/mapping/", "count": 1})
    with pytest.raises(AuthError):
        api.map_segment(ADVERTISER, audience_id, "add", "EMAIL_SHA256", [sha(0)])
    assert len(emu.requests("segment/mapping/")) == 1 and backoffs == []


# Creates: resent only when TikTok surely did nothing (docs/tiktok-api.md §7, no idempotency keys).

CREATE_NOT_RESENT = {
    # kind: whether the emulator applied the create before failing
    "busy": False,
    "server_error": False,
    "http_5xx": False,
    "drop": False,
    "slow": True,
    "applied_then_error": True,
    "applied_then_drop": True,
}


@pytest.mark.parametrize(("kind", "applied"), CREATE_NOT_RESENT.items(), ids=CREATE_NOT_RESENT)
def test_create_is_not_resent_when_it_may_have_applied(
    emu: Control, api: TikTokClient, kind: str, applied: bool
) -> None:
    emu.faults({"kind": kind, "path": "segment/audience/", "count": 1, "delay": SLOW})
    with pytest.raises(AmbiguousWriteError) as raised:
        api.create_segment_audience(ADVERTISER, "Reconcile me")
    assert raised.value.action is Action.RECONCILE
    assert len(emu.requests("segment/audience/", settle=1)) == 1
    # What the caller does next: look the audience up by name before creating again.
    found = [a for a in api.list_custom_audiences(ADVERTISER) if a.name == "Reconcile me"]
    assert len(found) == (1 if applied else 0)


@pytest.mark.parametrize("code", [40100, 40016, 40133, 61000])
def test_create_is_resent_after_throttling_and_made_once(
    emu: Control, api: TikTokClient, code: int
) -> None:
    path = "dmp/custom_audience/create/"
    emu.faults({"kind": "throttle", "code": code, "path": path, "count": 2})
    file_path = api.upload_customer_file(ADVERTISER, csv(shas(0, 1000)), "EMAIL_SHA256")
    audience_id = api.create_custom_audience(ADVERTISER, "Once", "EMAIL_SHA256", [file_path])
    assert len(emu.requests("dmp/custom_audience/create/")) == 3
    assert [a["audience_id"] for a in emu.audiences()] == [audience_id]


# --- Rate: the client's pacing against the emulator's per-token QPS window ------------------


def test_paced_client_stays_under_the_qps_budget(emu: Control) -> None:
    """Real time (about 1 s): 16/s in bursts of 16 against a 20 QPS sliding window."""
    emu.configure(qps=20)
    client = TikTokClient(TOKEN, base_url=emu.base_url, requests_per_second=16)
    for _ in range(24):
        assert list(client.list_custom_audiences(ADVERTISER)) == []
    codes = [e["code"] for e in emu.requests("dmp/custom_audience/list/")]
    assert codes == [0] * 24  # never throttled, so never retried


def test_unpaced_client_is_throttled_and_recovers(emu: Control) -> None:
    """Real time (about 1 s): no pacing against 3 QPS; 40100 is retried after a second."""
    emu.configure(qps=3)
    client = TikTokClient(TOKEN, base_url=emu.base_url, requests_per_second=0)
    for _ in range(5):
        assert list(client.list_custom_audiences(ADVERTISER)) == []
    codes = [e["code"] for e in emu.requests("dmp/custom_audience/list/")]
    assert 40100 in codes and codes.count(0) == 5


def test_every_error_names_the_request_id_of_the_emulator(emu: Control, api: TikTokClient) -> None:
    with pytest.raises(TikTokError) as raised:
        api.delete_segment_audience(ADVERTISER, "7199999999999999999")
    logged = only(emu.requests("segment/audience/"))
    assert raised.value.request_id == logged["request_id"]
    assert logged["request_id"] in str(raised.value)
