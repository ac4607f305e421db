"""DuckDB's own normalisers against the portable SQL, row for row.

On DuckDB, phones (`duckdb__phone_normalised_select`), emails
(`duckdb__email_identifiers_select`) and advertising ids
(`duckdb__maid_shaped_select`) are normalised by DuckDB-specific SQL;
Postgres, Snowflake, BigQuery and Spark run the portable `default__` SQL. Both
must give the same hash or the same rejection reason for every value. The
project is built twice on DuckDB, once with `tiktok_sync_portable_normalisation:
true` and every dbt unit test (the DuckDB path's run in
tests/test_warehouse_build.py), plus an audience over hostile
values (the phone corpus, generated emails and advertising ids), and every
row of every audience table and of the phone wrapper must be equal.
"""

from __future__ import annotations

import csv
import itertools
import json
import random
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from tests.dbt_support import PROJECT_DIR, PROJECT_NAME, DbtProject, copy_project, make_dbt_project

CORPUS = PROJECT_DIR / "seeds" / "test_corpora" / "phone_corpus.csv"
HASH = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def hostile_emails() -> list[str]:
    """Addresses around every edge of the email rules, and random mixtures."""
    addresses = [
        "janedoe@gmail.com",
        "Jane.Doe+tag@Gmail.COM",
        "a@b.co",
        "a@b.c",
        ".a@b.co",
        "a.@b.co",
        "a..b@c.co",
        "a@-b.co",
        "a@b-.co",
        "a@b..co",
        "a@@b.co",
        "a@xn--80ak6aa92e.com",
        "a@b.XN--80AK6AA92E",
        "\u212aelvin@example.com",  # Kelvin sign: lower-cases to an ASCII k
        "caf\u00e9@example.com",
        "a\u00a0b@example.com",
        "a\x00b@example.com",
        "a\x7fb@example.com",
        "o'brien@example.ie",
        "x" * 249 + "@a.co",  # 254 characters
        "x" * 250 + "@a.co",  # 255
        "X" * 250 + "@A.CO",
        HASH,
        HASH.upper(),
        "d41d8cd98f00b204e9800998ecf8427e",
        "D41D8CD98F00B204E9800998ECF8427E",
        "a" * 64,
        "A" * 63,
        "g" * 64,
        "0" * 65,
    ]
    values = []
    for address, space in itertools.product(addresses, ["", " ", "\t", "\n ", "\x0b", "\x0c\r"]):
        values += [space + address, address + space, address[:2] + space + address[2:]]
    rng = random.Random(6)
    parts = ["a", "Z", "k", "\u212a", "0", "9", ".", "@", "-", "_", "%", "+", "'", " ", "\t"]
    parts += [
        "\x0b",
        "\x00",
        "\x7f",
        "\u00e9",
        "\u0130",
        "xn--",
        "XN--",
        "com",
        "CO",
        ".c",
        "\u2028",
    ]
    values += ["".join(rng.choices(parts, k=rng.randint(1, 12))) for _ in range(3000)]
    return values


def hostile_maids() -> list[str]:
    uuid = "5f3a2b18-9c4d-4e7f-b8e2-17d3a1e69b25"
    md5 = HASH[:32]
    values = [uuid, uuid.upper(), uuid.replace("-", ""), "00000000-0000-0000-0000-000000000000"]
    values += [f" {uuid}\t", uuid[:-1], uuid + "0", HASH, HASH.upper(), md5.upper(), f"{md5}\n"]
    values += ["d41d8cd98f00b204e9800998ecf8427e", uuid.replace("f", "\u0192")]
    rng = random.Random(7)
    for _ in range(2000):
        value = list(rng.choice([uuid, uuid.upper(), HASH, md5.upper()]))
        for _ in range(rng.randint(0, 2)):
            value.insert(rng.randint(0, len(value)), rng.choice(" \t-g0AF\u00e9\x0b"))
        values.append("".join(value))
    return values


def corpus_phones() -> list[tuple[str, str | None]]:
    escapes = {"~t": "\t", "~n": "\n", "~r": "\r", "~s": " ", "~z": ""}
    with CORPUS.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    phones = []
    for row in rows:
        raw = row["raw_value"] or re.sub(
            "~[tnrsz]", lambda m: escapes[m.group(0)], row["raw_value_escaped"]
        )
        phones.append((raw, row["country_code"] or None))
    return phones


