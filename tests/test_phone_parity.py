"""The SQL phone normaliser against libphonenumber, row by row.

Reads the wrapper models `normalise_phone` and `normalise_phone_crm` (both phone
corpora through the normaliser) from the demo build the sync tests share, whose
data tests they passed, and compares every row of both corpora
with `phonenumbers` (libphonenumber's Python port, a dev dependency only). The
reference is `is_valid_number`:

* a hash the SQL emits must be libphonenumber's E.164 without "+", hashed:
  zero differences, because a wrong hash silently matches nobody (or someone
  else);
* a number libphonenumber parses but calls invalid, or cannot parse, must not
  be hashed (it matches nobody): zero such hashes, as the SQL checks
  libphonenumber's number patterns, not only lengths;
* the SQL may reject valid numbers (it rejects whenever it cannot be sure),
  but not too often: the agreement on valid numbers has a floor per corpus,
  printed per style and per reason with `-s`.

The reference applies the project's first rule before libphonenumber: ASCII
whitespace is not part of a number (libphonenumber itself refuses tabs and
line breaks as separators). The country is upper-cased with whitespace
removed, as the macro does.
"""

from __future__ import annotations

import csv
import hashlib
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import duckdb
import phonenumbers
import pytest

from tests.dbt_support import PROJECT_DIR, ROOT, DbtProject
from tests.reference_normalisation import UNICODE_SPACES
from tests.warehouses import demo_template

CORPUS = PROJECT_DIR / "seeds" / "test_corpora" / "phone_corpus.csv"
CRM_CORPUS = PROJECT_DIR / "seeds" / "test_corpora" / "phone_corpus_crm.csv"
CALLING_CODES_MACRO = ROOT / "macros" / "normalise" / "country_calling_codes.sql"
NUMBER_PATTERNS_MACRO = ROOT / "macros" / "normalise" / "phone_number_patterns.sql"
CODE_PATTERNS_MACRO = ROOT / "macros" / "normalise" / "phone_calling_code_patterns.sql"
# what the normaliser deletes: ASCII whitespace and the Unicode spaces
WHITESPACE = re.compile(f"[ \t\n\v\f\r{UNICODE_SPACES}]")

# TikTok Help Center (docs/tiktok-api.md §6.2 [H1; H2]): 374-93-828222 (AM) -> 37493828222, whose
# SHA-256 TikTok publishes; (657)777-0000 (US) -> 16577770000.
TIKTOK_AM_HASH = "65b7e6dcf6f4310f8d7cbfbd78289a753062fb054d6664fb9aaac5df66a422d4"
TIKTOK_US_HASH = "8d7bdaaf75196f351d22942fc0dd79304ffabc3eaf3339460ef9da0773e3aec2"


@dataclass(frozen=True)
class Corpus:
    """A corpus seed, the wrapper model over it, and the column naming how each case was made."""

    seed: str
    model: str
    style_column: str
    # Share of the numbers libphonenumber calls valid that the SQL must accept with the same
    # digits: set just below the measured share, so that rejecting more fails.
    min_agreement: float


CORPORA = {
    # phonenumbers 9.0.43: 2,739 valid numbers, 2,692 agree (98.3%); 0 invalid hashed.
    "phone_corpus": Corpus("phone_corpus", "normalise_phone", "variant", 0.98),
    # phonenumbers 9.0.43: 2,605 valid numbers, 2,570 agree (98.7%); 0 invalid hashed.
    "phone_corpus_crm": Corpus("phone_corpus_crm", "normalise_phone_crm", "style", 0.985),
}
# The first corpus's clean forms (E.164, international and national as libphonenumber formats
# the example numbers of every region): measured 98.9% of the valid ones.
CLEAN_STYLES = ("e164", "international", "national")
MIN_AGREEMENT_CLEAN = 0.98


@dataclass(frozen=True)
class Case:
    case_id: int
    style: str
    raw_value: str
    country_code: str | None
    e164_digits: str | None
    reason_code: str | None
    id_hash: str | None


@dataclass(frozen=True)
class Reference:
    """What libphonenumber makes of a value: `valid`, `invalid` (parsed, but
    `is_valid_number` refuses it) or `unparseable`; its E.164 without "+" when parsed."""

    verdict: str
    e164: str | None


