"""Identifier types TikTok accepts, and what a well-formed hash of each looks like.

Customer-file `calculate_type` values: docs/tiktok-api.md §3.2. Segment-mapping `id_schema` values:
docs/tiktok-api.md §4.2. Hashes are lowercase hex (docs/tiktok-api.md §6: SHA-256 = 64, MD5 = 32
characters). The emulator is strict about case on purpose: the project always sends lowercase
(docs/tiktok-api.md §0), and a client that passes a strict double cannot be tripped by a lenient
real API.
"""

from __future__ import annotations

import re

SHA256_LENGTH = 64
MD5_LENGTH = 32

# calculate_type -> hash length. MULTIPLE_TYPES (several columns per file) and FIRST_NORMAL (raw
# MAIDs, deprecated) exist at TikTok but not here: the project uploads one hashed identifier type
# per file (docs/tiktok-api.md §0).
CALCULATE_TYPES: dict[str, int] = {
    "EMAIL_SHA256": SHA256_LENGTH,
    "PHONE_SHA256": SHA256_LENGTH,
    "IDFA_SHA256": SHA256_LENGTH,
    "IDFA_MD5": MD5_LENGTH,
    "GAID_SHA256": SHA256_LENGTH,
    "GAID_MD5": MD5_LENGTH,
    "FIRST_SHA256": SHA256_LENGTH,
    "FIRST_MD5": MD5_LENGTH,
    "MAID_SHA256": SHA256_LENGTH,
    "MAID_MD5": MD5_LENGTH,
}
# docs/tiktok-api.md §3.2: MAID_* are upload-only aliases with the same internal numbers as FIRST_*.
CALCULATE_TYPE_ALIASES = {"MAID_SHA256": "FIRST_SHA256", "MAID_MD5": "FIRST_MD5"}
# docs/tiktok-api.md §3.2/§3.3: values valid on /create/ (no MAID_* aliases there). MULTIPLE_TYPES
# is in TikTok's enum but can never match an emulator file, so /create/ rejects it with a message
# saying so.
CREATE_CALCULATE_TYPES = frozenset(set(CALCULATE_TYPES) - set(CALCULATE_TYPE_ALIASES))
NOT_EMULATED_CALCULATE_TYPES = frozenset({"MULTIPLE_TYPES", "FIRST_NORMAL"})

# docs/tiktok-api.md §4.2: id_schema enum of /segment/mapping/ (no GAID_*, no MULTIPLE_TYPES;
# lowercase accepted).
ID_SCHEMA: dict[str, int] = {
    "EMAIL_SHA256": SHA256_LENGTH,
    "PHONE_SHA256": SHA256_LENGTH,
    "IDFA_SHA256": SHA256_LENGTH,
    "IDFA_MD5": MD5_LENGTH,
    "AAID_SHA256": SHA256_LENGTH,
    "AAID_MD5": MD5_LENGTH,
}

# docs/tiktok-api.md §3.5: a Partner audience reports calculate_type MULTIPLE_TYPES (Segment's
# fixture).
PARTNER_CALCULATE_TYPE = "MULTIPLE_TYPES"

_HEX = {length: re.compile(f"[0-9a-f]{{{length}}}") for length in (SHA256_LENGTH, MD5_LENGTH)}


def canonical_calculate_type(calculate_type: str) -> str:
    """FIRST_* for MAID_*; files and audiences are compared on this."""
    return CALCULATE_TYPE_ALIASES.get(calculate_type, calculate_type)


def is_hash(value: object, length: int) -> bool:
    """True for lowercase hex of exactly `length` characters."""
    return isinstance(value, str) and _HEX[length].fullmatch(value) is not None


def describe_bad_hash(value: object, length: int) -> str:
    """Why `value` is not a hash of `length`, for error messages (never echoes the value)."""
    kind = "SHA-256" if length == SHA256_LENGTH else "MD5"
    if not isinstance(value, str):
        return f"must be a string ({kind} hex)"
    if len(value) != length:
        return f"must be {length} hex characters ({kind}), got {len(value)}"
    if value != value.lower():
        return "must be lowercase hex"
    return "must contain only hex characters 0-9a-f"
