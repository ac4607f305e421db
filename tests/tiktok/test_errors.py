"""What a user reads: one line with what failed, TikTok's code, message, request_id, what to do."""

from __future__ import annotations

import pickle

import pytest

from sync.tiktok import (
    AmbiguousWriteError,
    AuthError,
    RetryableError,
    TikTokError,
    TransportError,
)
from sync.tiktok.errors import error_for_code


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        pytest.param(
            error_for_code(40105, "Access token is invalid", endpoint="POST x/", request_id="r9"),
            "POST x/ failed: TikTok code 40105: Access token is invalid (request_id r9); "
            "re-authorise with `tiktok-sync auth`",
            id="auth",
        ),
        pytest.param(
            error_for_code(50000, "System error", endpoint="GET y/", request_id=None),
            "GET y/ failed: TikTok code 50000: System error; "
            "TikTok had an internal error; will retry on the next run",
            id="server-without-request-id",
        ),
        pytest.param(
            TransportError(
                "the response is not a TikTok envelope",
                endpoint="GET z/",
                request_sent=True,
                http_status=502,
            ),
            "GET z/ failed: HTTP 502: the response is not a TikTok envelope; "
            "no usable answer from TikTok; will retry on the next run",
            id="transport",
        ),
    ],
)
def test_str_is_one_line_saying_what_to_do(error: TikTokError, expected: str) -> None:
    assert str(error) == expected


def test_multi_line_message_is_folded_to_one_line() -> None:
    error = error_for_code(40000, "bad\nthing\r\n  here", endpoint="POST x/", request_id=None)
    assert "\n" not in str(error) and "bad thing here" in str(error)


def test_attempts_are_named_once_the_retry_loop_gave_up() -> None:
    error = error_for_code(40100, "Too frequent", endpoint="POST x/", request_id="r")
    error.attempts = 5
    assert str(error).startswith("POST x/ failed after 5 attempts: TikTok code 40100")


def test_repr_shows_the_fields_for_debugging() -> None:
    error = error_for_code(40007, "Not found", endpoint="GET a/", request_id="r2")
    assert repr(error) == (
        "NotFoundError(endpoint='GET a/', code=40007, message='Not found', "
        "request_id='r2', action=GIVE_UP, attempts=1)"
    )


def test_ambiguous_write_keeps_the_cause_details_and_is_not_retryable() -> None:
    cause = error_for_code(50000, "System error", endpoint="POST c/", request_id="r3")
    ambiguous = AmbiguousWriteError.after(cause)
    assert not isinstance(ambiguous, RetryableError)
    assert (ambiguous.code, ambiguous.request_id, ambiguous.endpoint) == (50000, "r3", "POST c/")
    assert "look the audience up by name before creating again" in str(ambiguous)


def test_errors_survive_pickling_for_process_pools() -> None:
    error = AuthError("no access token is configured", endpoint="GET b/")
    clone = pickle.loads(pickle.dumps(error))
    assert type(clone) is AuthError and str(clone) == str(error)