def libphonenumber(raw: str, country: str | None) -> Reference:
    region = WHITESPACE.sub("", country or "").upper() or None
    try:
        number = phonenumbers.parse(WHITESPACE.sub(" ", raw), region)
    except phonenumbers.NumberParseException:
        return Reference("unparseable", None)
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)[1:]
    return Reference("valid" if phonenumbers.is_valid_number(number) else "invalid", e164)


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> DbtProject:
    # The demo build the sync tests copy holds both wrapper models and ran their data tests;
    # tests/test_warehouse_build.py runs the dbt unit tests.
    return demo_template(tmp_path_factory)


@pytest.fixture(scope="module")
def corpora(built: DbtProject) -> dict[str, dict[int, Case]]:
    read = {}
    with duckdb.connect(str(built.db_path), read_only=True) as con:
        for corpus in CORPORA.values():
            rows = con.sql(
                f"""
                select n.case_id, c.{corpus.style_column}, n.raw_value, n.country_code,
                       n.e164_digits, n.reason_code, n.id_hash
                from {corpus.model} as n
                inner join {corpus.seed} as c on n.case_id = c.case_id
                order by n.case_id
                """
            ).fetchall()
            read[corpus.seed] = {int(r[0]): Case(int(r[0]), *r[1:]) for r in rows}  # type: ignore[arg-type]
    return read


@pytest.fixture(scope="module")
def cases(corpora: dict[str, dict[int, Case]]) -> dict[int, Case]:
    return corpora["phone_corpus"]


def invalid_hashes(cases: dict[int, Case]) -> list[tuple[Case, Reference]]:
    """The SQL's hashes of values libphonenumber calls invalid or cannot parse."""
    found = []
    for case in cases.values():
        if case.e164_digits is not None:
            reference = libphonenumber(case.raw_value, case.country_code)
            if reference.verdict != "valid":
                found.append((case, reference))
    return found


def test_corpus_survives_the_seed_load(cases: dict[int, Case]) -> None:
    """What the model reads is what the CSV holds, tabs and padding included."""
    escapes = {"~t": "\t", "~n": "\n", "~r": "\r", "~s": " ", "~z": ""}
    with CORPUS.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) >= 1500
    expected_countries = set()
    for row in rows:
        raw = row["raw_value"]
        if not raw:
            raw = re.sub("~[tnrsz]", lambda m: escapes[m.group(0)], row["raw_value_escaped"])
        case = cases.get(int(row["case_id"]))
        if WHITESPACE.sub("", raw) == "":
            assert case is None, row  # empty values never reach the normaliser
            continue
        assert case is not None, row
        assert (case.raw_value, case.country_code) == (raw, row["country_code"] or None), row
        if row["variant"] == "national" and row["country_code"]:
            expected_countries.add(row["country_code"])
    assert len(expected_countries) >= 40


def test_crm_corpus_is_what_the_issue_asks(corpora: dict[str, dict[int, Case]]) -> None:
    """Every row reaches the model as written; >= 3,000 numbers of >= 60 regions, none of
    them one of libphonenumber's example numbers (the first corpus's source), a realistic
    share invalid."""
    with CRM_CORPUS.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    cases = corpora["phone_corpus_crm"]
    assert len(rows) >= 3000 and len(cases) == len(rows)
    for row in rows:
        case = cases[int(row["case_id"])]
        assert (case.raw_value, case.country_code, case.style) == (
            row["raw_value"],
            row["country_code"] or None,
            row["style"],
        ), row
    assert len({row["country_code"] for row in rows if row["country_code"]}) >= 60
    examples = {
        phonenumbers.format_number(n, phonenumbers.PhoneNumberFormat.E164)[1:]
        for region in phonenumbers.SUPPORTED_REGIONS
        for kind in phonenumbers.PhoneNumberType.values()
        if (n := phonenumbers.example_number_for_type(region, kind)) is not None
    }
    verdicts: Counter[str] = Counter()
    for case in cases.values():
        reference = libphonenumber(case.raw_value, case.country_code)
        verdicts[reference.verdict] += 1
        assert reference.e164 not in examples, case
    assert 0.1 <= (verdicts["invalid"] + verdicts["unparseable"]) / len(cases) <= 0.4, verdicts


def test_tiktok_vectors(cases: dict[int, Case]) -> None:
    assert (cases[1].raw_value, cases[1].e164_digits, cases[1].id_hash) == (
        "374-93-828222",
        "37493828222",
        TIKTOK_AM_HASH,
    )
    assert (cases[2].raw_value, cases[2].e164_digits, cases[2].id_hash) == (
        "(657)777-0000",
        "16577770000",
        TIKTOK_US_HASH,
    )
    assert cases[3].id_hash == TIKTOK_AM_HASH  # 37493828222 already carries +374
    assert cases[4].id_hash == TIKTOK_AM_HASH  # +37493828222


