"""Errors raised by the TikTok client, typed by what should happen next.

One base class, `TikTokError`; its subclasses say whether the retry loop may send the request
again (`RetryableError`), whether the caller should wait for TikTok to finish processing
(`AudienceBusyError`), re-authorise (`AuthError`), fix the request (`RequestError`), give up
(`FatalError`, `NotFoundError`) or check what a create did before repeating it
(`AmbiguousWriteError`). `str(err)` is the one line a user reads: what failed, TikTok's code,
message and request_id (for support tickets, docs/tiktok-api.md §1), and what to do.

Secrets: these objects hold only what the client put in them: method and path (never a query
string), TikTok's code, its message and request_id with every known secret redacted. They
never chain a `requests` exception, whose text includes the full URL (with the app `secret`
of `oauth2/advertiser/get/`) and whose request object carries the `Access-Token` header.
"""

from __future__ import annotations

from typing import Any

from sync.tiktok.codes import OBJECT_NOT_FOUND, THROTTLE_CODES, Action, classify, is_server_side
from sync.tiktok.redact import redact


class TikTokError(Exception):
    """Base of every error the client raises."""

    default_action = Action.GIVE_UP
    default_next_step = "not retried; read TikTok's message"

    def __init__(
        self,
        message: str,
        *,
        endpoint: str,
        code: int | None = None,
        request_id: str | None = None,
        http_status: int | None = None,
        next_step: str | None = None,
        action: Action | None = None,
    ) -> None:
        # TikTok's messages are single-line in practice; keep `str(err)` one line regardless.
        # Whatever built it, an error holds no secret this process knows (redact.remember).
        self.message = redact(" ".join(message.split()))
        super().__init__(self.message)
        self.endpoint = endpoint  # "POST segment/mapping/": method and path, never a query
        self.code = code
        self.request_id = redact(request_id) if request_id else request_id
        self.http_status = http_status
        self.next_step = next_step or self.default_next_step
        self.action = action or self.default_action
        self.attempts = 1  # set by the retry loop when it gives up

    def __str__(self) -> str:
        failed = f"{self.endpoint} failed"
        if self.attempts > 1:
            failed += f" after {self.attempts} attempts"
        what = self.message
        if self.code is not None:
            what = f"TikTok code {self.code}: {what}"
        elif self.http_status is not None:
            what = f"HTTP {self.http_status}: {what}"
        if self.request_id:
            what += f" (request_id {self.request_id})"
        return f"{failed}: {what}; {self.next_step}"

    def __reduce__(self) -> tuple[Any, ...]:
        # The keyword-only constructor does not fit Exception's default pickling (by args);
        # rebuild from the attributes so errors cross process pools intact.
        return (_rebuild, (type(self), dict(self.__dict__)))

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(endpoint={self.endpoint!r}, code={self.code!r}, "
            f"message={self.message!r}, request_id={self.request_id!r}, "
            f"action={self.action.name}, attempts={self.attempts})"
        )


def _rebuild(cls: type[TikTokError], state: dict[str, Any]) -> TikTokError:
    error = cls.__new__(cls)
    Exception.__init__(error, state["message"])
    error.__dict__.update(state)
    return error


class RetryableError(TikTokError):
    """Transient: the client retries these itself, and the caller may retry on the next run."""

    default_action = Action.RETRY
    default_next_step = "will retry on the next run"


class ThrottledError(RetryableError):
    """TikTok turned the request away for rate (40100, 40016, 40132, 40133, 61000): nothing
    applied."""

    default_next_step = (
        "TikTok is rate limiting this app; will retry on the next run "
        "(lower requests_per_second if it persists)"
    )


class ServerError(RetryableError):
    """TikTok failed internally (50000, 50002, 51xxx, 52xxx, 60001), possibly after applying."""

    default_next_step = "TikTok had an internal error; will retry on the next run"


class TransportError(RetryableError):
    """No usable TikTok answer: connection refused, reset or dropped, timeout, HTTP 5xx, not JSON.

    `request_sent` is False only when the connection could not even be opened, i.e. TikTok
    surely did not see the request; a create may then be sent again (docs/tiktok-api.md §7).
    """

    default_next_step = "no usable answer from TikTok; will retry on the next run"

    def __init__(
        self,
        message: str,
        *,
        endpoint: str,
        request_sent: bool,
        http_status: int | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message, endpoint=endpoint, http_status=http_status, request_id=request_id)
        self.request_sent = request_sent


class AudienceBusyError(TikTokError):
    """40002 "audience is processing": locked until TikTok finishes; the caller polls later."""

    default_action = Action.WAIT
    default_next_step = (
        "the audience is still processing at TikTok; the change stays pending for a later run"
    )


class AuthError(TikTokError):
    """The token is missing, expired, revoked or lacks a scope (docs/tiktok-api.md §2)."""

    default_action = Action.REAUTHORIZE
    default_next_step = "re-authorise with `tiktok-sync auth`"


class RequestError(TikTokError):
    """The request is wrong (parameters, batch size, file) or was refused locally before sending."""

    default_action = Action.FIX_REQUEST
    default_next_step = "fix the request or the configuration; not retried"


class FatalError(TikTokError):
    """Nothing we can send will help: advertiser gone, not allowlisted, unknown code."""

    default_action = Action.GIVE_UP


class NotFoundError(FatalError):
    """40007: the object does not exist (deleted in Ads Manager, or a wrong id)."""

    default_next_step = "the object no longer exists at TikTok; not retried"


class AmbiguousWriteError(TikTokError):
    """A create may or may not have happened at TikTok, and TikTok has no idempotency keys.

    Raised instead of retrying a create after a read timeout, a dropped connection, HTTP 5xx or a
    5xxxx code: sending it again could make a duplicate (docs/tiktok-api.md §7). The caller looks
    the object up (an audience by name) before creating again. Not a `RetryableError` on purpose.
    """

    default_action = Action.RECONCILE
    default_next_step = (
        "TikTok may have applied it: look the audience up by name before creating again"
    )

    @classmethod
    def after(cls, error: TikTokError, next_step: str | None = None) -> AmbiguousWriteError:
        ambiguous = cls(
            error.message,
            endpoint=error.endpoint,
            code=error.code,
            request_id=error.request_id,
            http_status=error.http_status,
            next_step=next_step,
        )
        ambiguous.attempts = error.attempts
        return ambiguous


def error_for_code(
    code: int,
    message: str,
    *,
    endpoint: str,
    request_id: str | None,
    http_status: int | None = None,
) -> TikTokError:
    """The typed error for a non-zero envelope code, by the table in `codes.classify`."""
    action = classify(code, message)
    kind: type[TikTokError]
    if action is Action.RETRY:
        if code in THROTTLE_CODES:
            kind = ThrottledError
        elif is_server_side(code):
            kind = ServerError
        else:  # 40201 task not ready / 40202 write conflict: busy, a retry may resolve it
            kind = RetryableError
    elif action is Action.WAIT:
        kind = AudienceBusyError
    elif action is Action.REAUTHORIZE:
        kind = AuthError
    elif action is Action.FIX_REQUEST:
        kind = RequestError
    elif code == OBJECT_NOT_FOUND:
        kind = NotFoundError
    else:
        kind = FatalError
    return kind(
        message,
        endpoint=endpoint,
        code=code,
        request_id=request_id,
        http_status=http_status,
        action=action,
    )
