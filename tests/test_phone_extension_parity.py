"""Extensions, tel: URIs and vanity letters against libphonenumber, on values made to probe
the edges of its rules.

The phone normaliser strips an extension, a leading tel: and reads letters as libphonenumber
does (macros/normalise/phone_keypad.sql), or rejects the value. The corpora of
tests/test_phone_parity.py hold these forms as CRMs write them; here a seeded generator
writes them every way the rules distinguish: each extension label and near-miss label, the
separators libphonenumber allows around it and others, digit counts on both sides of each
label's limit, spaces inside the digits, trailing characters, vanity numbers with 1 to 5
letters (either case) and letters where libphonenumber does not read them, tel: URIs with
and without parameters. Both DuckDB implementations (the fast one and the portable SQL every
other engine runs) build them; every hash either emits must be of libphonenumber's E.164, and
the two must return the same row for every value.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from tests.dbt_support import DbtProject, copy_project, make_dbt_project
from tests.test_phone_parity import libphonenumber

# Valid numbers, each as written and with the row's country.
BASES = [
    ("+44 20 7183 8750", None),
    ("020 7183 8750", "GB"),
    ("(201) 555-0178", "US"),
    ("+1 201-555-0178", None),
    ("030 1234567", "DE"),
    ("+55 11 96123-5029", None),
    ("8 (912) 345-67-89", "RU"),
]
# libphonenumber's labels (its pattern is case-insensitive) and look-alikes it does not know.
LABELS = [
    "ext", "ext.", "EXT", "Ext:", "extn", "xt", "xtn", "extension", "extensio", "EXTENSION",
    "anexo", "x", "X", "x.", "#", "~", "int", "INT", ";ext=", ";EXT=", ",,", ";", ",", ",,,",
    "e", "tx", "extensions", "ex", "доб", "\uff58", "/x", "/ x", "ext-", "ext,", "ext:-",
]  # fmt: skip
BEFORE = ["", " ", "  ", "\t", "\u00a0", ",", " , ", "-", " - ", "\n"]
AFTER = ["", " ", ".", ":", " - ", ",", "\u2003", "\t"]
TRAILING = ["", "", "", "#", " ", ".", ")", "!", "/", " #", "##", "-", " .", "\u3002"]
DIGIT_COUNTS = [1, 2, 4, 6, 7, 9, 10, 15, 16, 20, 21]
KEYPAD = {str(d): letters for d, letters in enumerate(
    ["", "", "ABC", "DEF", "GHI", "JKL", "MNO", "PQRS", "TUV", "WXYZ"]
)}  # fmt: skip


def extension_cases(rnd: random.Random, count: int) -> list[tuple[str, str | None, str]]:
    cases = []
    for _ in range(count):
        base, country = rnd.choice(BASES)
        digits = "".join(rnd.choice("0123456789") for _ in range(rnd.choice(DIGIT_COUNTS)))
        if len(digits) > 2 and rnd.random() < 0.15:
            cut = rnd.randrange(1, len(digits))
            digits = digits[:cut] + rnd.choice([" ", "-", "."]) + digits[cut:]
        if rnd.random() < 0.15:  # American style: digits and a final #
            suffix = rnd.choice(["-", " ", " - ", "--", ""]) + digits[:8] + "#"
        else:
            suffix = rnd.choice(BEFORE) + rnd.choice(LABELS) + rnd.choice(AFTER) + digits
        cases.append((base + suffix + rnd.choice(TRAILING), country, "extension"))
    return cases


def vanity_cases(rnd: random.Random, count: int) -> list[tuple[str, str | None, str]]:
    cases = []
    for _ in range(count):
        base, country = rnd.choice(BASES)
        chars = list(base)
        positions = [i for i, c in enumerate(chars) if KEYPAD.get(c)]
        for i in rnd.sample(positions, rnd.randint(1, 5)):
            letter = rnd.choice(KEYPAD[chars[i]])
            chars[i] = letter.lower() if rnd.random() < 0.3 else letter
        value = "".join(chars)
        shape = rnd.random()
        if shape < 0.1:
            value = rnd.choice(["CALL ", "Tel ", "ab"]) + value
        elif shape < 0.2:
            value = value.replace(" ", "/", 1)
        elif shape < 0.35:
            value += rnd.choice([" ext 12", " x 7", "#12", " int 3", " EXT 1234", "x"])
        cases.append((value, country, "vanity"))
    return cases


def tel_cases(rnd: random.Random, count: int) -> list[tuple[str, str | None, str]]:
    e164 = ["+44-20-7183-8750", "+1-201-555-0178", "+49-30-1234567", "+7-912-345-67-89"]
    local = ["7183-8750", "020-7183-8750", "201-555-0178"]
    cases = []
    for _ in range(count):
        scheme = rnd.choice(["tel:", "TEL:", "Tel:", " tel:", "tel: ", "tel://", "tel:;"])
        number = rnd.choice(e164 + local)
        params = rnd.choice(
            ["", "", ";ext=12", ";EXT=1234", ";phone-context=+44-20", ";isub=1234", ";ext=",
             ";phone-context=example.com", ";ext=123456789012345678901"]
        )  # fmt: skip
        cases.append((scheme + number + params, rnd.choice([None, "GB", "US"]), "tel"))
    return cases


def write_cases(path: Path) -> list[tuple[str, str | None, str]]:
    rnd = random.Random(20261204)
    cases = extension_cases(rnd, 2400) + vanity_cases(rnd, 900) + tel_cases(rnd, 300)
    with duckdb.connect() as con:
        con.execute("create table cases (case_id integer, raw_value varchar, country_code varchar)")
        con.executemany(
            "insert into cases values (?, ?, ?)",
            [(i, raw, country) for i, (raw, country, _) in enumerate(cases)],
        )
        con.execute(f"copy cases to '{path}' (format parquet)")
    return cases


def build(workdir: Path, project_dir: Path, portable: bool) -> DbtProject:
    project = make_dbt_project(workdir)
    project.run(
        "build",
        "--select",
        "+phone_extension_cases",
        "--exclude",
        "test_type:unit",
        project_dir=project_dir,
        vars={"tiktok_sync_portable_normalisation": portable},
    )
    return project


Row = tuple[int, str | None, str | None]


@pytest.fixture(scope="module")
def results(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[list[tuple[str, str | None, str]], dict[int, Row], dict[int, Row]]]:
    root = tmp_path_factory.mktemp("phone_extensions")
    cases = write_cases(root / "cases.parquet")
    project_dir = copy_project(root / "project", demo=False)
    (project_dir / "models" / "phone_extension_cases.sql").write_text(
        "{{ phone_corpus_normalised(\"read_parquet('"
        + str(root / "cases.parquet")
        + "')\", ref('country_calling_codes')) }}\n"
    )
    read = []
    for portable in (False, True):
        project = build(root / f"build-{portable}", project_dir, portable)
        with duckdb.connect(str(project.db_path), read_only=True) as con:
            rows = con.sql(
                "select case_id, e164_digits, reason_code from phone_extension_cases"
            ).fetchall()
        read.append({int(r[0]): (int(r[0]), r[1], r[2]) for r in rows})
    yield cases, read[0], read[1]


def test_every_hash_is_libphonenumbers_e164(
    results: tuple[list[tuple[str, str | None, str]], dict[int, Row], dict[int, Row]],
) -> None:
    cases, fast, _ = results
    wrong = []
    hashed: Counter[str] = Counter()
    rejected: Counter[str] = Counter()
    for case_id, (raw, country, kind) in enumerate(cases):
        _, digits, _ = fast[case_id]
        if digits is None:
            rejected[kind] += 1
            continue
        hashed[kind] += 1
        reference = libphonenumber(raw, country)
        if reference.e164 != digits:
            wrong.append(f"{raw!r} ({country}) -> {digits}, libphonenumber {reference.e164}")
    print(f"\nhashed {dict(hashed)}, rejected {dict(rejected)}")
    assert not wrong, f"{len(wrong)} hashes libphonenumber does not give:\n" + "\n".join(wrong)
    # the cases reach both sides of the rules: many hashed, many rejected, of each kind. Vanity
    # values with one or two letters lose those digits (libphonenumber drops them), which
    # mostly leaves a number no pattern matches: phone_invalid_number (150 of 900 hashed)
    for kind, share in (("extension", 0.2), ("vanity", 0.1), ("tel", 0.2)):
        total = hashed[kind] + rejected[kind]
        assert hashed[kind] >= share * total and rejected[kind] >= 0.1 * total, kind


def test_fast_and_portable_sql_return_the_same_rows(
    results: tuple[list[tuple[str, str | None, str]], dict[int, Row], dict[int, Row]],
) -> None:
    cases, fast, portable = results
    assert len(fast) == len(cases)
    differ = [(cases[i][0], fast[i], portable[i]) for i in fast if fast[i] != portable[i]]
    assert not differ, differ[:20]