def write_cases(path: Path) -> None:
    emails = hostile_emails()
    phones = corpus_phones()
    maids = hostile_maids()
    rows = []
    for i in range(max(len(emails), len(phones))):
        phone, country = phones[i] if i < len(phones) else (None, None)
        maid = maids[i] if i < len(maids) else None
        rows.append((i, emails[i] if i < len(emails) else None, phone, country, maid, maid))
    with duckdb.connect() as con:
        con.execute(
            "create table cases (case_id integer, email varchar, phone varchar, "
            "country_code varchar, idfa varchar, gaid varchar)"
        )
        con.executemany("insert into cases values (?, ?, ?, ?, ?, ?)", rows)
        con.execute(f"copy cases to '{path}' (format parquet)")


def project_with_hostile_audience(destination: Path, cases: Path) -> Path:
    copy = copy_project(destination)
    (copy / "models" / "audiences" / "hostile_identifiers.sql").write_text(
        f"select email, phone, country_code, idfa, gaid from read_parquet('{cases}')\n"
    )
    return copy


def build(workdir: Path, project_dir: Path, portable: bool) -> DbtProject:
    project = make_dbt_project(workdir)
    # The unit tests of the DuckDB path run in test_warehouse_build's fixture already.
    skip = [] if portable else ["--exclude-resource-type", "unit_test"]
    project.run(
        "build",
        *skip,
        project_dir=project_dir,
        vars={"tiktok_sync_portable_normalisation": portable},
    )
    return project


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DbtProject, DbtProject]]:
    root = tmp_path_factory.mktemp("portable")
    write_cases(root / "cases.parquet")
    project_dir = project_with_hostile_audience(root / "project", root / "cases.parquet")
    yield (
        build(root / "duckdb", project_dir, portable=False),
        build(root / "portable", project_dir, portable=True),
    )


def rows(project: DbtProject, sql: str) -> Counter[tuple[object, ...]]:
    with duckdb.connect(str(project.db_path), read_only=True) as con:
        return Counter(con.execute(sql).fetchall())


def run_sql(project: DbtProject, model: str) -> str:
    folder = project.workdir / "target" / "run" / PROJECT_NAME / "models"
    return next(folder.rglob(f"{model}.sql")).read_text()


def test_the_portable_build_ran_every_unit_test(builds: tuple[DbtProject, DbtProject]) -> None:
    _, portable = builds
    results = json.loads((portable.workdir / "target" / "run_results.json").read_text())
    unit = [r for r in results["results"] if r["unique_id"].startswith("unit_test.")]
    assert len(unit) >= 39
    assert {r["status"] for r in unit} == {"pass"}


def test_each_build_ran_its_own_sql(builds: tuple[DbtProject, DbtProject]) -> None:
    fast, portable = builds
    assert "phone_rule_sets" in run_sql(fast, "normalise_phone")
    assert "phone_rule_sets" not in run_sql(portable, "normalise_phone")
    # the email column and both advertising-id columns take the DuckDB shapes
    assert (
        run_sql(fast, "hostile_identifiers").count("given_shape is not null then given_shape") == 3
    )
    assert "given_shape" not in run_sql(portable, "hostile_identifiers")


def test_phone_corpus_rows_are_equal(builds: tuple[DbtProject, DbtProject]) -> None:
    sql = "select case_id, e164_digits, reason_code, id_hash from normalise_phone"
    fast, portable = (rows(p, sql) for p in builds)
    assert len(fast) >= 3000
    assert fast == portable


@pytest.mark.parametrize(
    "audience",
    [
        "hostile_identifiers",
        "demo_high_value_customers",
        "demo_mobile_app_users",
        "demo_newsletter_subscribers",
    ],
)
def test_audience_rows_are_equal(builds: tuple[DbtProject, DbtProject], audience: str) -> None:
    fast, portable = (rows(p, f"select * exclude (audience_key) from {audience}") for p in builds)
    assert len(fast) > 10
    assert fast == portable


def test_hostile_audience_exercises_every_outcome(builds: tuple[DbtProject, DbtProject]) -> None:
    reasons = rows(builds[0], "select source_column, reason_code from hostile_identifiers")
    seen = {(column, reason) for column, reason in reasons}
    for reason in (None, "email_non_ascii", "email_invalid_format", "email_too_long"):
        assert ("email", reason) in seen
    for reason in ("email_md5_not_supported", "hash_of_empty_string"):
        assert ("email", reason) in seen
    assert ("phone", None) in seen and ("idfa", "maid_zeroed") in seen
    for reason in (None, "maid_invalid_format", "maid_zeroed", "hash_of_empty_string"):
        assert ("gaid", reason) in seen
