"""The client against the scripted loopback server: envelope, transport, retry safety."""

from __future__ import annotations

import hashlib
import socket
import time

import pytest

from sync.tiktok import (
    AmbiguousWriteError,
    AudienceBusyError,
    AuthError,
    RequestError,
    ServerError,
    TikTokClient,
    TransportError,
)

from .conftest import MakeClient
from .scripted import ADVERTISER, Reply, ScriptedServer, fail, ok

H1 = hashlib.sha256(b"one@example.com").hexdigest()
H2 = hashlib.sha256(b"two@example.com").hexdigest()

# --- The envelope decides ----------------------------------------------------------------


def map_one(client: TikTokClient) -> object:
    return client.map_segment(ADVERTISER, "aud-1", "add", "EMAIL_SHA256", [H1])


def test_code_0_returns_data_and_request_id(server: ScriptedServer, client: TikTokClient) -> None:
    server.script(ok({"anything": 1}))
    response = client.map_segment(ADVERTISER, "aud-1", "add", "EMAIL_SHA256", [H1])
    assert response.data == {"anything": 1}
    assert (response.code, response.message, response.request_id) == (0, "OK", "req-ok")
    assert response.partial is False


def test_code_20001_is_success_flagged_partial(
    server: ScriptedServer, client: TikTokClient
) -> None:
    server.script(ok({"failed": 3}, code=20001, message="Partial success: 3 ids failed"))
    response = client.map_segment(ADVERTISER, "aud-1", "add", "EMAIL_SHA256", [H1])
    assert response.partial is True
    assert response.message == "Partial success: 3 ids failed"
    assert response.data == {"failed": 3}


def test_a_read_answered_20001_is_asked_again_not_trusted(
    server: ScriptedServer, client: TikTokClient
) -> None:
    """A partial list may lack the audience looked for: it is no proof of a deletion."""
    details = {"audience_details": {"audience_id": "aud-1", "name": "a"}}
    server.script(
        ok({"list": []}, code=20001, message="Partially successful."),
        ok({"list": [details]}),
    )
    found = client.get_custom_audiences(ADVERTISER, ["aud-1"])
    assert [d.audience_id for d in found] == ["aud-1"]
    assert len(server.requests) == 2


def test_http_200_with_code_40105_is_an_auth_error_not_retried(
    server: ScriptedServer, client: TikTokClient
) -> None:
    server.script(fail(40105, "Access token is incorrect or has been revoked", request_id="r-1"))
    with pytest.raises(AuthError) as raised:
        map_one(client)
    assert (raised.value.code, raised.value.request_id) == (40105, "r-1")
    assert "re-authorise with `tiktok-sync auth`" in str(raised.value)
    assert len(server.requests) == 1


def test_audience_processing_is_busy_and_left_to_the_caller(
    server: ScriptedServer, client: TikTokClient, sleeps: list[float]
) -> None:
    server.script(fail(40002, "The audience is processing, please try again later."))
    with pytest.raises(AudienceBusyError):
        client.update_custom_audience(ADVERTISER, "aud-9", ["fp-1"], "APPEND")
    assert len(server.requests) == 1 and sleeps == []


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param(Reply(b"<html>gateway</html>"), id="non-json-200"),
        pytest.param(Reply({"code": 0, "message": "OK"}, status=500), id="http-500-with-envelope"),
        pytest.param(Reply(b"Internal Server Error", status=500), id="http-500"),
        pytest.param(Reply({"message": "no code"}), id="json-without-code"),
    ],
)
def test_no_usable_answer_is_retried_then_a_transport_error(
    server: ScriptedServer, make_client: MakeClient, sleeps: list[float], bad: Reply
) -> None:
    server.script(bad, bad, bad)
    with pytest.raises(TransportError) as raised:
        map_one(make_client(max_attempts=3))
    assert len(server.requests) == 3 and len(sleeps) == 2
    assert raised.value.attempts == 3
    assert "failed after 3 attempts" in str(raised.value)


def test_no_usable_answer_then_success_recovers(
    server: ScriptedServer, client: TikTokClient
) -> None:
    server.script(Reply(b"oops", status=502), ok())
    assert map_one(client) is not None
    assert len(server.requests) == 2


@pytest.mark.parametrize(
    "reply",
    [
        pytest.param(Reply(b"page not found", status=404), id="http-404"),
        pytest.param(Reply(b"", status=302), id="redirect-not-followed"),
    ],
)
def test_http_4xx_or_3xx_without_envelope_is_a_request_error(
    server: ScriptedServer, client: TikTokClient, reply: Reply
) -> None:
    server.script(reply)
    with pytest.raises(RequestError) as raised:
        map_one(client)
    assert raised.value.http_status == reply.status
    assert len(server.requests) == 1


