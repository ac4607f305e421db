"""Segment API ("Streaming API"): Partner audiences and their members (docs/tiktok-api.md §4)."""

from __future__ import annotations

from typing import Any

from sync.emulator import errors
from sync.emulator.api_custom_audience import MAX_AUDIENCE_IDS
from sync.emulator.errors import ApiError
from sync.emulator.identifiers import ID_SCHEMA, describe_bad_hash, is_hash
from sync.emulator.params import (
    ApiRequest,
    enum_value,
    id_list,
    id_value,
    invalid,
    missing,
    required_id,
    required_str,
)
from sync.emulator.state import MappingEntry, State

SEGMENT_NAME_MAX = 70  # docs/tiktok-api.md §4.1: longer names are cut to 67 characters plus "..."
SEGMENT_NAME_KEEP = 67
# docs/tiktok-api.md §4.1 cites S4 and S5; both say the cut name ends in three ASCII dots ("..."),
# 70 in all.
SEGMENT_NAME_ELLIPSIS = "..."


def audience(state: State, request: ApiRequest) -> dict[str, Any]:
    body = request.json_body()
    advertiser_id = request.check_advertiser(required_id(body, "advertiser_id"))
    action = enum_value(body, "action", ["create", "delete"], "create")  # docs/tiktok-api.md §4.1
    if action == "delete":
        audience_id = required_id(body, "delete_audience_id")
        state.delete_partner_audience(advertiser_id, audience_id)
        return {"audience_id": audience_id}
    name = required_str(body, "custom_audience_name")
    if len(name) > SEGMENT_NAME_MAX:  # docs/tiktok-api.md §4.1: truncated, not an error
        name = name[:SEGMENT_NAME_KEEP] + SEGMENT_NAME_ELLIPSIS
    return {"audience_id": state.create_partner_audience(advertiser_id, name)}


def mapping(state: State, request: ApiRequest) -> dict[str, Any]:
    body = request.json_body()
    raw_advertisers = body.get("advertiser_ids")
    if raw_advertisers is None:
        raise missing("advertiser_ids")
    advertiser_ids = id_list(raw_advertisers, "advertiser_ids", MAX_AUDIENCE_IDS)
    for advertiser_id in advertiser_ids:
        request.check_advertiser(advertiser_id)
    action = enum_value(body, "action", ["add", "delete"], "add")  # docs/tiktok-api.md §4.2
    schema = _id_schema(body.get("id_schema"))
    rows = body.get("batch_data")
    if rows is None:
        raise missing("batch_data")
    if not isinstance(rows, list):
        raise invalid("batch_data", "Not a valid list.")
    if not rows:
        raise invalid("batch_data", "Must not be empty.")
    limit = state.config.mapping_batch_limit
    if len(rows) > limit:  # docs/tiktok-api.md §0: 10,000 per request, counted in rows (users)
        raise ApiError(
            errors.TOO_MANY_IDS,
            f"batch_data: {len(rows):,} rows exceed the limit of {limit:,} per request.",
        )
    entries: list[MappingEntry] = []
    # Every row of a batch usually names the same audiences: their ids are checked once.
    checked: dict[tuple[Any, ...], tuple[str, ...]] = {}
    for i, row in enumerate(rows):
        if not isinstance(row, list):
            raise invalid(f"batch_data[{i}]", "Not a valid list.")
        # docs/tiktok-api.md §4.2 / §8 question 2: entries line up with id_schema by position; `{}`
        # fills a gap. A longer row cannot be aligned, so it is rejected.
        if len(row) > len(schema):
            raise invalid(
                f"batch_data[{i}]",
                f"Has {len(row)} entries but id_schema has {len(schema)}.",
            )
        for j, item in enumerate(row):
            entry = _mapping_entry(item, i, j, schema[j], checked)
            if entry is not None:
                entries.append(entry)
    state.apply_mapping(advertiser_ids, action, entries)
    return {}


def _id_schema(value: Any) -> list[str]:
    if value is None:
        raise missing("id_schema")
    if not isinstance(value, list) or not value:
        raise invalid("id_schema", "Must be a non-empty list.")
    schema: list[str] = []
    for i, item in enumerate(value):
        # docs/tiktok-api.md §4.2: any order; lowercase enum values accepted; duplicates are not.
        upper = item.upper() if isinstance(item, str) else None
        if upper not in ID_SCHEMA:
            raise invalid(f"id_schema[{i}]", f"Must be one of: {', '.join(ID_SCHEMA)}.")
        if upper in schema:
            raise invalid(f"id_schema[{i}]", f"Duplicate ID type {upper}.")
        schema.append(upper)
    return schema


def _mapping_entry(
    item: Any, row: int, column: int, id_type: str, checked: dict[tuple[Any, ...], tuple[str, ...]]
) -> MappingEntry | None:
    if not isinstance(item, dict):
        raise invalid(_where(row, column), "Not a valid object.")
    if not item:
        return None  # `{}` placeholder: this row has no identifier of this type
    value = item.get("id")
    if value is None:
        raise missing(f"{_where(row, column)}.id")
    length = ID_SCHEMA[id_type]
    if not is_hash(value, length):
        message = f"{describe_bad_hash(value, length)} for {id_type}."
        raise invalid(f"{_where(row, column)}.id", message)
    raw_ids = item.get("audience_ids")
    if raw_ids is None:
        raise missing(f"{_where(row, column)}.audience_ids")
    if not isinstance(raw_ids, list) or not raw_ids:
        raise invalid(f"{_where(row, column)}.audience_ids", "Must be a non-empty list.")
    # Only plain ids are looked up: a list or object is not hashable, and True == 1.
    key = tuple(raw_ids) if all(type(a) in (str, int) for a in raw_ids) else None
    audience_ids = checked.get(key) if key is not None else None
    if audience_ids is None:
        where = _where(row, column)
        audience_ids = tuple(
            dict.fromkeys(id_value(a, f"{where}.audience_ids[{k}]") for k, a in enumerate(raw_ids))
        )
        if key is not None:
            checked[key] = audience_ids
    return MappingEntry(row, column, id_type, value, audience_ids)


def _where(row: int, column: int) -> str:
    return f"batch_data[{row}][{column}]"
