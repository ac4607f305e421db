"""Write integration_tests/seeds/test_corpora/phone_corpus.csv: messy phones for the parity test.

The corpus feeds integration_tests/models/unit_test_wrappers/normalise_phone.sql, and
tests/test_phone_parity.py compares every row's SQL result with
libphonenumber (the `phonenumbers` package, Apache-2.0, dev dependency only).
Numbers come from libphonenumber's own example numbers (fixed line and mobile)
of every region it has, written the ways people write them and then messed
up. Deterministic: a fixed seed, regions in sorted order, no timestamps.

    .venv/bin/python scripts/generate_phone_corpus.py

Columns: case_id, raw_value, country_code, raw_value_escaped, variant (
fixed: TikTok's examples and named cases; e164, international, national:
the clean forms; messy; hostile).

Seeds round-trip most values verbatim, tabs, newlines, leading and trailing
spaces included. Checked both ways dbt-duckdb can load a seed: DuckDB's COPY
(its default) and agate's rows (`fast: false`, what the other adapters use).
What does not survive: an empty field is NULL in both; agate also turns
"null" in any case, and whitespace-only fields, into NULL, and may turn CRLF
into LF (harmless: whitespace is deleted before anything else); Postgres text
cannot hold NUL; BigQuery's load jobs refuse a quoted field with a line break
in it (allowQuotedNewlines defaults to false and dbt-bigquery does not set
it). Rows with such a value leave raw_value empty and put it in
raw_value_escaped, where "~s" is a space, "~t" a tab, "~n" a line feed, "~r" a
carriage return and "~z" nothing (it splits "null" so no loader recognises it).
The wrapper model decodes it with replace(). NUL itself is not in the corpus.
"""

from __future__ import annotations

import csv
import random
import sys
from collections.abc import Iterator
from pathlib import Path

import phonenumbers
from phonenumbers import PhoneNumberFormat as Fmt
from phonenumbers import PhoneNumberType
from phonenumbers.phonenumberutil import SUPPORTED_REGIONS, region_code_for_country_code

OUT = (
    Path(__file__).resolve().parents[1]
    / "integration_tests"
    / "seeds"
    / "test_corpora"
    / "phone_corpus.csv"
)
HEADER = ["case_id", "raw_value", "country_code", "raw_value_escaped", "variant"]
SEED = 20250601

# Fixed cases first, so tests can name them by case_id.
FIXED: list[tuple[str, str | None]] = [
    ("374-93-828222", "AM"),  # 1: TikTok's example -> 37493828222 (docs/tiktok-api.md §6.2)
    ("(657)777-0000", "US"),  # 2: TikTok's example -> 16577770000 (§6.2)
    ("37493828222", "AM"),  # 3: already includes the calling code
    ("+37493828222", None),  # 4: E.164 with +
    ("+44 (0)20 7183 8750", "GB"),  # 5: trunk 0 inside international form
    ("0044 20 7183 8750", "GB"),  # 6: 00 international prefix
    ("020 7183 8750", "GB"),  # 7: national, trunk 0
    ("+39 06 6982 0000", None),  # 8: Italy keeps its leading 0
    ("8 (912) 345-67-89", "RU"),  # 9: trunk 8
    ("1234567890", None),  # 10: no country
]

HOSTILE: list[tuple[str, str | None]] = [
    ("NULL", "GB"),
    (" null ", None),
    ("+44 20 7183 8750 ext. 123", "GB"),
    ("+44 20 7183 8750 x123", "GB"),
    ("+44 20 7183 8750#", "GB"),
    ("tel:+44-20-7183-8750", "GB"),
    ("1-800-FLOWERS", "US"),
    ("+44 20 7183 8750 \U0001f4de", "GB"),
    ("\U0001f4de", "GB"),
    ("\uff0b\uff14\uff14 \uff12\uff10 \uff17\uff11\uff18\uff13 \uff18\uff17\uff15\uff10", "GB"),
    ("\u0660\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669", "EG"),
    ("+44\u00a020\u00a07183\u00a08750", "GB"),
    ("+44\u200b20 7183 8750", "GB"),
    ("\u221244 20 7183 8750", "GB"),
    ("+44 20 7183 8750\x01", "GB"),
    ("\x1b[31m+44 20 7183 8750", "GB"),
    ("'; drop table phone_corpus; --", "GB"),
    ("=+442071838750", "GB"),
    ("++44 20 7183 8750", "GB"),
    ("+44 +20 7183 8750", "GB"),
    ("44+2071838750", "GB"),
    ("+", "GB"),
    ("()", "GB"),
    ("-", None),
    (".", "GB"),
    ("0", "GB"),
    ("00", "GB"),
    ("+0 20 7183 8750", "GB"),
    ("+800 1234 5678", None),
    ("+882 1234 5678", None),
    ("+999 1234 5678", None),
    ("+1 (555) 555-5555", None),
    ("12345678901234567890", "US"),
    ("+44 20 7183 8750 / +44 20 7183 8751", "GB"),
    ("+44 20 7183 8750, +44 20 7183 8751", "GB"),
    ("+44 20 7183 8750;", "GB"),
    ("[+44] 20 7183 8750", "GB"),
    ("{+44} 20 7183 8750", "GB"),
    ("(+44) 20 7183 8750", "GB"),
    ("+(44) 20 7183 8750", "GB"),
    ("+44 20 7183 8750", "UK"),
    ("020 7183 8750", "UK"),
    ("020 7183 8750", "G B"),
    ("020 7183 8750", "gb"),
    ("020 7183 8750", "XX"),
    ("020 7183 8750", "GBR"),
    ("+44 20 7183 8750", "ZZ"),
    ("\t+44\t20\t7183\t8750\t", None),
    ("+44\n20 7183 8750", None),
    ("+44\r\n20 7183 8750", None),
    ("+44\v20\f7183 8750", None),
    ("0" * 40, "GB"),
    ("9" * 300, "GB"),
    ("+1" + "2" * 14, None),
    ("+1" + "2" * 15, None),
    ("1e10", "US"),
    ("1.2E+10", "US"),
    ("(201)  555 - 0123", "us "),
    ("201.555.0123", " US"),
    ("201/555/0123", "US"),
]


