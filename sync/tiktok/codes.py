"""TikTok Business API return codes and the one table that says what each one means for us.

TikTok answers most errors with HTTP 200 and a non-zero `code` in the envelope, so the code, not the
HTTP status, decides what happens next (docs/tiktok-api.md §1, §5.2). Every branch on a code in this
package goes through `classify`; nothing else compares codes by hand except the throttle set, which
the client needs to know that a create was surely not applied (docs/tiktok-api.md §7).

Sources: TikTok's Return Codes page as transcribed by api-evangelist/tiktok-ads
(`errors/tiktok-ads-error-codes.yml`: meaning and TikTok's own remediation) and the constant
names of TikTok's SDK (tiktok/tiktok-business-api-sdk `tiktok_code.py`: a name only). Where only
a name is known, or neither source fits our endpoints, the entry says "guess" and why; the
README lists them. Unknown codes are not retried (`classify`).
"""

from __future__ import annotations

import re
from enum import Enum


class Action(Enum):
    """What should happen next after TikTok (or the network) answered a call."""

    RETRY = "retry"  # transient: back off and send the same request again
    WAIT = "wait"  # the audience is locked while TikTok processes it: the caller polls later
    REAUTHORIZE = "reauthorize"  # the token is gone, expired or lacks a scope
    FIX_REQUEST = "fix_request"  # the request or the configuration is wrong; resending won't help
    GIVE_UP = "give_up"  # the object or advertiser is gone, or the code is unknown
    # Never returned by `classify`: a create whose outcome is unknown (timeout, 5xx after
    # sending). The caller looks the object up before trying again (docs/tiktok-api.md §7).
    RECONCILE = "reconcile"


# --- Success (docs/tiktok-api.md §1, §5.2) --------------------------------------------------------
OK = 0
PARTIAL_SUCCESS = 20001

# --- Request and parameter problems ---------------------------------------------------------
INVALID_PARAMETERS = 40000
NO_PERMISSION = 40001
FORBIDDEN = 40003  # SDK name only: guess, a permission problem like 40001
# 40002 is overloaded: plain parameter errors, an audience locked while processing, and an
# audience stuck at size 0 that can never be edited (docs/tiktok-api.md §3.8, §5.2).
PARAMETER_ERROR = 40002
VERSION_NOT_SUPPORTED = 40006
OBJECT_NOT_FOUND = 40007
ENDPOINT_NOT_AVAILABLE = 40008  # 40008/40009/40013/40014: sandbox lacks the endpoint (§1)
PARAMETER_NOT_AVAILABLE = 40009
DOMAIN_NOT_SUPPORTED = 40010
TOO_MANY_IDS = 40011
NO_UPDATE = 40012  # SDK name only ("no update"): guess, the request changes nothing
ACCOUNT_NOT_AVAILABLE = 40013
SANDBOX_NOT_SUPPORTED = 40014
REQUESTS_TOO_FREQUENT = 40016
# "Duplicated requests have been sent": TikTok's server-side dedup, not an idempotency key
# (docs/tiktok-api.md §7). The first copy may be applied, so it counts as possibly applied; guess.
DUPLICATED_REQUEST = 40050
VERSION_DOMAIN_MISMATCH = 40051
INVALID_BATCH_SIZE = 40061
PII_NOT_HASHED = 40062
INVALID_PARTNER_NAME = 40063  # SDK name only

# --- Auth (docs/tiktok-api.md §2, §5.2) -----------------------------------------------------------
RATE_LIMITED = 40100
APP_CREDENTIALS_INVALID = 40101
ACCESS_TOKEN_EXPIRED = 40102
REFRESH_TOKEN_EXPIRED = 40103  # Accounts API tokens; not ours, but a re-authorisation fixes it
ACCESS_TOKEN_EMPTY = 40104  # no Access-Token header: our bug, not the advertiser's
ACCESS_TOKEN_INVALID = 40105
CORE_USER_INVALID = 40106
REFRESH_TOKEN_INVALID = 40107
INVALID_GRANT_TYPE = 40108  # the form-encoded token exchange, which we do not use
DECIPHER_ERROR = 40109  # "Deciphering Error": guess, a token TikTok cannot read
AUTH_CODE_INVALID = 40110  # auth_code cancelled, used or expired (valid 1 h, single use)
PASSWORD_ERROR = 40112
APP_NOT_AUTHORIZED = 40113
ADVERTISER_LOGGED_OUT = 40114  # SDK name only: guess, the authorisation lapsed
APP_SECRET_INVALID = 40115
AUTH_SIGNATURE_INVALID = 40116
METHOD_FORBIDDEN = 40117  # "The specified method cannot be used"
NOT_ALLOWLISTED = 40118
DEVELOPER_ADVERTISER_MISMATCH = 40119
DEVELOPER_NOT_APPROVED = 40124  # the developer profile is not filled in and approved
DEVELOPER_NO_PERMISSION = 40125
SCOPE_NOT_AUTHORIZED = 40130
SCOPE_USER_OAUTH_FAILED = 40131  # SDK name only: guess, an authorisation to redo
# "Requests made too frequently for a certain field value" (documented for pixel_code; on our
# endpoints presumably the advertiser or audience id): a throttle like 40100, so TikTok did
# nothing with the request and even a create may be sent again after a backoff.
REQUEST_FREQUENCY_LIMITED = 40132
ADVERTISER_QPS_LIMITED = 40133

