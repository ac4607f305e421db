"""Customer File API and the shared audience reads: upload, create, update, get, list, delete.

Paths, fields and enums are those of docs/tiktok-api.md §3; each check cites its
section. Handlers check the request's shape, ask the state to act (which checks what exists) and
return the `data` object; the server wraps it in the envelope.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Mapping
from typing import Any

from sync.emulator import errors
from sync.emulator.errors import ApiError
from sync.emulator.identifiers import (
    CALCULATE_TYPES,
    CREATE_CALCULATE_TYPES,
    NOT_EMULATED_CALCULATE_TYPES,
    describe_bad_hash,
    is_hash,
)
from sync.emulator.params import (
    ApiRequest,
    enum_value,
    id_list,
    invalid,
    missing,
    name_value,
    optional_int,
    query_id_list,
    required_id,
)
from sync.emulator.state import AudienceView, Hashes, State

CUSTOMER_FILE_NAME_MAX = 128  # docs/tiktok-api.md §3.3
MAX_FILE_PATHS = 500  # docs/tiktok-api.md §3.3
MAX_AUDIENCE_IDS = 100  # docs/tiktok-api.md §3.5, §3.7
EXPIRING_WITHIN = 60 * 86400  # docs/tiktok-api.md §3.5: is_expiring within 60 days of expiry
DEFAULT_RETENTION = 365 * 86400  # docs/tiktok-api.md §3.3: 365 days after the last modification
# docs/tiktok-api.md §3.6
TYPE_NAMES = {"customer_file": "Customer File Audience", "partner": "Partner"}


def file_upload(state: State, request: ApiRequest) -> dict[str, Any]:
    fields: dict[str, str] = {}
    upload = None
    for part in request.form():
        if part.name == "file" and part.filename is not None:
            upload = upload or part
        else:
            fields.setdefault(part.name, part.data.decode("utf-8", "replace"))
    advertiser_id = request.check_advertiser(required_id(fields, "advertiser_id"))
    if upload is None:
        raise missing("file")
    filename = upload.filename or ""
    # docs/tiktok-api.md §3.1: only CSV or TXT; the suffix must be exactly .csv or .txt.
    if not filename.endswith((".csv", ".txt")):
        raise ApiError(
            errors.FILE_TYPE,
            f"The file type is unsupported: file name {filename!r} must end in .csv or .txt.",
        )
    calculate_type = fields.get("calculate_type")
    if not calculate_type:
        raise missing("calculate_type")
    if calculate_type not in CALCULATE_TYPES:
        why = (
            "is not supported by the emulator (one hashed identifier type per file)"
            if calculate_type in NOT_EMULATED_CALCULATE_TYPES
            else "is unsupported"
        )
        raise ApiError(
            errors.FILE_CALCULATE_TYPE,
            f"calculate_type {calculate_type!r} {why}; use one of: {', '.join(CALCULATE_TYPES)}.",
        )
    signature = fields.get("file_signature")
    if not signature:
        raise missing("file_signature")
    data = upload.data
    if not data:
        raise ApiError(errors.FILE_EMPTY, "The file is empty.")
    limit = state.config.max_file_bytes
    if len(data) > limit:
        raise ApiError(
            errors.FILE_TOO_LARGE,
            f"The file is too large: {len(data):,} bytes, the limit is {limit:,} bytes.",
        )
    md5 = hashlib.md5(data).hexdigest()
    # docs/tiktok-api.md §3.1: file_signature is the lowercase hex MD5 of the exact bytes sent.
    if signature != md5:
        raise ApiError(
            errors.FILE_SIGNATURE,
            "The signature we calculated does not match the signature you provided for the "
            "file (file_signature must be the lowercase hex MD5 of the file's bytes).",
        )
    hashes = _read_hashes(data, calculate_type)
    file_path = state.store_file(advertiser_id, calculate_type, hashes, len(data), md5)
    return {"file_path": file_path}


def _read_hashes(data: bytes, calculate_type: str) -> Hashes:
    """Header-less, one hash per line, LF or CRLF (docs/tiktok-api.md §0)."""
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError as exc:
        line_no = data[: exc.start].count(b"\n") + 1
        raise ApiError(
            errors.FILE_INVALID,
            f"The file you want to upload is invalid: line {line_no} is not plain ASCII text.",
        ) from exc
    if not text.strip():
        raise ApiError(errors.FILE_EMPTY, "The file is empty.")
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()  # the newline after the last hash
    length = CALCULATE_TYPES[calculate_type]
    hashes: Hashes = {}
    for number, line in enumerate(lines, start=1):
        value = line[:-1] if line.endswith("\r") else line
        if not is_hash(value, length):
            raise ApiError(
                errors.FILE_NONCONFORMING,
                f"The file does not meet the specifications: line {number} "
                f"{describe_bad_hash(value, length)} for {calculate_type}. Expected one "
                "hash per line and no header row.",
            )
        hashes[value] = None
    return hashes


def _file_paths(value: Any) -> list[str]:
    if value is None:
        raise missing("file_paths")
    if not isinstance(value, list):
        raise invalid("file_paths", "Not a valid list.")
    if not 1 <= len(value) <= MAX_FILE_PATHS:
        raise invalid("file_paths", f"Length must be between 1 and {MAX_FILE_PATHS}.")
    for i, item in enumerate(value):
        if not isinstance(item, str) or not item:
            raise invalid(f"file_paths[{i}]", "Not a valid string.")
    return list(value)


def _audience_sub_type(body: Mapping[str, Any], default: str | None) -> str | None:
    if body.get("audience_sub_type") is None:
        return default
    return enum_value(body, "audience_sub_type", ["NORMAL", "REACH_FREQUENCY"], "NORMAL")


def create(state: State, request: ApiRequest) -> dict[str, Any]:
    body = request.json_body()
    advertiser_id = request.check_advertiser(required_id(body, "advertiser_id"))
    if body.get("custom_audience_name") is None:
        raise missing("custom_audience_name")
    name = name_value(body["custom_audience_name"], "custom_audience_name", CUSTOMER_FILE_NAME_MAX)
    calculate_type = body.get("calculate_type")
    if calculate_type is None:
        raise missing("calculate_type")
    if calculate_type == "MULTIPLE_TYPES":
        raise invalid("calculate_type", "MULTIPLE_TYPES is not supported by the emulator.")
    if calculate_type not in CREATE_CALCULATE_TYPES:
        raise invalid(
            "calculate_type", f"Must be one of: {', '.join(sorted(CREATE_CALCULATE_TYPES))}."
        )
    file_paths = _file_paths(body.get("file_paths"))
    retention = optional_int(body, "retention_in_days", 1, 365, None)
    sub_type = _audience_sub_type(body, "NORMAL") or "NORMAL"
    if not isinstance(body.get("audience_enhancement", False), bool):
        raise invalid("audience_enhancement", "Not a valid boolean.")
    audience_id = state.create_customer_audience(
        advertiser_id, name, calculate_type, file_paths, retention, sub_type
    )
    # docs/tiktok-api.md §3.3 / §8 question 8: the SDK spec's key. Deliberately not also
    # `audience_id`.
    return {"custom_audience_id": audience_id}


def update(state: State, request: ApiRequest) -> dict[str, Any]:
    body = request.json_body()
    advertiser_id = request.check_advertiser(required_id(body, "advertiser_id"))
    audience_id = required_id(body, "custom_audience_id")
    # docs/tiktok-api.md §3.4: REMOVE, not DELETE; REPLACE when omitted.
    action = enum_value(body, "action", ["APPEND", "REMOVE", "REPLACE"], "REPLACE")
    file_paths = _file_paths(body["file_paths"]) if body.get("file_paths") is not None else None
    name = body.get("custom_audience_name")
    if name is not None:
        name = name_value(name, "custom_audience_name", CUSTOMER_FILE_NAME_MAX)
    sub_type = _audience_sub_type(body, None)
    if file_paths is None and name is None and sub_type is None:
        raise invalid("file_paths", "Either custom_audience_name or file_paths is required.")
    state.update_customer_audience(advertiser_id, audience_id, action, file_paths, name, sub_type)
    return {}


def get(state: State, request: ApiRequest) -> dict[str, Any]:
    query = request.query_values()
    advertiser_id = request.check_advertiser(required_id(query, "advertiser_id"))
    audience_ids = query_id_list(request, "custom_audience_ids", MAX_AUDIENCE_IDS)
    if audience_ids is None:
        raise missing("custom_audience_ids")
    history_size = optional_int(query, "history_size", 1, 100, 100, from_query=True) or 100
    now = time.time()
    views = state.owned_views(advertiser_id, audience_ids)
    min_size = state.config.min_customer_file_size
    return {
        "list": [
            {
                "audience_details": _details(view, now, min_size),
                "audience_history": _history(view, history_size),
            }
            for view in views
        ]
    }


def list_(state: State, request: ApiRequest) -> dict[str, Any]:
    query = request.query_values()
    advertiser_id = request.check_advertiser(required_id(query, "advertiser_id"))
    page = optional_int(query, "page", 1, 1_000_000, 1, from_query=True) or 1
    page_size = (
        optional_int(query, "page_size", 1, 100, 10, from_query=True) or 10
    )  # docs/tiktok-api.md §1 "Pagination"
    wanted = query_id_list(request, "custom_audience_ids", MAX_AUDIENCE_IDS)
    views = state.views(advertiser_id)
    if wanted is not None:
        wanted_set = set(wanted)
        views = [v for v in views if v.audience_id in wanted_set]
    now = time.time()
    min_size = state.config.min_customer_file_size
    start = (page - 1) * page_size
    return {
        "list": [_list_item(v, now, min_size) for v in views[start : start + page_size]],
        "page_info": {
            "page": page,
            "page_size": page_size,
            "total_number": len(views),
            "total_page": math.ceil(len(views) / page_size),
        },
    }


def delete(state: State, request: ApiRequest) -> dict[str, Any]:
    body = request.json_body()
    advertiser_id = request.check_advertiser(required_id(body, "advertiser_id"))
    if body.get("custom_audience_ids") is None:
        raise missing("custom_audience_ids")
    audience_ids = id_list(body["custom_audience_ids"], "custom_audience_ids", MAX_AUDIENCE_IDS)
    state.delete_audiences(advertiser_id, audience_ids)
    return {}


# --- audience rendering (docs/tiktok-api.md §3.5, §3.6) -------------------------------------------


def _format_time(epoch: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(epoch))  # GMT, docs/tiktok-api.md §3.6


def _status(view: AudienceView, now: float, min_size: int) -> dict[str, Any]:
    if view.retention_in_days is not None:  # docs/tiktok-api.md §3.3: fixed from creation
        expires = view.create_time + view.retention_in_days * 86400
    else:  # docs/tiktok-api.md §3.3: 365 days after the last modification
        expires = view.modify_time + DEFAULT_RETENTION
    expired = now >= expires
    if view.kind == "customer_file":
        # docs/tiktok-api.md §3.8: a file audience with <1,000 matches ends at size 0 and is never
        # usable.
        cover_num = view.member_total if view.editable else 0
        usable = view.editable and not view.processing
    else:
        # Guess: a Partner audience is usable once it reaches the same floor (docs/tiktok-api.md
        # §3.5 shows a new one with cover_num 0 and is_valid false; Braze: size shows after ~1,000).
        cover_num = view.member_total
        usable = cover_num >= min_size
    return {
        "cover_num": cover_num,
        "is_valid": usable and not expired,
        "is_expiring": not expired and expires - now <= EXPIRING_WITHIN,
        "expired_time": _format_time(expires),
        "create_time": _format_time(view.create_time),
    }


def _details(view: AudienceView, now: float, min_size: int) -> dict[str, Any]:
    status = _status(view, now, min_size)
    msg = "The audience is processing." if view.processing else ""
    error_msg = ""
    if view.kind == "customer_file" and not view.editable and not view.processing:
        error_msg = (
            f"Fewer than {min_size:,} users were matched; the audience is not usable or editable."
        )
    return {
        "audience_id": view.audience_id,
        "name": view.name,
        "type": TYPE_NAMES[view.kind],
        "calculate_type": view.calculate_type,
        "audience_sub_type": view.audience_sub_type,
        **status,
        "is_creator": True,
        "shared": False,
        "owner_id": view.advertiser_id,
        "msg": msg,
        "error_msg": error_msg,
    }


def _history(view: AudienceView, size: int) -> list[dict[str, Any]]:
    newest_first = reversed(view.history[-size:])
    return [
        {
            "action": h.action,
            "action_detail": h.action_detail,
            "editor": "open_api",  # docs/tiktok-api.md §3.5: API changes show editor "open_api"
            "msg": "",
            "opt_time": _format_time(h.opt_time),
        }
        for h in newest_first
    ]


def _list_item(view: AudienceView, now: float, min_size: int) -> dict[str, Any]:
    status = _status(view, now, min_size)
    return {
        "audience_id": view.audience_id,
        "name": view.name,
        "audience_type": TYPE_NAMES[view.kind],
        "calculate_type": view.calculate_type,
        "cover_num": status["cover_num"],
        "is_valid": status["is_valid"],
        "is_expiring": status["is_expiring"],
        "shared": False,
        "is_creator": True,
        "create_time": status["create_time"],
        "expired_time": status["expired_time"],
    }
