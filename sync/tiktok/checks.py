"""Local checks before sending: bad input never travels (README "Guarantees").

A refused call raises `RequestError` without any HTTP request, so a malformed hash, an empty or
oversized batch or an out-of-range option never reaches TikTok (nor its rate budget).
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from sync.tiktok.errors import RequestError
from sync.tiktok.models import CALCULATE_TYPES, MAPPING_ACTIONS, SEGMENT_ID_SCHEMA, hash_length

MAX_FILE_PATHS = 500  # create/update `file_paths` (docs/tiktok-api.md §3.3)
MAX_FILE_BYTES = 50 * 1024 * 1024  # project default, docs/tiktok-api.md §0

_HEX = {32: "^[0-9a-f]{32}$", 64: "^[0-9a-f]{64}$"}


def check_mapping(
    action: str, id_type: str, hashes: Sequence[str] | pl.Series, limit: int, endpoint: str
) -> tuple[str, pl.Series]:
    """Check one /segment/mapping/ batch; return the segment API's `id_schema` for `id_type`
    and the batch as a String series (checked: every value a hash of the type's length)."""
    if action not in MAPPING_ACTIONS:
        raise refused(endpoint, f"action must be 'add' or 'delete', got {action!r}")
    schema = SEGMENT_ID_SCHEMA.get(id_type)
    if schema is None:
        raise refused(
            endpoint, f"id type must be one of {sorted(SEGMENT_ID_SCHEMA)}, got {id_type!r}"
        )
    if len(hashes) == 0:
        raise refused(endpoint, "the batch is empty")
    if len(hashes) > limit:
        raise refused(endpoint, f"the batch has {len(hashes)} ids, over the limit of {limit}")
    return schema, check_hashes(hashes, id_type, endpoint)


def check_upload(content: bytes | bytearray | memoryview, file_name: str, endpoint: str) -> str:
    """Check a customer file before upload; return its content type."""
    suffix = file_name.rsplit(".", 1)[-1] if "." in file_name else ""
    if suffix not in ("csv", "txt"):  # TikTok accepts exactly .csv or .txt (§3.1)
        raise refused(endpoint, f"file name must end in .csv or .txt, got {file_name!r}")
    size = memoryview(content).nbytes
    if not size:  # TikTok would answer 40906 "file empty"
        raise refused(endpoint, "the file is empty")
    if size > MAX_FILE_BYTES:
        raise refused(endpoint, f"the file has {size} bytes, over {MAX_FILE_BYTES}")
    return "text/csv" if suffix == "csv" else "text/plain"


def check_hashes(hashes: Sequence[str] | pl.Series, id_type: str, endpoint: str) -> pl.Series:
    """The batch as a String series, every value lowercase hex of the type's hash length.

    One vectorised regex over the whole batch (the sync passes the Polars series it read from
    the warehouse); a plain sequence is first checked to hold only strings, so nothing is
    turned into one by the conversion.
    """
    length = hash_length(id_type)
    if not isinstance(hashes, pl.Series):
        for index, value in enumerate(hashes):
            if not isinstance(value, str):
                raise _not_a_hash(endpoint, index, length, id_type)
        hashes = pl.Series("id_hash", list(hashes), dtype=pl.String)
    elif hashes.dtype != pl.String:
        raise refused(endpoint, f"ids must be strings, got a series of {hashes.dtype}")
    # Rust's regex: `$` is the end of the value, never before a trailing newline.
    bad = ~hashes.str.contains(_HEX[length]).fill_null(False)
    if bad.any():
        raise _not_a_hash(endpoint, int(bad.arg_max() or 0), length, id_type)
    return hashes


def _not_a_hash(endpoint: str, index: int, length: int, id_type: str) -> RequestError:
    # The value itself stays out of the message: it is a hashed personal identifier.
    return refused(endpoint, f"id #{index} is not {length} lowercase hex characters ({id_type})")


def check_name(name: str, limit: int, endpoint: str) -> None:
    if not name or not name.strip():
        raise refused(endpoint, "the audience name is empty")
    if len(name) > limit:
        raise refused(endpoint, f"the audience name has {len(name)} characters, over {limit}")


def check_calculate_type(calculate_type: str, endpoint: str) -> None:
    if calculate_type not in CALCULATE_TYPES:
        raise refused(
            endpoint,
            f"calculate_type must be one of {sorted(CALCULATE_TYPES)}, got {calculate_type!r}",
        )


def check_file_paths(file_paths: Sequence[str], endpoint: str) -> None:
    if isinstance(file_paths, str):  # a bare string is a sequence of characters
        raise refused(endpoint, "file_paths must be a list of file paths, not one string")
    if not 1 <= len(file_paths) <= MAX_FILE_PATHS:
        raise refused(
            endpoint, f"file_paths must hold 1 to {MAX_FILE_PATHS} paths, got {len(file_paths)}"
        )
    if not all(isinstance(p, str) and p for p in file_paths):
        raise refused(endpoint, "file_paths holds an empty path")


def refused(endpoint: str, why: str) -> RequestError:
    return RequestError(
        f"refused before sending: {why}",
        endpoint=endpoint,
        next_step="nothing was sent; fix the input",
    )