@pytest.mark.parametrize("corpus", list(CORPORA))
def test_every_emitted_hash_is_libphonenumbers_e164(
    corpora: dict[str, dict[int, Case]], corpus: str
) -> None:
    """Where libphonenumber parses a value the SQL hashes, the hash is of its E.164: a
    different hash silently matches nobody, or someone else."""
    wrong = []
    for case in corpora[corpus].values():
        if case.e164_digits is None:
            assert case.reason_code is not None and case.id_hash is None, case
            continue
        assert case.reason_code is None and case.id_hash == sha256(case.e164_digits), case
        reference = libphonenumber(case.raw_value, case.country_code)
        if reference.e164 is not None and case.e164_digits != reference.e164:
            wrong.append(f"{case} -> libphonenumber {reference.e164}")
    assert not wrong, "SQL emitted hashes libphonenumber does not give:\n" + "\n".join(wrong)


@pytest.mark.parametrize("corpus", list(CORPORA))
def test_no_hash_of_a_number_libphonenumber_calls_invalid(
    corpora: dict[str, dict[int, Case]], corpus: str
) -> None:
    """A number libphonenumber parses but calls invalid (or cannot parse) must be rejected:
    its hash matches nobody. Printed with -s by how it was written, should any slip through."""
    found = invalid_hashes(corpora[corpus])
    kinds = Counter((case.style, reference.verdict) for case, reference in found)
    print(f"\n{corpus}: {len(found)} hashes of numbers libphonenumber calls invalid:")
    for (style, verdict), count in kinds.most_common():
        print(f"  {style:<18} {verdict:<12} {count:>5}")
    assert not found, f"{len(found)} hashes of invalid numbers, e.g. {found[:3]}"


@pytest.mark.parametrize("corpus", list(CORPORA))
def test_agreement_on_valid_numbers(corpora: dict[str, dict[int, Case]], corpus: str) -> None:
    cases = corpora[corpus]
    valid: Counter[str] = Counter()
    agreed: Counter[str] = Counter()
    refused: Counter[str] = Counter()
    for case in cases.values():
        reference = libphonenumber(case.raw_value, case.country_code)
        if reference.verdict != "valid":
            continue
        valid[case.style] += 1
        if case.e164_digits == reference.e164:
            agreed[case.style] += 1
        else:
            refused[str(case.reason_code)] += 1
    rate = sum(agreed.values()) / sum(valid.values())
    print(
        f"\n{corpus} (phonenumbers {phonenumbers.__version__}): {len(cases)} cases, "
        f"libphonenumber calls {sum(valid.values())} valid; SQL agrees on "
        f"{sum(agreed.values())} ({rate:.1%}) and rejects {sum(refused.values())}:"
    )
    for style in sorted(valid):
        share = agreed[style] / valid[style]
        print(f"  {style:<18} {agreed[style]:>5} / {valid[style]:<5} {share:6.1%}")
    for reason, count in refused.most_common():
        print(f"  {reason:<34} {count:>5}")
    assert rate >= CORPORA[corpus].min_agreement
    if corpus == "phone_corpus":
        clean = sum(agreed[s] for s in CLEAN_STYLES) / sum(valid[s] for s in CLEAN_STYLES)
        assert clean >= MIN_AGREEMENT_CLEAN


def test_corpus_generators_are_reproducible(tmp_path: Path) -> None:
    """The committed corpora and the calling-code, number-pattern and calling-code-pattern
    macros are what the scripts write (phonenumbers upgrades show up here)."""
    import importlib.util

    for script, outputs in (
        ("generate_phone_corpus.py", {"OUT": CORPUS}),
        ("generate_phone_crm_corpus.py", {"OUT": CRM_CORPUS}),
        (
            "generate_country_calling_codes.py",
            {
                "OUT": CALLING_CODES_MACRO,
                "PATTERNS_OUT": NUMBER_PATTERNS_MACRO,
                "CODE_PATTERNS_OUT": CODE_PATTERNS_MACRO,
            },
        ),
    ):
        spec = importlib.util.spec_from_file_location(script[:-3], ROOT / "scripts" / script)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        for name, committed in outputs.items():
            assert hasattr(module, name), (script, name)
            setattr(module, name, tmp_path / committed.name)
        module.main()
        for name, committed in outputs.items():
            written = getattr(module, name)
            assert written.read_bytes() == committed.read_bytes(), (script, committed.name)