def _needs_escape(value: str) -> bool:
    stripped = value.strip()
    return (
        stripped == ""
        or stripped.lower() == "null"
        or "\x00" in value
        or "\n" in value
        or "\r" in value
    )


def _escape(value: str) -> str:
    assert "~" not in value and "\x00" not in value, value
    out = value.replace("\t", "~t").replace("\n", "~n").replace("\r", "~r").replace(" ", "~s")
    return out.replace("null", "nu~zll").replace("NULL", "NU~zLL")


def _mess(rnd: random.Random, text: str) -> str:
    """Replace the separators of a formatted number with other punctuation people use."""
    sep = rnd.choice([" ", "  ", "-", ".", "\t", "/", " - ", ""])
    out = []
    for ch in text:
        out.append(sep if ch in " -" else ch)
    return "".join(out)


def _pad(rnd: random.Random, text: str) -> str:
    return rnd.choice(["", " ", "\t", "  "]) + text + rnd.choice(["", " ", "\t", " \n"])


def _messy_country(rnd: random.Random, region: str) -> str:
    return rnd.choice([region.lower(), f" {region}", f"{region} ", f"\t{region.lower()}"])


Case = tuple[str, str | None, str]


def variants(
    rnd: random.Random, region: str, number: phonenumbers.PhoneNumber, others: list[str]
) -> Iterator[Case]:
    e164 = phonenumbers.format_number(number, Fmt.E164)
    intl = phonenumbers.format_number(number, Fmt.INTERNATIONAL)
    national = phonenumbers.format_number(number, Fmt.NATIONAL)
    rfc = phonenumbers.format_number(number, Fmt.RFC3966)
    cc = str(number.country_code)
    nsn = phonenumbers.national_significant_number(number)
    meta = phonenumbers.PhoneMetadata.metadata_for_region(region)
    trunk = meta.national_prefix or ""
    # the basics, always
    yield e164, region, "e164"
    yield intl, None, "international"
    yield national, region, "national"
    # four of the messier forms, chosen at random but reproducibly
    messy = [
        (_mess(rnd, intl), region),
        (_pad(rnd, _mess(rnd, intl)), None),
        ("00" + intl[1:], region),
        ("00" + _mess(rnd, intl[1:]), None),
        (_pad(rnd, _mess(rnd, national)), _messy_country(rnd, region)),
        (national, None),
        (national, rnd.choice(others)),
        (rfc.removeprefix("tel:"), region),
        (rfc, region),
        (cc + " " + nsn, region),
        (cc + nsn, region),
        (f"+{cc} ({trunk}){nsn}" if trunk else f"+{cc} {nsn}", region),
        (f"+{cc} {trunk}{nsn}" if trunk else f"+{cc} 0{nsn}", None),
        (f"({national[:4]}) {national[4:]}", region),
        (national + str(rnd.randrange(10)), region),
        (national[:-3], region),
        (e164 + str(rnd.randrange(100, 1000)), None),
        (e164[:-2], None),
        (intl + " ext " + str(rnd.randrange(10, 1000)), region),
        (nsn, region),
        (trunk + nsn if trunk else "0" + nsn, region),
    ]
    for raw, country in rnd.sample(messy, 4):
        yield raw, country, "messy"


def cases() -> Iterator[Case]:
    rnd = random.Random(SEED)
    for raw, country in FIXED:
        yield raw, country, "fixed"
    regions = sorted(r for r in SUPPORTED_REGIONS if r != "001")
    for region in regions:
        main = region_code_for_country_code(
            phonenumbers.PhoneMetadata.metadata_for_region(region).country_code
        )
        others = [r for r in ("GB", "US", "DE", "FR", "IT", "IN", "BR", main) if r != region]
        seen: set[str] = set()
        for kind in (PhoneNumberType.FIXED_LINE, PhoneNumberType.MOBILE):
            number = phonenumbers.example_number_for_type(region, kind)
            if number is None:
                continue
            e164 = phonenumbers.format_number(number, Fmt.E164)
            if e164 in seen:  # NANP and a few others give one example for both
                continue
            seen.add(e164)
            yield from variants(rnd, region, number, others)
    for raw, country in HOSTILE:
        yield raw, country, "hostile"


def main() -> int:
    OUT.parent.mkdir(parents=True, exist_ok=True)
    rows = 0
    with OUT.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(HEADER)
        for case_id, (raw, country, variant) in enumerate(cases(), start=1):
            if _needs_escape(raw):
                writer.writerow([case_id, "", country or "", _escape(raw), variant])
            else:
                writer.writerow([case_id, raw, country or "", "", variant])
            rows = case_id
    print(f"phonenumbers {phonenumbers.__version__}: {rows} cases -> {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