# --- Busy, gone ---------------------------------------------------------------------------
# "Task error" in the "Async task error" family; TikTok's remediation is "refer to the API
# documentation for the correct usage of the parameters and try again": a request to fix.
TASK_ERROR = 40200
TASK_NOT_READY = 40201
WRITE_CONFLICT = 40202
ADVERTISER_NOT_FOUND = 40300
ADVERTISER_UNMATCHED = 40301
CUSTOMER_ADVERTISER_NOT_FOUND = 40302  # SDK name only
LOGIN_REQUIRED = 40309  # SDK name only: guess, an authorisation to redo
ROUTE_NOT_FOUND = 40400  # SDK name only: a wrong path, i.e. a wrong base URL
RPC_VALIDATION_ERROR = 40700  # "Internal service validation error": TikTok says fix parameters

# --- Customer files, 409xx (docs/tiktok-api.md §3.1) ----------------------------------------------
FILE_SIGNATURE_MISMATCH = 40900
FILE_NOT_FOUND = 40905
FILE_EMPTY = 40906
FILE_TOO_LARGE = 40907
FILE_TYPE_UNSUPPORTED = 40908
CALCULATE_TYPE_UNSUPPORTED = 40909
FILE_EXPIRED = 40910
FILE_INVALID = 40914
FILE_NOT_CONFORMING = 40915

# --- Offline endpoints or fields ------------------------------------------------------------
BLOCKED_REGION = 41000  # "The client IP is on the banned country list": run from elsewhere
ENDPOINT_OFFLINE = 41001
FIELD_OFFLINE = 41002

# --- Server side (docs/tiktok-api.md §5.2: retry with backoff) ------------------------------------
SYSTEM_ERROR = 50000
SYSTEM_TIMEOUT = 50002  # "error processing request on TikTok side"
DMP_ERROR = 51003  # one of the 51xxx internal service errors
SEGMENT_GATEWAY_ERROR = 51063
# SDK names only (DESERIALIZATION_ERROR, SERIALIZATION_ERROR); no TikTok text found. In the
# 5xxxx "service error" range (S11: "5xxxx: service error"), so taken as TikTok failing, possibly
# after applying: retried, and a create is looked up by name. A guess: if it meant our body
# could not be read, a retry fails the same way and the batch stays pending.
DESERIALIZATION_ERROR = 53102
SERIALIZATION_ERROR = 53103
MAINTENANCE = 60001
TOO_MANY_REQUESTS = 61000
INVALID_BIZ_AUTH_TYPE = 70001  # SDK name only

# Throttling means TikTok turned the request away before doing anything, so even a create may be
# sent again (docs/tiktok-api.md §5.1: no HTTP 429, throttling is HTTP 200 with one of these codes).
THROTTLE_CODES = frozenset(
    {
        REQUESTS_TOO_FREQUENT,
        RATE_LIMITED,
        REQUEST_FREQUENCY_LIMITED,
        ADVERTISER_QPS_LIMITED,
        TOO_MANY_REQUESTS,
    }
)

