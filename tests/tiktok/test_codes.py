"""The classification table: every return-code family to what happens next (docs/tiktok-api.md
§5.2)."""

from __future__ import annotations

import pytest

from sync.tiktok import (
    Action,
    AudienceBusyError,
    AuthError,
    FatalError,
    NotFoundError,
    RequestError,
    RetryableError,
    ServerError,
    ThrottledError,
    classify,
)
from sync.tiktok.errors import error_for_code

PROCESSING = "The audience is processing, please try again later."
NOT_EDITABLE = "Audience is not editable, please check audience status"

CASES = [
    # (code, message, action, error class)
    (40100, "Requests too frequent", Action.RETRY, ThrottledError),
    (40016, "Too many requests", Action.RETRY, ThrottledError),
    (40133, "Advertiser QPS limit", Action.RETRY, ThrottledError),
    (61000, "Too many requests", Action.RETRY, ThrottledError),
    (40132, "The request QPS is limited by pixel_code's value.", Action.RETRY, ThrottledError),
    (40050, "Duplicated requests have been sent", Action.RETRY, ServerError),
    (53102, "", Action.RETRY, ServerError),  # SDK name only: a guess (sync/tiktok/codes.py)
    (53103, "", Action.RETRY, ServerError),
    (40200, "Task error", Action.FIX_REQUEST, RequestError),
    (40700, "Internal service validation error", Action.FIX_REQUEST, RequestError),
    (40400, "", Action.FIX_REQUEST, RequestError),
    (40003, "", Action.REAUTHORIZE, AuthError),
    (40114, "", Action.REAUTHORIZE, AuthError),
    (40302, "", Action.GIVE_UP, FatalError),
    (41000, "The client IP is on the banned country list", Action.GIVE_UP, FatalError),
    (40201, "Task not ready", Action.RETRY, RetryableError),
    (40202, "Write conflict", Action.RETRY, RetryableError),
    (50000, "System error", Action.RETRY, ServerError),
    (50002, "Error processing request on TikTok side", Action.RETRY, ServerError),
    (51003, "DMP error", Action.RETRY, ServerError),
    (51063, "Segment gateway error", Action.RETRY, ServerError),
    (51999, "", Action.RETRY, ServerError),
    (52001, "RDS error", Action.RETRY, ServerError),
    (60001, "Maintenance", Action.RETRY, ServerError),
    (40102, "Access token expired", Action.REAUTHORIZE, AuthError),
    (40105, "Access token is incorrect or has been revoked", Action.REAUTHORIZE, AuthError),
    (40106, "Core user invalid", Action.REAUTHORIZE, AuthError),
    (40110, "auth_code expired", Action.REAUTHORIZE, AuthError),
    (40119, "Not in same company", Action.REAUTHORIZE, AuthError),
    (40125, "Developer lacks permission", Action.REAUTHORIZE, AuthError),
    (40130, "Scope not authorized", Action.REAUTHORIZE, AuthError),
    (40001, "No permission to operate", Action.REAUTHORIZE, AuthError),
    (40000, "Invalid parameters", Action.FIX_REQUEST, RequestError),
    (40002, "Parameter error: invalid audience ID", Action.FIX_REQUEST, RequestError),
    (40006, "Version not supported", Action.FIX_REQUEST, RequestError),
    (40010, "Domain not supported", Action.FIX_REQUEST, RequestError),
    (40051, "Version domain mismatch", Action.FIX_REQUEST, RequestError),
    (40011, "Too many IDs", Action.FIX_REQUEST, RequestError),
    (40104, "Access token is empty, set it in the header", Action.FIX_REQUEST, RequestError),
    (40900, "File signature mismatch", Action.FIX_REQUEST, RequestError),
    (40906, "File is empty", Action.FIX_REQUEST, RequestError),
    (40910, "File expired", Action.FIX_REQUEST, RequestError),
    (40999, "Some future file error", Action.FIX_REQUEST, RequestError),
    (40002, PROCESSING, Action.WAIT, AudienceBusyError),
    (40002, "Audience is updating", Action.WAIT, AudienceBusyError),
    (40002, NOT_EDITABLE, Action.GIVE_UP, FatalError),
    (40007, "Object does not exist", Action.GIVE_UP, NotFoundError),
    (40300, "Advertiser does not exist", Action.GIVE_UP, FatalError),
    (40301, "Advertiser cannot be matched", Action.GIVE_UP, FatalError),
    (12345, "Never seen before", Action.GIVE_UP, FatalError),
]


@pytest.mark.parametrize(
    ("code", "message", "action", "error_class"),
    CASES,
    ids=[f"{code}-{message[:24] or 'no message'}" for code, message, _, _ in CASES],
)
def test_code_maps_to_action_and_error(
    code: int, message: str, action: Action, error_class: type[Exception]
) -> None:
    assert classify(code, message) is action
    error = error_for_code(code, message, endpoint="POST segment/mapping/", request_id="r1")
    assert type(error) is error_class
    assert error.action is action
    assert (error.code, error.message, error.request_id) == (code, message, "r1")


def test_processing_wins_when_a_40002_message_says_both() -> None:
    """A lock that also calls itself "not editable" is still temporary."""
    assert classify(40002, "Audience is not editable while processing") is Action.WAIT


def test_classify_tolerates_a_missing_message() -> None:
    assert classify(40002, None) is Action.FIX_REQUEST
