"""The documented normalisation rules, written again in plain Python.

An independent second implementation of the README's rules, so tests can
check that the SQL in macros/normalise/ hashes exactly what the rules say.
Phones are checked against libphonenumber's E.164 instead of a copy of the
SQL rule (tests/test_phone_parity.py compares them value by value).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

import phonenumbers

# ASCII whitespace, every Unicode space separator (Zs), the zero-width space and U+FEFF;
# other non-ASCII characters (U+2028, homoglyphs, ...) make a value invalid instead.
UNICODE_SPACES = (
    "\u00a0\u1680" + "".join(map(chr, range(0x2000, 0x200C))) + "\u202f\u205f\u3000\ufeff"
)
_WHITESPACE = re.compile(f"[ \t\n\v\f\r{UNICODE_SPACES}]")
_EMAIL = re.compile(
    r"[a-z0-9][a-z0-9_%+'-]*(\.[a-z0-9_%+'-]+)*"
    r"@[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*"
    r"\.([a-z]{2,63}|xn--[a-z0-9-]{1,59})"
)
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_PRINTABLE_ASCII = re.compile(r"[!-~]*")
_EMPTY_HASHES = {hashlib.sha256(b"").hexdigest(), hashlib.md5(b"").hexdigest()}
ZERO_MAID = "00000000-0000-0000-0000-000000000000"
# the SHA-256 and MD5 of the all-zero id, hyphenated and not
ZEROED_MAID_HASHES = {
    h(spelling.encode()).hexdigest()
    for spelling in (ZERO_MAID, ZERO_MAID.replace("-", ""))
    for h in (hashlib.sha256, hashlib.md5)
}

MAID_HASHED_COLUMNS = {"idfa_sha256", "gaid_sha256", "idfa_md5", "gaid_md5"}
HASHED_COLUMNS = {
    "email_sha256": ("EMAIL_SHA256", 64),
    "phone_sha256": ("PHONE_SHA256", 64),
    "idfa_sha256": ("IDFA_SHA256", 64),
    "gaid_sha256": ("GAID_SHA256", 64),
    "idfa_md5": ("IDFA_MD5", 32),
    "gaid_md5": ("GAID_MD5", 32),
}


@dataclass(frozen=True)
class Outcome:
    """One input value: (id_type, id_hash) when valid, else a reason code."""

    id_type: str | None
    id_hash: str | None
    reason_code: str | None


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _hex(value: str, length: int) -> bool:
    return len(value) == length and re.fullmatch("[0-9a-f]*", value) is not None


def _hashed(cleaned: str, id_type: str, length: int, *, is_maid: bool = False) -> Outcome:
    if re.fullmatch("[0-9a-f]*", cleaned) is None:
        return Outcome(None, None, "hash_not_hex")
    if len(cleaned) != length:
        return Outcome(None, None, "hash_wrong_length")
    if cleaned in _EMPTY_HASHES:
        return Outcome(None, None, "hash_of_empty_string")
    if is_maid and cleaned in ZEROED_MAID_HASHES:
        return Outcome(None, None, "maid_zeroed")
    return Outcome(id_type, cleaned, None)


def normalise(
    column: str,
    value: object,
    *,
    country: object = None,
    default_country: str | None = None,
    strip_plus_and_dots: bool = False,
) -> Outcome | None:
    """The outcome for one value of an identifier column; None when empty."""
    if value is None:
        return None
    raw = str(value)
    without_ws = _WHITESPACE.sub("", raw)
    cleaned = without_ws.lower()
    if cleaned == "":
        return None
    if column in HASHED_COLUMNS:
        return _hashed(cleaned, *HASHED_COLUMNS[column], is_maid=column in MAID_HASHED_COLUMNS)
    if column == "email":
        if _hex(cleaned, 64):
            return _hashed(cleaned, "EMAIL_SHA256", 64)
        if _PRINTABLE_ASCII.fullmatch(without_ws) is None:
            return Outcome(None, None, "email_non_ascii")
        if _hex(cleaned, 32):
            return Outcome(None, None, "email_md5_not_supported")
        if len(cleaned) > 254:
            return Outcome(None, None, "email_too_long")
        if _EMAIL.fullmatch(cleaned) is None:
            return Outcome(None, None, "email_invalid_format")
        if strip_plus_and_dots:
            local, domain = cleaned.split("@")
            cleaned = local.split("+")[0].replace(".", "") + "@" + domain
        return Outcome("EMAIL_SHA256", sha256(cleaned), None)
    if column in ("idfa", "gaid"):
        # raw ids only: 64 hex is an id's SHA-256 (no UUID has 64 digits), 32 hex a UUID
        # without hyphens; both end as *_SHA256, never as an MD5 of the raw id itself
        id_type = f"{column.upper()}_SHA256"
        if _hex(cleaned, 64):
            return _hashed(cleaned, id_type, 64, is_maid=True)
        if _hex(cleaned, 32):
            if cleaned in _EMPTY_HASHES:
                return Outcome(None, None, "hash_of_empty_string")
            if cleaned in ZEROED_MAID_HASHES:
                return Outcome(None, None, "maid_zeroed")
            cleaned = "-".join(
                (cleaned[:8], cleaned[8:12], cleaned[12:16], cleaned[16:20], cleaned[20:])
            )
        if cleaned == ZERO_MAID:
            return Outcome(None, None, "maid_zeroed")
        if _UUID.fullmatch(cleaned) is None:
            return Outcome(None, None, "maid_invalid_format")
        return Outcome(id_type, sha256(cleaned), None)
    if column == "phone":
        if _hex(cleaned, 64):
            return _hashed(cleaned, "PHONE_SHA256", 64)
        digits = e164_digits(raw, country, default_country)
        if digits is None:
            return Outcome(None, None, "phone_rejected_by_libphonenumber")
        return Outcome("PHONE_SHA256", sha256(digits), None)
    raise ValueError(f"not an identifier column: {column}")


def e164_digits(raw: str, country: object, default_country: str | None) -> str | None:
    """libphonenumber's E.164 without '+', or None when it cannot tell."""
    region = str(country).strip().upper() if country not in (None, "") else default_country
    try:
        # libphonenumber stops reading at a tab; the rule deletes all ASCII whitespace first.
        parsed = phonenumbers.parse(_WHITESPACE.sub(" ", raw), region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164).lstrip("+")