# The one classification table. Families (409xx, 51xxx, 52xxx) are handled in `classify`.
_ACTIONS: dict[int, Action] = {
    **dict.fromkeys(THROTTLE_CODES, Action.RETRY),
    TASK_NOT_READY: Action.RETRY,
    WRITE_CONFLICT: Action.RETRY,
    DUPLICATED_REQUEST: Action.RETRY,
    SYSTEM_ERROR: Action.RETRY,
    SYSTEM_TIMEOUT: Action.RETRY,
    DESERIALIZATION_ERROR: Action.RETRY,
    SERIALIZATION_ERROR: Action.RETRY,
    MAINTENANCE: Action.RETRY,
    # Only the advertiser can fix these, by authorising again (with the right scope).
    NO_PERMISSION: Action.REAUTHORIZE,
    APP_CREDENTIALS_INVALID: Action.REAUTHORIZE,
    ACCESS_TOKEN_EXPIRED: Action.REAUTHORIZE,
    ACCESS_TOKEN_INVALID: Action.REAUTHORIZE,
    CORE_USER_INVALID: Action.REAUTHORIZE,
    REFRESH_TOKEN_INVALID: Action.REAUTHORIZE,
    AUTH_CODE_INVALID: Action.REAUTHORIZE,
    APP_NOT_AUTHORIZED: Action.REAUTHORIZE,
    APP_SECRET_INVALID: Action.REAUTHORIZE,
    DEVELOPER_ADVERTISER_MISMATCH: Action.REAUTHORIZE,
    DEVELOPER_NO_PERMISSION: Action.REAUTHORIZE,
    SCOPE_NOT_AUTHORIZED: Action.REAUTHORIZE,
    FORBIDDEN: Action.REAUTHORIZE,
    REFRESH_TOKEN_EXPIRED: Action.REAUTHORIZE,
    DECIPHER_ERROR: Action.REAUTHORIZE,
    PASSWORD_ERROR: Action.REAUTHORIZE,
    ADVERTISER_LOGGED_OUT: Action.REAUTHORIZE,
    SCOPE_USER_OAUTH_FAILED: Action.REAUTHORIZE,
    LOGIN_REQUIRED: Action.REAUTHORIZE,
    # The request or the configuration (base URL, sandbox, batch size) must change.
    INVALID_PARAMETERS: Action.FIX_REQUEST,
    PARAMETER_ERROR: Action.FIX_REQUEST,
    VERSION_NOT_SUPPORTED: Action.FIX_REQUEST,
    ENDPOINT_NOT_AVAILABLE: Action.FIX_REQUEST,
    PARAMETER_NOT_AVAILABLE: Action.FIX_REQUEST,
    DOMAIN_NOT_SUPPORTED: Action.FIX_REQUEST,
    TOO_MANY_IDS: Action.FIX_REQUEST,
    ACCOUNT_NOT_AVAILABLE: Action.FIX_REQUEST,
    SANDBOX_NOT_SUPPORTED: Action.FIX_REQUEST,
    VERSION_DOMAIN_MISMATCH: Action.FIX_REQUEST,
    INVALID_BATCH_SIZE: Action.FIX_REQUEST,
    PII_NOT_HASHED: Action.FIX_REQUEST,
    ACCESS_TOKEN_EMPTY: Action.FIX_REQUEST,
    ENDPOINT_OFFLINE: Action.FIX_REQUEST,
    FIELD_OFFLINE: Action.FIX_REQUEST,
    NO_UPDATE: Action.FIX_REQUEST,
    INVALID_PARTNER_NAME: Action.FIX_REQUEST,
    INVALID_GRANT_TYPE: Action.FIX_REQUEST,
    AUTH_SIGNATURE_INVALID: Action.FIX_REQUEST,
    METHOD_FORBIDDEN: Action.FIX_REQUEST,
    TASK_ERROR: Action.FIX_REQUEST,
    ROUTE_NOT_FOUND: Action.FIX_REQUEST,
    RPC_VALIDATION_ERROR: Action.FIX_REQUEST,
    INVALID_BIZ_AUTH_TYPE: Action.FIX_REQUEST,
    # Nothing we can send will bring these back.
    OBJECT_NOT_FOUND: Action.GIVE_UP,
    NOT_ALLOWLISTED: Action.GIVE_UP,  # only TikTok can allowlist the app (docs/tiktok-api.md §5.2)
    ADVERTISER_NOT_FOUND: Action.GIVE_UP,
    ADVERTISER_UNMATCHED: Action.GIVE_UP,
    CUSTOMER_ADVERTISER_NOT_FOUND: Action.GIVE_UP,
    DEVELOPER_NOT_APPROVED: Action.GIVE_UP,  # only TikTok's developer portal can fix it
    BLOCKED_REGION: Action.GIVE_UP,
}

# 40002 messages (docs/tiktok-api.md §3.8, §5.2, §7 "Processing"):
# "The audience is processing, please try again later." -> the lock lifts by itself;
# "Audience is not editable, please check audience status" -> size 0, a retry never helps.
# The processing pattern is checked first: a message saying both means a temporary lock.
_PROCESSING = re.compile(r"process|updat", re.IGNORECASE)
_NOT_EDITABLE = re.compile(r"not editable", re.IGNORECASE)


def classify(code: int, message: str | None = "") -> Action:
    """Say what should happen after TikTok answered `code` (with `message`), code != 0."""
    if code == PARAMETER_ERROR:
        if _PROCESSING.search(message or ""):
            return Action.WAIT
        if _NOT_EDITABLE.search(message or ""):
            return Action.GIVE_UP
    if code in _ACTIONS:
        return _ACTIONS[code]
    if 40900 <= code <= 40999:  # file errors: fix the file, or re-upload an expired one
        return Action.FIX_REQUEST
    if 51000 <= code <= 52999:  # internal service and storage errors (docs/tiktok-api.md §5.2)
        return Action.RETRY
    # Unknown codes are not retried: resending blindly what we do not understand could make
    # things worse, and a human should read the message.
    return Action.GIVE_UP


def is_server_side(code: int) -> bool:
    """True for the 5xxxx/60001 family (and 40050, a duplicate of a request TikTok has): TikTok
    failed, possibly after applying the change."""
    return (
        code
        in (SYSTEM_ERROR, SYSTEM_TIMEOUT, DESERIALIZATION_ERROR, SERIALIZATION_ERROR, MAINTENANCE)
        or code == DUPLICATED_REQUEST
        or 51000 <= code <= 52999
    )
