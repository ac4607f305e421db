"""The SQL phone normaliser against libphonenumber, row by row.

Builds `+normalise_phone` (the calling-codes seed, the phone corpus, the
wrapper model, their data tests and the dbt unit tests) on a throwaway DuckDB
file and compares every corpus row with `phonenumbers` (libphonenumber's
Python port, a dev dependency only):

* a hash the SQL emits must be libphonenumber's E.164 without "+", hashed:
  zero differences, because a wrong hash silently matches nobody (or someone
  else);
* the SQL may reject what libphonenumber accepts (it rejects whenever it
  cannot be sure), but not too often: the agreement rate has a floor.

The reference applies the project's first rule before libphonenumber: ASCII
whitespace is not part of a number (libphonenumber itself refuses tabs and
line breaks as separators). The country is upper-cased with whitespace
removed, as the macro does.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import phonenumbers
import pytest

from tests.dbt_support import PROJECT_DIR, ROOT, DbtProject, make_dbt_project
from tests.reference_normalisation import UNICODE_SPACES

CORPUS = PROJECT_DIR / "seeds" / "test_corpora" / "phone_corpus.csv"
CALLING_CODES_MACRO = ROOT / "macros" / "normalise" / "country_calling_codes.sql"
# what the normaliser deletes: ASCII whitespace and the Unicode spaces
WHITESPACE = re.compile(f"[ \t\n\v\f\r{UNICODE_SPACES}]")

# TikTok Help Center (docs/tiktok-api.md §6.2 [H1; H2]): 374-93-828222 (AM) -> 37493828222, whose
# SHA-256 TikTok publishes; (657)777-0000 (US) -> 16577770000.
TIKTOK_AM_HASH = "65b7e6dcf6f4310f8d7cbfbd78289a753062fb054d6664fb9aaac5df66a422d4"
TIKTOK_US_HASH = "8d7bdaaf75196f351d22942fc0dd79304ffabc3eaf3339460ef9da0773e3aec2"

# Share of the corpus numbers libphonenumber accepts that the SQL must accept too (with
# the same digits). Measured 88.9% with phonenumbers 9.0.43. What the SQL rejects on
# purpose is about 11% of them: extensions, "tel:" URIs and vanity letters (~7%),
# local-only lengths and 4-digit numbers below E.164's 8 digits (~2%), numbers
# whose calling code may or may not be written without "+" (~1.5%), carrier and
# Argentine/Belarusian national prefixes (<1%). A normaliser that also refused, say,
# every number written without "+" would fall to 50% and fail.
MIN_AGREEMENT = 0.85
# The clean forms (E.164, international, national as libphonenumber formats them
# for the example numbers of every region): measured 98.9%.
MIN_AGREEMENT_CLEAN = 0.95


@dataclass(frozen=True)
class Case:
    case_id: int
    variant: str
    raw_value: str
    country_code: str | None
    e164_digits: str | None
    reason_code: str | None
    id_hash: str | None


def libphonenumber_e164(raw: str, country: str | None) -> str | None:
    """libphonenumber's E.164 without "+" for a possible number, else None."""
    region = WHITESPACE.sub("", country or "").upper() or None
    try:
        number = phonenumbers.parse(WHITESPACE.sub(" ", raw), region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)[1:]


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DbtProject]:
    # The conftest `dbt_project` fixture's machinery, built once for the module.
    project = make_dbt_project(tmp_path_factory.mktemp("phone") / "dbt")
    project.run("build", "--select", "+normalise_phone")
    yield project


@pytest.fixture(scope="module")
def cases(built: DbtProject) -> dict[int, Case]:
    with duckdb.connect(str(built.db_path), read_only=True) as con:
        rows = con.sql(
            """
            select n.case_id, c.variant, n.raw_value, n.country_code,
                   n.e164_digits, n.reason_code, n.id_hash
            from normalise_phone as n
            inner join phone_corpus as c on n.case_id = c.case_id
            order by n.case_id
            """
        ).fetchall()
    return {int(r[0]): Case(int(r[0]), *r[1:]) for r in rows}  # type: ignore[arg-type]


def test_build_ran_the_phone_unit_tests(built: DbtProject) -> None:
    results = json.loads((built.workdir / "target" / "run_results.json").read_text())
    unit = [r for r in results["results"] if r["unique_id"].startswith("unit_test.")]
    phone = [r for r in unit if ".normalise_phone." in r["unique_id"]]
    assert len(phone) >= 15, [r["unique_id"] for r in unit]
    assert {r["status"] for r in phone} == {"pass"}


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


def test_every_emitted_hash_is_libphonenumbers(cases: dict[int, Case]) -> None:
    wrong = []
    for case in cases.values():
        if case.e164_digits is None:
            assert case.reason_code is not None and case.id_hash is None, case
            continue
        expected = libphonenumber_e164(case.raw_value, case.country_code)
        if expected is None or case.id_hash != sha256(expected):
            wrong.append(f"{case} -> libphonenumber {expected}")
    assert not wrong, "SQL emitted hashes libphonenumber does not give:\n" + "\n".join(wrong)


def test_agreement_with_libphonenumber(cases: dict[int, Case]) -> None:
    accepted: Counter[str] = Counter()
    agreed: Counter[str] = Counter()
    refused: Counter[str] = Counter()
    for case in cases.values():
        expected = libphonenumber_e164(case.raw_value, case.country_code)
        if expected is None:
            continue
        accepted[case.variant] += 1
        if case.e164_digits == expected:
            agreed[case.variant] += 1
        else:
            refused[str(case.reason_code)] += 1
    rate = sum(agreed.values()) / sum(accepted.values())
    clean = ("e164", "international", "national")
    clean_rate = sum(agreed[v] for v in clean) / sum(accepted[v] for v in clean)
    print(
        f"\nphonenumbers {phonenumbers.__version__}: {len(cases)} cases, libphonenumber "
        f"accepts {sum(accepted.values())}; SQL agrees on {sum(agreed.values())} "
        f"({rate:.1%}), clean forms {clean_rate:.1%}; SQL rejects {sum(refused.values())} "
        f"that libphonenumber accepts:"
    )
    for variant in sorted(accepted):
        print(f"  {variant:<14} {agreed[variant]:>5} / {accepted[variant]:<5}")
    for reason, count in refused.most_common():
        print(f"  {reason:<34} {count:>5}")
    assert rate >= MIN_AGREEMENT
    assert clean_rate >= MIN_AGREEMENT_CLEAN


def test_corpus_generators_are_reproducible(tmp_path: Path) -> None:
    """The committed corpus and calling-code macro are what the scripts write
    (phonenumbers upgrades show up here)."""
    import importlib.util

    for script, csv_path in (
        ("generate_phone_corpus.py", CORPUS),
        ("generate_country_calling_codes.py", CALLING_CODES_MACRO),
    ):
        spec = importlib.util.spec_from_file_location(script[:-3], ROOT / "scripts" / script)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        module.OUT = tmp_path / csv_path.name
        module.main()
        assert module.OUT.read_bytes() == csv_path.read_bytes(), script