def test_throttling_is_retried_after_at_least_a_second(
    server: ScriptedServer, client: TikTokClient, sleeps: list[float]
) -> None:
    server.script(fail(40100, "Requests too frequent"), fail(40133, "Advertiser QPS"), ok())
    map_one(client)
    assert len(server.requests) == 3
    assert len(sleeps) == 2 and min(sleeps) >= 1.0


def test_server_code_is_retried_for_mapping(server: ScriptedServer, client: TikTokClient) -> None:
    server.script(fail(50000, "System error"), fail(51063, "Segment gateway"), ok())
    map_one(client)
    assert len(server.requests) == 3


# --- Retry safety: creates are resent only when TikTok surely did nothing ------------------

SLOW = Reply(ok().body, delay=0.5)  # outlasts the 0.2 s read timeout below
DROP = Reply(drop=True)


@pytest.mark.parametrize("first", [SLOW, DROP], ids=["read-timeout", "dropped-connection"])
def test_mapping_is_retried_after_a_timeout_or_drop(
    server: ScriptedServer, make_client: MakeClient, first: Reply
) -> None:
    server.script(first, ok())
    response = map_one(make_client(read_timeout=0.2))
    assert response is not None
    assert len(server.requests) == 2


@pytest.mark.parametrize(
    "first",
    [
        pytest.param(SLOW, id="read-timeout"),
        pytest.param(DROP, id="dropped-connection"),
        pytest.param(Reply(b"Bad gateway", status=502), id="http-502"),
        pytest.param(Reply(b"not json"), id="non-json"),
        pytest.param(fail(50000, "System error"), id="code-50000"),
        pytest.param(fail(51003, "DMP error"), id="code-51003"),
        pytest.param(fail(40202, "Write conflict"), id="code-40202-busy"),
    ],
)
@pytest.mark.parametrize(
    "create",
    [
        pytest.param(lambda c: c.create_segment_audience(ADVERTISER, "vip"), id="segment"),
        pytest.param(
            lambda c: c.create_custom_audience(ADVERTISER, "vip", "EMAIL_SHA256", ["fp"]),
            id="customer-file",
        ),
    ],
)
def test_create_is_not_resent_when_it_may_have_been_applied(
    server: ScriptedServer, make_client: MakeClient, first: Reply, create: object
) -> None:
    server.script(first, ok({"audience_id": "should-not-be-asked"}))
    with pytest.raises(AmbiguousWriteError) as raised:
        create(make_client(read_timeout=0.2))  # type: ignore[operator]
    assert len(server.requests) == 1
    assert "look the audience up by name before creating again" in str(raised.value)


@pytest.mark.parametrize("code", [40100, 40016, 40133, 61000])
def test_create_is_resent_after_throttling(
    server: ScriptedServer, client: TikTokClient, code: int
) -> None:
    server.script(fail(code, "Too many requests"), ok({"audience_id": "111"}))
    assert client.create_segment_audience(ADVERTISER, "vip") == "111"
    assert len(server.requests) == 2


def test_create_is_resent_when_the_connection_was_never_opened(make_client: MakeClient) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = make_client(base_url=f"http://127.0.0.1:{port}/open_api/v1.3/", max_attempts=2)
    with pytest.raises(TransportError) as raised:
        client.create_segment_audience(ADVERTISER, "vip")
    assert raised.value.request_sent is False
    assert raised.value.attempts == 2


def test_create_answered_ok_without_an_id_is_ambiguous(
    server: ScriptedServer, client: TikTokClient
) -> None:
    server.script(ok({}))
    with pytest.raises(AmbiguousWriteError):
        client.create_segment_audience(ADVERTISER, "vip")


def test_server_error_code_keeps_its_type_when_idempotent(
    server: ScriptedServer, make_client: MakeClient
) -> None:
    server.script(fail(50002, "timeout at TikTok"))
    with pytest.raises(ServerError):
        map_one(make_client(max_attempts=1))


def test_missing_token_is_refused_without_a_request(
    server: ScriptedServer, make_client: MakeClient
) -> None:
    with pytest.raises(AuthError, match="no access token"):
        map_one(make_client(access_token=None))
    assert server.requests == []


def test_one_rate_budget_paces_all_calls_of_a_client(
    server: ScriptedServer, make_client: MakeClient
) -> None:
    """Real time (about 1 s): at 2 requests/s each call after the first waits for its turn
    (a loopback request takes milliseconds, the spacing is 525 ms), and what it waits for is
    the previous call's start: the waits add up to the spacing, not less."""
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        time.sleep(seconds)

    client = make_client(requests_per_second=2, sleep=sleep)
    server.script(ok(), ok(), ok())
    began = time.monotonic()
    map_one(client)
    map_one(client)
    map_one(client)
    assert len(waits) >= 2
    assert time.monotonic() - began >= 2 * 0.5 * 1.05
