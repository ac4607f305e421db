"""The script a user would otherwise write: pandas string ops + hashlib, then a diff.

    python bench/baseline_pandas.py DATA_DIR OUT_DIR [--acknowledged MEMBERS.parquet]

Reads the bench Parquet files (bench/generate.py), applies the project's documented rules
(README "Normalisation rules") with vectorised pandas string methods and `hashlib.sha256` per
value, keeps the distinct members per audience and diffs them against what was acknowledged
before (a Parquet of audience_key, id_type, id_hash; none = everything is an add). Writes
OUT_DIR/members.parquet and OUT_DIR/diff.parquet and prints a JSON line of counts and phase
timings. The bench checks its members against the warehouse's, hash for hash.

Written the way such scripts are written (one frame per source, `.str` methods, `.map` with a
lambda for the hash), but careful: ASCII whitespace and the Unicode spaces deleted (pandas'
`\\s` would also delete line separators, which the rules reject), non-ASCII emails rejected
before lower-casing, pre-hashed values passed through, advertising ids written without hyphens
hyphenated before hashing, the all-zero id and its hashes dropped. What it simplifies: phones.
It drops the extension and reads the vanity letters bench/generate.py writes, keeps digits,
treats `+` or a leading `00` as international, otherwise drops a trunk `0` and prepends the
calling code of the row's country from a hard-coded table of the markets in the data, and
accepts 8 to 15 digits that libphonenumber calls a valid number. That is right for the shapes
bench/generate.py writes and wrong for many real ones (`+44 (0)20...`, national numbers that
start with their calling code, `011` or `0011` international prefixes), which the warehouse rule
handles; see bench/README.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from pathlib import Path

# pandas ships no type information (pandas-stubs is separate and lags pandas 3)
import pandas as pd  # type: ignore[import-untyped]
import phonenumbers

# the six ASCII whitespace characters, the Unicode space separators (Zs), U+200B and U+FEFF,
# deleted anywhere
UNICODE_SPACES = (
    "\u00a0\u1680" + "".join(map(chr, range(0x2000, 0x200C))) + "\u202f\u205f\u3000\ufeff"
)
WHITESPACE = f"[ \t\n\v\f\r{UNICODE_SPACES}]"
HEX64 = "[0-9a-f]{64}"
HEX32 = "[0-9a-f]{32}"
EMAIL = (
    r"[a-z0-9][a-z0-9_%+'-]*(\.[a-z0-9_%+'-]+)*"
    r"@[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*"
    r"\.([a-z]{2,63}|xn--[a-z0-9-]{1,59})"
)
UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
PHONE_CHARACTERS = r"\(?\+[-0-9()./]*|[-0-9()./]*"
EXTENSION = r"ext\.?[0-9]{1,20}$"  # the extension the generator writes, whitespace deleted
KEYPAD = str.maketrans(
    {letter: str(digit) for digit, letters in enumerate(
        ["", "", "ABC", "DEF", "GHI", "JKL", "MNO", "PQRS", "TUV", "WXYZ"]
    ) for letter in letters + letters.lower()}
)  # fmt: skip
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
EMPTY_MD5 = hashlib.md5(b"").hexdigest()
ZERO_UUID = "00000000-0000-0000-0000-000000000000"
# the SHA-256 and MD5 of the all-zero id, hyphenated and not: never members
ZEROED_HASHES = {
    h(spelling.encode()).hexdigest()
    for spelling in (ZERO_UUID, ZERO_UUID.replace("-", ""))
    for h in (hashlib.sha256, hashlib.md5)
}
# country -> (calling code, national trunk prefix) for the markets in the data
COUNTRIES = {
    "US": ("1", ""),
    "GB": ("44", "0"),
    "DE": ("49", "0"),
    "FR": ("33", "0"),
    "IN": ("91", "0"),
    "BR": ("55", ""),
    "JP": ("81", "0"),
    "ES": ("34", ""),
    "MX": ("52", ""),
    "AU": ("61", "0"),
    "IT": ("39", ""),
}
AUDIENCES = {  # audience -> (file, mode)
    "bench_contacts": ("contacts", "mirror"),
    "bench_devices": ("devices", "add_only"),
    "bench_hashed_emails": ("hashed_emails", "mirror"),
}


def sha256(values: pd.Series) -> pd.Series:
    return values.map(lambda v: hashlib.sha256(v.encode("utf-8")).hexdigest())


def remove_whitespace(values: pd.Series) -> pd.Series:
    return values.str.replace(WHITESPACE, "", regex=True)


def members(id_type: str | pd.Series, hashes: pd.Series) -> pd.DataFrame:
    return pd.DataFrame({"id_type": id_type, "id_hash": hashes.astype("str")})


def emails(raw: pd.Series) -> pd.DataFrame:
    compact = remove_whitespace(raw.dropna())
    cleaned = compact.str.lower()
    keep = cleaned != ""
    compact, cleaned = compact[keep], cleaned[keep]
    is_sha256 = cleaned.str.fullmatch(HEX64)
    valid_hashed = cleaned[is_sha256 & (cleaned != EMPTY_SHA256)]
    valid_raw = (
        ~is_sha256
        & compact.str.fullmatch("[!-~]*")  # non-ASCII: checked before lower-casing
        & ~cleaned.str.fullmatch(HEX32)
        & (cleaned.str.len() <= 254)
        & cleaned.str.fullmatch(EMAIL)
    )
    hashes = pd.concat([valid_hashed, sha256(cleaned[valid_raw])])
    return members("EMAIL_SHA256", hashes)


def phones(raw: pd.Series, country: pd.Series) -> pd.DataFrame:
    present = raw.notna()
    compact = remove_whitespace(raw[present])
    country = remove_whitespace(country[present].fillna("")).str.upper()
    keep = compact != ""
    compact, country = compact[keep], country[keep]
    lowered = compact.str.lower()
    is_sha256 = lowered.str.fullmatch(HEX64)
    valid_hashed = lowered[is_sha256 & (lowered != EMPTY_SHA256)]

    compact, country = compact[~is_sha256], country[~is_sha256]
    # an extension dropped; three letters or more after three digits are keypad digits
    compact = compact.str.replace(EXTENSION, "", regex=True)
    vanity = compact.str.fullmatch(r"\(?\+?([-().]*[0-9]){3}[-0-9().A-Za-z]*") & (
        compact.str.count("[A-Za-z]") >= 3
    )
    compact = compact.where(~vanity, compact.str.translate(KEYPAD))
    allowed = compact.str.fullmatch(PHONE_CHARACTERS)
    digits = compact.str.replace("[^0-9]", "", regex=True)
    has_plus = compact.str.startswith("+") | compact.str.startswith("(+")
    has_00 = ~has_plus & digits.str.startswith("00")
    calling_code = country.map({c: v[0] for c, v in COUNTRIES.items()})
    trunk_zero = country.map({c: v[1] == "0" for c, v in COUNTRIES.items()}).fillna(False)
    national = digits.where(~(trunk_zero & digits.str.startswith("0")), digits.str[1:])
    e164 = (calling_code + national).where(~(has_plus | has_00), digits)
    e164 = e164.where(~has_00, digits.str[2:])
    length = e164.str.len()
    valid = allowed & (digits != "") & e164.notna() & (length >= 8) & (length <= 15)
    # libphonenumber's verdict on the number (as a user's script would ask it)
    valid[valid] = e164[valid].map(is_valid_number).astype(bool)
    hashes = pd.concat([valid_hashed, sha256(e164[valid].astype("str"))])
    return members("PHONE_SHA256", hashes)


def is_valid_number(e164_digits: str) -> bool:
    try:
        return bool(phonenumbers.is_valid_number(phonenumbers.parse("+" + e164_digits)))
    except phonenumbers.NumberParseException:
        return False


def maids(raw: pd.Series, prefix: str) -> pd.DataFrame:
    cleaned = remove_whitespace(raw.dropna()).str.lower()
    cleaned = cleaned[cleaned != ""]
    cleaned = cleaned[cleaned != EMPTY_MD5]  # the MD5 of nothing is no id either
    # a raw id column holds raw ids: 32 hex is a UUID written without hyphens, never an MD5
    bare = cleaned.str.fullmatch(HEX32)
    cleaned = cleaned.where(
        ~bare,
        cleaned.str.replace(r"^(.{8})(.{4})(.{4})(.{4})(.{12})$", r"\1-\2-\3-\4-\5", regex=True),
    )
    is_sha256 = cleaned.str.fullmatch(HEX64) & ~cleaned.isin(ZEROED_HASHES | {EMPTY_SHA256})
    is_uuid = cleaned.str.fullmatch(UUID) & (cleaned != ZERO_UUID)
    return pd.concat(
        [
            members(f"{prefix}_SHA256", cleaned[is_sha256]),
            members(f"{prefix}_SHA256", sha256(cleaned[is_uuid])),
        ]
    )


def prehashed(raw: pd.Series, id_type: str) -> pd.DataFrame:
    cleaned = remove_whitespace(raw.dropna()).str.lower()
    return members(id_type, cleaned[cleaned.str.fullmatch(HEX64) & (cleaned != EMPTY_SHA256)])


def audience_members(data_dir: Path) -> pd.DataFrame:
    contacts = pd.read_parquet(data_dir / "contacts.parquet")
    parts = {
        "bench_contacts": [
            emails(contacts["email"]),
            phones(contacts["phone"], contacts["country_code"]),
        ]
    }
    del contacts
    devices = pd.read_parquet(data_dir / "devices.parquet")
    parts["bench_devices"] = [maids(devices["idfa"], "IDFA"), maids(devices["gaid"], "GAID")]
    del devices
    hashed = pd.read_parquet(data_dir / "hashed_emails.parquet")
    parts["bench_hashed_emails"] = [prehashed(hashed["email_sha256"], "EMAIL_SHA256")]
    del hashed
    frames = []
    for audience, frames_of_audience in parts.items():
        frame = pd.concat(frames_of_audience).drop_duplicates()
        frame.insert(0, "audience_key", audience)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def diff(desired: pd.DataFrame, acknowledged: pd.DataFrame) -> pd.DataFrame:
    keys = ["audience_key", "id_type", "id_hash"]
    merged = desired.merge(acknowledged[keys], on=keys, how="outer", indicator=True)
    adds = merged[merged["_merge"] == "left_only"][keys].assign(action="add")
    removes = merged[merged["_merge"] == "right_only"][keys].assign(action="remove")
    mirror = [a for a, (_, mode) in AUDIENCES.items() if mode == "mirror"]
    removes = removes[removes["audience_key"].isin(mirror)]
    return pd.concat([adds, removes], ignore_index=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--acknowledged", type=Path)
    args = parser.parse_args()
    timings: dict[str, float] = {}
    started = time.perf_counter()
    desired = audience_members(args.data_dir)
    timings["normalise_hash"] = time.perf_counter() - started
    if args.acknowledged:
        acknowledged = pd.read_parquet(args.acknowledged)
    else:
        acknowledged = pd.DataFrame({"audience_key": [], "id_type": [], "id_hash": []}, dtype="str")
    changes = diff(desired, acknowledged)
    timings["diff"] = time.perf_counter() - started - timings["normalise_hash"]
    args.out_dir.mkdir(parents=True, exist_ok=True)
    desired.to_parquet(args.out_dir / "members.parquet", index=False)
    changes.to_parquet(args.out_dir / "diff.parquet", index=False)
    timings["total"] = time.perf_counter() - started
    counts = changes["action"].value_counts().to_dict()
    print(
        json.dumps(
            {
                "members": len(desired),
                "adds": int(counts.get("add", 0)),
                "removes": int(counts.get("remove", 0)),
                "seconds": timings,
            }
        )
    )


if __name__ == "__main__":
    main()
