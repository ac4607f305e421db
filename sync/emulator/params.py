"""One API request as the endpoints see it, and the checks every endpoint shares.

Messages follow a "<field>: <problem>" style and always name the field (TikTok publishes few of its
messages: docs/tiktok-api.md §4.2, §5.2). Shape problems are 40002; a body that is not JSON, or the
wrong content type, is 40000 (docs/tiktok-api.md §5.2).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sync.emulator import errors, multipart
from sync.emulator.errors import ApiError


def parse_json(body: bytes) -> tuple[bool, Any]:
    """(True, the value) for a JSON body, else (False, None)."""
    try:
        return True, json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return False, None


def missing(name: str) -> ApiError:
    return ApiError(errors.PARAM_ERROR, f"{name}: Missing data for required field.")


def invalid(name: str, problem: str) -> ApiError:
    return ApiError(errors.PARAM_ERROR, f"{name}: {problem}")


@dataclass
class ApiRequest:
    method: str
    path: str  # relative to /open_api/v1.3/, e.g. "segment/mapping/"
    query: dict[str, list[str]]
    headers: dict[str, str]  # names lower-cased
    body: bytes
    token: str | None = None
    token_advertisers: list[str] = field(default_factory=list)
    arrived: float | None = None  # time.monotonic() when it arrived, for the rate limit
    # `parse_json(body)`, when the server has parsed it already (for its log): a 1 MB mapping
    # body costs ~15 ms to parse, which an emulator at TikTok's 10 requests/s should not pay twice.
    parsed: tuple[bool, Any] | None = field(default=None, repr=False, compare=False)

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")

    def query_values(self) -> dict[str, str]:
        """Each query parameter's last value, for the single-valued checks below."""
        return {name: values[-1] for name, values in self.query.items() if values}

    # --- bodies ----------------------------------------------------------------------------

    def json_body(self) -> dict[str, Any]:
        media_type, _ = multipart.header_params(self.header("Content-Type"))
        if media_type != "application/json":
            raise ApiError(errors.INVALID_PARAMETERS, "Content-Type must be application/json.")
        if self.parsed is not None and self.parsed[0]:
            data = self.parsed[1]
        else:
            try:
                data = json.loads(self.body)
            except (ValueError, UnicodeDecodeError) as exc:
                raise ApiError(
                    errors.INVALID_PARAMETERS, f"Request body is not valid JSON: {exc}"
                ) from exc
        if not isinstance(data, dict):
            raise ApiError(errors.INVALID_PARAMETERS, "Request body must be a JSON object.")
        return data

    def form(self) -> list[multipart.Part]:
        try:
            return multipart.parse(self.body, self.header("Content-Type"))
        except multipart.MultipartError as exc:
            raise ApiError(errors.INVALID_PARAMETERS, f"{exc}.") from exc

    # --- advertisers ---------------------------------------------------------------------------

    def check_advertiser(self, advertiser_id: str) -> str:
        """40001 unless this token manages the advertiser (unknown advertisers included)."""
        if advertiser_id not in self.token_advertisers:
            raise ApiError(
                errors.NO_PERMISSION,
                f"You don't have permission to operate advertiser {advertiser_id}.",
            )
        return advertiser_id


def id_value(value: Any, name: str) -> str:
    """An id as a numeric string or an integer (docs/tiktok-api.md §1: ids are strings,
    int64-convertible)."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise invalid(name, "Not a valid ID (expected a numeric string).")
    text = str(value)
    if not text.isdigit():
        raise invalid(name, "Not a valid ID (expected a numeric string).")
    return text


def required_id(body: Mapping[str, Any], name: str) -> str:
    if body.get(name) in (None, ""):
        raise missing(name)
    return id_value(body[name], name)


def required_str(body: Mapping[str, Any], name: str) -> str:
    value = body.get(name)
    if value is None:
        raise missing(name)
    if not isinstance(value, str):
        raise invalid(name, "Not a valid string.")
    if not value.strip():
        raise invalid(name, "Must not be empty.")
    return value


def optional_int(
    body: Mapping[str, Any],
    name: str,
    low: int,
    high: int,
    default: int | None,
    from_query: bool = False,
) -> int | None:
    value = body.get(name)
    if value is None:
        return default
    if from_query and isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value)  # query strings carry numbers as text; JSON bodies must not
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid(name, "Not a valid integer.")
    if not low <= value <= high:
        raise invalid(name, f"Must be between {low} and {high}.")
    return value


def enum_value(body: Mapping[str, Any], name: str, allowed: list[str], default: str) -> str:
    value = body.get(name)
    if value is None:
        return default
    if value not in allowed:
        raise invalid(name, f"Must be one of: {', '.join(allowed)}.")
    return str(value)


def name_value(value: Any, name: str, max_length: int) -> str:
    if not isinstance(value, str):
        raise invalid(name, "Not a valid string.")
    if not value.strip():
        raise invalid(name, "Must not be empty.")
    if len(value) > max_length:
        raise invalid(name, f"Length must be between 1 and {max_length} characters.")
    return value


def id_list(value: Any, name: str, max_items: int) -> list[str]:
    """A JSON list of 1..max_items ids, de-duplicated in order."""
    if not isinstance(value, list):
        raise invalid(name, "Not a valid list.")
    if not 1 <= len(value) <= max_items:
        raise invalid(name, f"Length must be between 1 and {max_items}.")
    return list(dict.fromkeys(id_value(item, f"{name}[{i}]") for i, item in enumerate(value)))


def query_id_list(request: ApiRequest, name: str, max_items: int) -> list[str] | None:
    """Array query param in either encoding (docs/tiktok-api.md §1, §8 question 9).

    Segment and bububa send one JSON-array string (`ids=["1","2"]`); the generated SDK repeats
    the parameter (`ids=1&ids=2`). TikTok's behaviour is unknown, so both are accepted.
    """
    values = request.query.get(name)
    if not values:
        return None
    if len(values) == 1 and values[0].lstrip().startswith("["):
        try:
            parsed = json.loads(values[0])
        except ValueError as exc:
            raise invalid(name, "Not a valid JSON array.") from exc
        return id_list(parsed, name, max_items)
    return id_list(values, name, max_items)
