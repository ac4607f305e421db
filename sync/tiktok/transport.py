"""Reading TikTok's answer: the envelope decides, and transport failures get our own words.

TikTok answers errors with HTTP 200 and a non-zero `code` (docs/tiktok-api.md §1, §5.2), so the body
is read first; HTTP status matters only when there is no envelope (4xx: the request never reached
the API; 5xx: a server fault) or when it says 5xx. A `requests` failure is described without its own
text: that text holds the full URL, with the app `secret` on `oauth2/advertiser/get/`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import requests
from urllib3.exceptions import MaxRetryError, NewConnectionError, ProtocolError

from sync.tiktok.codes import OK, PARTIAL_SUCCESS
from sync.tiktok.errors import (
    AuthError,
    RequestError,
    RetryableError,
    ThrottledError,
    TikTokError,
    TransportError,
    error_for_code,
)
from sync.tiktok.models import ApiResponse
from sync.tiktok.redact import redact

logger = logging.getLogger(__name__)

# The most of an answer the client reads. These endpoints answer a few KB; the largest is
# dmp/custom_audience/get/ for 100 audiences with TikTok's default 100 history entries each
# (docs/tiktok-api.md §3.5), about 3 MB at ~300 bytes an entry. 16 MB leaves five times that, and a
# server sending more (400 MB at HTTP 200 was once read whole, to 1.35 GB of memory) is not
# TikTok answering: the request fails as a transport error and its changes stay pending.
MAX_BODY_BYTES = 16 * 1024 * 1024
_CHUNK = 64 * 1024


def read_body(response: requests.Response, endpoint: str, limit: int = MAX_BODY_BYTES) -> bytearray:
    """The whole body of a streamed response, refused past `limit` bytes (decoded)."""
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit:
        response.close()
        raise _too_large(endpoint, limit, response.status_code)
    body = bytearray()  # returned as is, not copied: json.loads reads a bytearray
    for chunk in response.iter_content(_CHUNK):
        body += chunk
        if len(body) > limit:
            # The error's traceback keeps this frame, and `body`, alive while the retry loop
            # sends the request again: free the buffer now, not when the error is dropped.
            body.clear()
            response.close()  # not back to the pool: the rest of the answer is still coming
            raise _too_large(endpoint, limit, response.status_code)
    return body


def _too_large(endpoint: str, limit: int, status: int) -> TransportError:
    return TransportError(
        f"the answer is larger than {limit // (1024 * 1024)} MB, far more than TikTok sends "
        "for this endpoint (check --api-base and any proxy)",
        endpoint=endpoint,
        request_sent=True,
        http_status=status,
    )


def read_envelope(
    response: requests.Response,
    body: bytes | bytearray,
    endpoint: str,
    elapsed: float,
    secrets: Sequence[str],
) -> ApiResponse:
    """Decide from the envelope (TikTok answers errors with HTTP 200, docs/tiktok-api.md §1)."""
    status = response.status_code
    envelope = _parse_envelope(body)
    # The request id is server text like the message: a hostile or buggy server can put a
    # secret in it, and it goes to logs, errors and the ledger.
    header_id = _redacted_id(response.headers.get("X-Tt-Logid"), secrets)
    if envelope is None:
        logger.debug("%s -> HTTP %s without envelope in %.3f s", endpoint, status, elapsed)
        if 300 <= status < 400:
            raise RequestError(
                f"unexpected redirect (HTTP {status}); check the base URL",
                endpoint=endpoint,
                http_status=status,
            )
        if status == 429:  # TikTok throttles with 40100, but a gateway in between may not
            raise ThrottledError("too many requests", endpoint=endpoint, http_status=status)
        if 400 <= status < 500:  # the request never reached TikTok's API logic (§1)
            raise RequestError(
                "the request never reached TikTok's API (wrong path or method?)",
                endpoint=endpoint,
                http_status=status,
                request_id=header_id,
            )
        raise TransportError(
            "the response is not a TikTok envelope",
            endpoint=endpoint,
            request_sent=True,
            http_status=status,
            request_id=header_id,
        )
    code: int = envelope["code"]
    message = redact(str(envelope.get("message") or ""), secrets)
    request_id = _redacted_id(str(envelope.get("request_id") or ""), secrets) or header_id
    logger.debug(
        "%s -> HTTP %s code %s request_id %s in %.3f s", endpoint, status, code, request_id, elapsed
    )
    if status >= 500:  # a server fault whatever the body says; TikTok advises to retry (§1)
        raise TransportError(
            f"server error (code {code}: {message})",
            endpoint=endpoint,
            request_sent=True,
            http_status=status,
            request_id=request_id,
        )
    if code not in (OK, PARTIAL_SUCCESS):
        raise error_for_code(
            code, message, endpoint=endpoint, request_id=request_id, http_status=status
        )
    if code == PARTIAL_SUCCESS:
        logger.warning("%s partially succeeded (request_id %s): %s", endpoint, request_id, message)
    data = envelope.get("data")
    return ApiResponse(
        data=data if isinstance(data, Mapping) else {},
        code=code,
        message=message,
        request_id=request_id,
        partial=code == PARTIAL_SUCCESS,
    )


def _redacted_id(value: str | None, secrets: Sequence[str]) -> str | None:
    return redact(value, secrets) if value else None


def _parse_envelope(body: bytes | bytearray) -> dict[str, Any] | None:
    try:
        parsed = json.loads(body)
    except ValueError:
        return None
    if not isinstance(parsed, dict):
        return None
    code = parsed.get("code")
    if not isinstance(code, int) or isinstance(code, bool):
        return None
    return parsed


def transport_failure(
    exc: requests.RequestException,
    endpoint: str,
    timeout: tuple[float, float],
    expired_after: float | None = None,
) -> TikTokError:
    """Our own description of a `requests` failure, and whether TikTok can have seen it.

    `expired_after`: the request's total deadline (seconds) closed the connection; whatever
    `requests` made of that, the answer did not come in time.
    """
    if expired_after is not None and not isinstance(exc, requests.exceptions.ConnectTimeout):
        what, sent = f"no complete answer within {expired_after:.1f} s", True
    elif isinstance(exc, requests.exceptions.ConnectTimeout):
        what, sent = f"could not connect within {timeout[0]} s", False
    elif isinstance(exc, requests.exceptions.ReadTimeout):
        what, sent = f"no answer within the {timeout[1]} s read timeout", True
    elif isinstance(exc, requests.exceptions.InvalidHeader):
        # Its text quotes the offending header value, which can only be the token.
        return AuthError("the access token is not a valid header value", endpoint=endpoint)
    elif isinstance(
        exc,
        requests.exceptions.InvalidURL
        | requests.exceptions.InvalidSchema
        | requests.exceptions.MissingSchema,
    ):
        return RequestError("the base URL is not a valid http(s) URL", endpoint=endpoint)
    elif isinstance(exc, requests.exceptions.ConnectionError):
        reason = _inner(exc)
        if isinstance(reason, NewConnectionError):  # refused, unreachable, DNS: never sent
            what, sent = f"could not connect ({type(reason).__name__})", False
        else:
            what, sent = f"connection dropped ({type(reason).__name__})", True
    else:
        what, sent = f"the response could not be read ({type(exc).__name__})", True
    return TransportError(what, endpoint=endpoint, request_sent=sent)


def _inner(exc: requests.exceptions.ConnectionError) -> BaseException:
    """The urllib3/socket error inside a requests ConnectionError (for its class name only)."""
    inner: BaseException = exc
    if exc.args and isinstance(exc.args[0], BaseException):
        inner = exc.args[0]
    if isinstance(inner, MaxRetryError) and inner.reason is not None:
        inner = inner.reason
    last = inner.args[-1] if isinstance(inner, ProtocolError) and inner.args else None
    if isinstance(last, BaseException):  # ("Connection aborted.", RemoteDisconnected(...))
        inner = last
    return inner


def surely_not_applied(error: RetryableError) -> bool:
    """True when TikTok cannot have acted on the request, so even a create may be resent."""
    if isinstance(error, TransportError):
        return not error.request_sent
    # Throttling (40100/40016/40133/61000, or a gateway's HTTP 429) turns the call away before
    # TikTok does anything with it (docs/tiktok-api.md §5.1).
    return isinstance(error, ThrottledError)
