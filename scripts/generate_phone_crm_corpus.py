"""Write integration_tests/seeds/test_corpora/phone_corpus_crm.csv: the second phone corpus.

The first corpus (scripts/generate_phone_corpus.py) writes libphonenumber's own
example numbers of every region in every format. This one is generated
independently of it and leans toward what CRM exports hold: numbers typed
nationally with and without the trunk prefix, the calling code written without
"+", each region's own way of dialling abroad (`00`, `011`, `0011`, `810`...)
and other regions' ways, extensions, vanity letters and the usual separators;
plus numbers libphonenumber calls invalid, made on purpose: a possible length
but no valid pattern, a digit too many or too few, and junk.

Valid numbers are not the example numbers: each one is an example number
(fixed line, mobile, toll free) with its trailing digits replaced at random,
kept only when `is_valid_number` accepts it for its region. Invalid numbers of
a possible length are random national numbers that `is_possible_number`
accepts and `is_valid_number` refuses. tests/test_phone_parity.py compares
every row's SQL result with libphonenumber.

Deterministic: a fixed seed, a fixed list of regions, no timestamps.

    .venv/bin/python scripts/generate_phone_crm_corpus.py

Columns: case_id, raw_value, country_code (the row's country, as a CRM holds
it: usually right, sometimes missing or another), style (how the value was
written; the parity test reports agreement per style). No value needs the
first corpus's escapes: none is empty, "null", or holds a line break.
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

OUT = (
    Path(__file__).resolve().parents[1]
    / "integration_tests"
    / "seeds"
    / "test_corpora"
    / "phone_corpus_crm.csv"
)
HEADER = ["case_id", "raw_value", "country_code", "style"]
SEED = 20261204

# Where CRM contacts come from: the Americas, Europe, the Middle East, Africa and Asia-Pacific,
# including the regions whose rules are hard (AR, BR, MX, CN, JP, KR, RU, IT, AU, IN).
REGIONS = [
    region
    for line in (
        "US CA MX BR AR CL CO PE EC UY VE PR DO GT CR",
        "GB IE FR DE AT CH NL BE LU ES PT IT GR PL CZ SK HU RO BG HR SI RS UA RU BY",
        "DK NO SE FI IS EE LV LT",
        "TR IL AE SA QA KW EG MA NG KE ZA GH TN",
        "IN PK BD LK ID MY SG TH VN PH CN HK TW JP KR KZ AU NZ",
    )
    for region in line.split()
]
VALID_PER_REGION = 6
INVALID_PATTERN_PER_REGION = 2
# How often each style is written, per valid number (drawn without replacement).
STYLE_WEIGHTS = {
    "national": 5,
    "national_no_trunk": 3,
    "e164": 3,
    "international": 3,
    "cc_without_plus": 4,
    "idd_own": 3,
    "idd_wrong": 2,
    "extension": 2,
    "vanity": 1,
    "separators": 3,
    "no_country": 1,
    "other_country": 1,
}
STYLES_PER_NUMBER = 7
# International prefixes, each written from a region that does not dial abroad with it.
IDD_PREFIXES = ("00", "011", "0011", "810", "000", "001", "009")
KEYPAD = {
    "2": "ABC",
    "3": "DEF",
    "4": "GHI",
    "5": "JKL",
    "6": "MNO",
    "7": "PQRS",
    "8": "TUV",
    "9": "WXYZ",
}
JUNK = (
    "n/a",
    "N/A",
    "none",
    "unknown",
    "-",
    "0",
    "000000",
    "0000000000",
    "1111111111",
    "123",
    "123456",
    "1234567890",
    "jane@example.com",
    "call me",
    "2024-03-15",
    "15/03/2024",
    "+",
    "++",
    "#",
    "?",
    "TBD",
    "see notes",
    "9" * 20,
    "+0 000 000",
)

Case = tuple[str, str | None, str]


def _separate(rnd: random.Random, text: str) -> str:
    """A formatted number with its spaces and hyphens replaced by what people type."""
    sep = rnd.choice([" ", "-", ".", "/", "", " - ", "  "])
    return "".join(sep if ch in " -" else ch for ch in text)


def _group(digits: str) -> str:
    """Digits in groups of three or four, as a person would split them."""
    parts, rest = [], digits
    while len(rest) > 4:
        parts.append(rest[:3])
        rest = rest[3:]
    return " ".join([*parts, rest])


def _vanity(rnd: random.Random, digits: str) -> str | None:
    """The last four digits spelt with keypad letters, where every one has letters."""
    tail = digits[-4:]
    if any(d not in KEYPAD for d in tail):
        return None
    return digits[:-4] + "".join(rnd.choice(KEYPAD[d]) for d in tail)


def valid_numbers(rnd: random.Random, region: str) -> list[phonenumbers.PhoneNumber]:
    """Numbers libphonenumber calls valid for the region, none of them an example number."""
    examples = [
        phonenumbers.example_number_for_type(region, kind)
        for kind in (PhoneNumberType.FIXED_LINE, PhoneNumberType.MOBILE, PhoneNumberType.TOLL_FREE)
    ]
    seeds = [n for n in examples if n is not None]
    example_nsns = {phonenumbers.national_significant_number(n) for n in seeds}
    found: dict[str, phonenumbers.PhoneNumber] = {}
    for attempt in range(400):
        if len(found) == VALID_PER_REGION:
            break
        # mobiles twice as often as the others: CRMs hold mostly mobiles
        base = seeds[min(attempt % 4, 1) if len(seeds) > 1 else 0]
        if attempt % 4 == 3 and len(seeds) > 2:
            base = seeds[2]
        nsn = phonenumbers.national_significant_number(base)
        keep = max(len(nsn) - rnd.choice((2, 3, 4)), 1)
        varied = nsn[:keep] + "".join(rnd.choice("0123456789") for _ in nsn[keep:])
        if varied in example_nsns or varied in found:
            continue
        number = phonenumbers.parse("+" + str(base.country_code) + varied)
        if phonenumbers.is_valid_number_for_region(number, region):
            found[varied] = number
    assert len(found) == VALID_PER_REGION, (region, len(found))
    return list(found.values())


def invalid_pattern_numbers(rnd: random.Random, region: str) -> list[phonenumbers.PhoneNumber]:
    """Random national numbers of a possible length that match no valid pattern."""
    meta = phonenumbers.PhoneMetadata.metadata_for_region(region)
    lengths = sorted(set(meta.general_desc.possible_length))
    found: list[phonenumbers.PhoneNumber] = []
    for _ in range(2000):
        if len(found) == INVALID_PATTERN_PER_REGION:
            break
        length = rnd.choice(lengths)
        nsn = rnd.choice("123456789") + "".join(rnd.choice("0123456789") for _ in range(length - 1))
        number = phonenumbers.parse("+" + str(meta.country_code) + nsn)
        if phonenumbers.is_possible_number(number) and not phonenumbers.is_valid_number(number):
            found.append(number)
    assert len(found) == INVALID_PATTERN_PER_REGION, region
    return found


def written(
    rnd: random.Random, style: str, region: str, number: phonenumbers.PhoneNumber, other: str
) -> Case | None:
    """One number written in one style, with its row country; None where the style
    does not apply to the region (no trunk prefix, no letters on the digits)."""
    meta = phonenumbers.PhoneMetadata.metadata_for_region(region)
    cc = str(number.country_code)
    nsn = phonenumbers.national_significant_number(number)
    national = phonenumbers.format_number(number, Fmt.NATIONAL)
    intl = phonenumbers.format_number(number, Fmt.INTERNATIONAL)
    trunk = meta.national_prefix or ""
    own_idd = meta.preferred_international_prefix or meta.international_prefix or ""
    if style == "national":
        return _separate(rnd, national), region, style
    if style == "national_no_trunk":
        if not trunk:
            return None
        return rnd.choice((nsn, _group(nsn))), region, style
    if style == "e164":
        return "+" + cc + nsn, rnd.choice((region, None)), style
    if style == "international":
        return _separate(rnd, intl), rnd.choice((region, region, None)), style
    if style == "cc_without_plus":
        return (
            rnd.choice((cc + nsn, cc + " " + _group(nsn), _separate(rnd, intl[1:]))),
            region,
            style,
        )
    if style == "idd_own":
        if not own_idd.isdigit():
            return None
        return own_idd + rnd.choice(("", " ")) + _separate(rnd, intl[1:]), region, style
    if style == "idd_wrong":
        wrong = [p for p in IDD_PREFIXES if p != own_idd]
        return rnd.choice(wrong) + " " + _separate(rnd, intl[1:]), region, style
    if style == "extension":
        base = rnd.choice((national, intl))
        ext = str(rnd.randrange(1, 10000))
        tail = rnd.choice((" ext. ", " ext ", " x", " x ", "#", " #", ",", " extension "))
        return base + tail + ext, region, style
    if style == "vanity":
        spelt = _vanity(rnd, nsn)
        if spelt is None:
            return None
        written_as = rnd.choice((trunk + spelt, "+" + cc + " " + spelt))
        return written_as, region, style
    if style == "separators":
        groups = _group(nsn).split(" ")
        head = f"({trunk}{groups[0]})" if trunk else f"({groups[0]})"
        shape = rnd.choice(
            (
                head + " " + "-".join(groups[1:]),
                "+" + cc + " (" + (trunk or "0") + ")" + " ".join(groups),
                "+" + cc + "-" + "-".join(groups),
                trunk + ".".join(groups),
                "(+" + cc + ") " + " ".join(groups),
            )
        )
        return shape, region, style
    if style == "no_country":
        return _separate(rnd, national), None, style
    if style == "other_country":
        return _separate(rnd, national), other, style
    raise ValueError(style)


def invalid(
    rnd: random.Random, region: str, valid: list[phonenumbers.PhoneNumber]
) -> Iterator[Case]:
    """Numbers libphonenumber calls invalid, each written as CRMs hold numbers."""
    for number in invalid_pattern_numbers(rnd, region):
        intl = phonenumbers.format_number(number, Fmt.INTERNATIONAL)
        national = phonenumbers.format_number(number, Fmt.NATIONAL)
        yield rnd.choice((intl, national)), region, "invalid_pattern"
    number = rnd.choice(valid)
    cc = str(number.country_code)
    nsn = phonenumbers.national_significant_number(number)
    for wrong in (nsn + rnd.choice("0123456789"), nsn[:-1], nsn[:-3]):
        candidate = phonenumbers.parse("+" + cc + wrong)
        if phonenumbers.is_valid_number(candidate):
            continue  # still a number of another length: not what this style is for
        written_as = rnd.choice(("+" + cc + " " + _group(wrong), cc + wrong))
        yield written_as, region, "invalid_length"


def cases() -> Iterator[Case]:
    rnd = random.Random(SEED)
    styles = list(STYLE_WEIGHTS)
    for region in REGIONS:
        others = [r for r in REGIONS if r != region]
        valid = valid_numbers(rnd, region)
        for number in valid:
            chosen: list[str] = []
            pool = list(styles)
            while len(chosen) < STYLES_PER_NUMBER:
                style = rnd.choices(pool, weights=[STYLE_WEIGHTS[s] for s in pool])[0]
                pool.remove(style)
                chosen.append(style)
            for style in chosen:
                case = written(rnd, style, region, number, rnd.choice(others))
                if case is not None:
                    yield case
        yield from invalid(rnd, region, valid)
        yield rnd.choice(JUNK), region, "junk"


def main() -> int:
    OUT.parent.mkdir(parents=True, exist_ok=True)
    rows = 0
    with OUT.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(HEADER)
        for case_id, (raw, country, style) in enumerate(cases(), start=1):
            assert raw.strip() and raw.strip().lower() != "null" and "\n" not in raw, raw
            writer.writerow([case_id, raw, country or "", style])
            rows = case_id
    print(f"phonenumbers {phonenumbers.__version__}: {rows} cases -> {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
