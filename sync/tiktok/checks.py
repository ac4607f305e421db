"""Local checks before sending: bad input never travels (DESIGN "Semantics" 6).

A refused call raises `RequestError` without any HTTP request, so a malformed hash, an empty or
oversized batch or an out-of-range option never reaches TikTok (nor its rate budget).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from sync.tiktok.errors import RequestError
from sync.tiktok.models import CALCULATE_TYPES, hash_length

MAX_FILE_PATHS = 500  # create/update `file_paths` (reference §3.3)

_HEX = {32: re.compile(r"[0-9a-f]{32}"), 64: re.compile(r"[0-9a-f]{64}")}


def check_hashes(hashes: Sequence[str], id_type: str, endpoint: str) -> None:
    length = hash_length(id_type)
    pattern = _HEX[length]
    for index, value in enumerate(hashes):
        if not isinstance(value, str) or not pattern.fullmatch(value):
            # The value itself stays out of the message: it is a hashed personal identifier.
            raise refused(
                endpoint, f"id #{index} is not {length} lowercase hex characters ({id_type})"
            )


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
