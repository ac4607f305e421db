"""Secrets stay secret (README "Guarantees"): token, app secret and auth code never reach an error
or a log.

Every failing call here runs with every logger at DEBUG, urllib3's included, and TikTok's
messages echo the secrets back, the worst case for a client that copies text around.
"""

from __future__ import annotations

import logging
import socket
import traceback
from collections.abc import Callable, Iterator
from urllib.parse import quote

import pytest

from sync.tiktok import TikTokClient, TikTokError, TokenGrant
from sync.tiktok import redact as redact_module

from .conftest import MakeClient
from .scripted import (
    ADVERTISER,
    APP_ID,
    APP_SECRET,
    AUTH_CODE,
    TOKEN,
    Reply,
    ScriptedServer,
    fail,
    ok,
)

SECRETS = (TOKEN, APP_SECRET, AUTH_CODE)
ECHO = f"bad credentials: token={TOKEN} secret={APP_SECRET} auth_code={AUTH_CODE}"
H1 = "a" * 64


@pytest.fixture(autouse=True)
def debug_everything(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    caplog.set_level(logging.DEBUG)  # root at DEBUG: urllib3 and sync.tiktok records included
    yield


def chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def assert_clean(error: BaseException, caplog: pytest.LogCaptureFixture) -> None:
    texts = ["".join(traceback.format_exception(error))]
    for link in chain(error):
        texts += [str(link), repr(link), repr(link.args)]
    for record in caplog.records:
        texts.append(record.getMessage())
        if record.exc_info:
            texts.append("".join(traceback.format_exception(*record.exc_info)))
    texts.append(caplog.text)
    for text in texts:
        for secret in SECRETS:
            assert secret not in text


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/open_api/v1.3/"


def advertisers(c: TikTokClient) -> object:
    return c.get_authorized_advertisers(APP_ID, APP_SECRET)


def exchange(c: TikTokClient) -> object:
    return c.exchange_auth_code(APP_ID, APP_SECRET, AUTH_CODE)


def mapping(c: TikTokClient) -> object:
    return c.map_segment(ADVERTISER, "aud", "add", "EMAIL_SHA256", [H1])


CASES: dict[str, tuple[Callable[[TikTokClient], object], list[Reply], dict[str, object]]] = {
    "auth-error-on-mapping": (mapping, [fail(40105, ECHO)], {}),
    "auth-error-on-secret-get": (advertisers, [fail(40105, ECHO)], {}),
    "non-json-on-secret-get": (advertisers, [Reply(ECHO.encode(), status=502)] * 2, {}),
    "dropped-connection-on-secret-get": (advertisers, [Reply(drop=True)] * 2, {}),
    "read-timeout-on-secret-get": (advertisers, [Reply(ok().body, delay=0.4)] * 2, {}),
    "refused-connection-on-secret-get": (advertisers, [], {"base_url": closed_port_url()}),
    "auth-code-rejected": (exchange, [fail(40110, ECHO)], {}),
    "exchange-timeout-is-ambiguous": (exchange, [Reply(ok().body, delay=0.4)], {}),
    "server-error-echo-on-mapping": (mapping, [fail(50000, ECHO)] * 2, {}),
    "token-not-a-valid-header": (mapping, [], {"access_token": TOKEN + "\n"}),
}


@pytest.mark.parametrize(("call", "replies", "options"), CASES.values(), ids=CASES.keys())
def test_failing_call_leaks_no_secret(
    server: ScriptedServer,
    make_client: MakeClient,
    caplog: pytest.LogCaptureFixture,
    call: Callable[[TikTokClient], object],
    replies: list[Reply],
    options: dict[str, object],
) -> None:
    server.script(*replies)
    client = make_client(max_attempts=2, read_timeout=0.2, **options)
    with pytest.raises(TikTokError) as raised:
        call(client)
    assert_clean(raised.value, caplog)
    assert all(s not in repr(client) for s in SECRETS)


def test_urllib3_request_lines_are_masked_not_suppressed(
    server: ScriptedServer, client: TikTokClient, caplog: pytest.LogCaptureFixture
) -> None:
    """urllib3 logs the full URL at DEBUG; the safety net masks the `secret` query value."""
    server.script(ok({"list": []}))
    advertisers(client)
    assert server.requests[0].query["secret"] == [APP_SECRET]  # it was really sent
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("urllib3")]
    assert any("oauth2/advertiser/get/" in line and "secret=[redacted]" in line for line in lines)
    assert_clean(Exception(), caplog)


def test_debug_lines_show_method_path_code_request_id_without_query(
    server: ScriptedServer, client: TikTokClient, caplog: pytest.LogCaptureFixture
) -> None:
    server.script(ok({"list": []}))
    advertisers(client)
    (line,) = [r.getMessage() for r in caplog.records if r.name == "sync.tiktok.transport"]
    assert line.startswith("GET oauth2/advertiser/get/ -> HTTP 200 code 0 request_id req-ok in ")
    assert "?" not in line


def test_reprs_of_client_and_grant_hide_the_token() -> None:
    client = TikTokClient(TOKEN)
    grant = TokenGrant(access_token=TOKEN, advertiser_ids=(ADVERTISER,), scope=(31,))
    assert TOKEN not in repr(client) and "[redacted]" in repr(client)
    assert TOKEN not in repr(grant) and TOKEN not in str(grant)
    client.close()


@pytest.mark.parametrize(
    "shape",
    [
        pytest.param(lambda s: s.upper(), id="upper-cased"),
        pytest.param(lambda s: s.swapcase(), id="case-swapped"),
        pytest.param(lambda s: s[2:10], id="an 8-character piece"),
        pytest.param(lambda s: f"req-{s[5:]}-7", id="inside a request id"),
        pytest.param(lambda s: f"https://h/p/?token={quote(s)}&x=1", id="percent-encoded in a URL"),
    ],
)
def test_every_shape_of_a_remembered_secret_is_masked(shape: Callable[[str], str]) -> None:
    secret = "Tok/9f8e7d6c5b4a3210+zz"
    with redact_module.remembering():
        redact_module.remember(secret)
        masked = redact_module.redact(f"TikTok said: {shape(secret)}.")
    assert masked.startswith("TikTok said: ") and "[redacted]" in masked
    folded = masked.lower()
    pieces = {secret[i : i + 8].lower() for i in range(len(secret) - 7)}
    assert not any(piece in folded for piece in pieces), masked
    # Outside a command or a run nothing stays remembered.
    assert redact_module.redact(secret) == secret
