"""What the client returns, and the TikTok enums it checks before sending.

Results are frozen dataclasses parsed from TikTok's `data`. Ids are strings: some exceed the
safe integer range (docs/tiktok-api.md §1). Optional fields TikTok may leave out are `None`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# The project's identifier types (one per audience-members row) to the segment API's
# `id_schema`. The segment API calls Android ids AAID and has no GAID_* (docs/tiktok-api.md §4.2);
# the customer-file API's `calculate_type` keeps GAID_* (docs/tiktok-api.md §3.2).
SEGMENT_ID_SCHEMA: Mapping[str, str] = {
    "EMAIL_SHA256": "EMAIL_SHA256",
    "PHONE_SHA256": "PHONE_SHA256",
    "IDFA_SHA256": "IDFA_SHA256",
    "IDFA_MD5": "IDFA_MD5",
    "GAID_SHA256": "AAID_SHA256",
    "GAID_MD5": "AAID_MD5",
}

# Customer-file `calculate_type` values (docs/tiktok-api.md §3.2). FIRST_NORMAL (raw MAIDs) is
# deprecated and would mean sending unhashed ids, so it is not accepted.
CALCULATE_TYPES = frozenset(
    {
        "EMAIL_SHA256",
        "PHONE_SHA256",
        "IDFA_SHA256",
        "IDFA_MD5",
        "GAID_SHA256",
        "GAID_MD5",
        "FIRST_SHA256",
        "FIRST_MD5",
        "MAID_SHA256",
        "MAID_MD5",
        "MULTIPLE_TYPES",
    }
)

UPDATE_ACTIONS = frozenset({"APPEND", "REMOVE", "REPLACE"})  # docs/tiktok-api.md §3.4; no "DELETE"
MAPPING_ACTIONS = frozenset({"add", "delete"})  # docs/tiktok-api.md §4.2


def hash_length(id_type: str) -> int:
    """Hex length of a hash of this type: 32 for MD5 (MAIDs only), else 64 (SHA-256)."""
    return 32 if id_type.endswith("_MD5") else 64


class CreatedId(str):
    """The id of an audience TikTok just created, which compares and prints as the id, with the
    request_id of TikTok's answer: the ledger records it as the evidence of the create (a
    customer-file create carries the audience's first members)."""

    request_id: str | None

    def __new__(cls, audience_id: str, request_id: str | None) -> CreatedId:
        created = super().__new__(cls, audience_id)
        created.request_id = request_id
        return created


@dataclass(frozen=True)
class ApiResponse:
    """A successful envelope. `partial` is True for code 20001; `message` then says what failed."""

    data: Mapping[str, Any]
    code: int
    message: str
    request_id: str | None
    partial: bool = False


@dataclass(frozen=True)
class TokenGrant:
    access_token: str = field(repr=False)
    advertiser_ids: tuple[str, ...]
    scope: tuple[int, ...]

    def __repr__(self) -> str:
        return (
            f"TokenGrant(access_token='[redacted]', advertiser_ids={self.advertiser_ids!r}, "
            f"scope={self.scope!r})"
        )


@dataclass(frozen=True)
class Advertiser:
    advertiser_id: str
    advertiser_name: str | None

    @classmethod
    def from_api(cls, item: Mapping[str, Any]) -> Advertiser:
        return cls(str(item["advertiser_id"]), _opt_str(item, "advertiser_name"))


@dataclass(frozen=True)
class AudienceDetails:
    """One `audience_details` entry of `dmp/custom_audience/get/` (docs/tiktok-api.md §3.5)."""

    audience_id: str
    name: str | None
    type: str | None  # "Customer File Audience", "Partner" (segment API), …
    calculate_type: str | None
    cover_num: int | None  # matched TikTok users: the audience size
    is_valid: bool | None  # False while TikTok is still calculating, or after expiry
    is_expiring: bool | None  # True within 60 days of expiry
    create_time: str | None  # "YYYY-MM-DD HH:MM:SS"
    expired_time: str | None
    msg: str | None  # status, incl. partial-failure text such as rows that failed to parse
    error_msg: str | None  # why a create or modify failed

    @classmethod
    def from_api(cls, details: Mapping[str, Any]) -> AudienceDetails:
        return cls(
            audience_id=str(details["audience_id"]),
            name=_opt_str(details, "name"),
            type=_opt_str(details, "type"),
            calculate_type=_opt_str(details, "calculate_type"),
            cover_num=_opt_int(details, "cover_num"),
            is_valid=_opt_bool(details, "is_valid"),
            is_expiring=_opt_bool(details, "is_expiring"),
            create_time=_opt_str(details, "create_time"),
            expired_time=_opt_str(details, "expired_time"),
            msg=_opt_str(details, "msg"),
            error_msg=_opt_str(details, "error_msg"),
        )


@dataclass(frozen=True)
class AudienceSummary:
    """One item of `dmp/custom_audience/list/` (docs/tiktok-api.md §3.6): owned and shared
    audiences."""

    audience_id: str
    name: str | None
    type: str | None  # TikTok calls it `audience_type` here and `type` in get
    calculate_type: str | None
    cover_num: int | None
    is_valid: bool | None
    is_expiring: bool | None
    is_creator: bool | None  # False for audiences shared with this advertiser
    create_time: str | None
    expired_time: str | None

    @classmethod
    def from_api(cls, item: Mapping[str, Any]) -> AudienceSummary:
        return cls(
            audience_id=str(item["audience_id"]),
            name=_opt_str(item, "name"),
            type=_opt_str(item, "audience_type") or _opt_str(item, "type"),
            calculate_type=_opt_str(item, "calculate_type"),
            cover_num=_opt_int(item, "cover_num"),
            is_valid=_opt_bool(item, "is_valid"),
            is_expiring=_opt_bool(item, "is_expiring"),
            is_creator=_opt_bool(item, "is_creator"),
            create_time=_opt_str(item, "create_time"),
            expired_time=_opt_str(item, "expired_time"),
        )


def _opt_str(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    return None if value is None else str(value)


def _opt_int(data: Mapping[str, Any], key: str) -> int | None:
    value = data.get(key)
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _opt_bool(data: Mapping[str, Any], key: str) -> bool | None:
    value = data.get(key)
    return None if value is None else bool(value)
