"""DuckDB's own normalisers against the portable SQL, row for row.

On DuckDB, phones (`duckdb__phone_normalised_select`), emails
(`duckdb__email_identifiers_select`) and advertising ids
(`duckdb__maid_shaped_select`) are normalised by DuckDB-specific SQL;
Postgres, Snowflake, BigQuery and Spark run the portable `default__` SQL. Both
must give the same hash or the same rejection reason for every value. The
project is built twice on DuckDB, once with `tiktok_sync_portable_normalisation:
true` and every dbt unit test of the normalisers and audiences (the DuckDB path's
run in tests/test_warehouse_build.py; the sync models' unit tests are left out
here, since the variable does not reach their SQL), plus an audience over hostile
values (the phone corpus, generated emails and advertising ids), and every
row of every audience table and of the phone wrapper must be equal. The DuckDB
build is the sync tests' demo template plus that audience.

The same builds prove README "Guarantees", "Only hashes leave", for advertising ids: no value
of a raw `idfa`/`gaid` column reaches the members unhashed, and an id sent as *_MD5
before (a UUID without hyphens, i.e. the raw id) is removed and added as *_SHA256.
"""

from __future__ import annotations

import csv
import hashlib
import itertools
import json
import random
import re
import shutil
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from tests import ledger
from tests.dbt_support import PROJECT_DIR, PROJECT_NAME, DbtProject, copy_project, make_dbt_project
from tests.reference_normalisation import UNICODE_SPACES, normalise, sha256
from tests.warehouses import demo_template

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
    return values + raw_id_corpus()


def raw_id_corpus() -> list[str]:
    """What a raw advertising-id column may hold by mistake or malice: hex strings
    of every length in both cases, UUIDs in every spelling, the zero id and its hashes,
    wrapped in ASCII and Unicode spaces, and non-spaces that must not be deleted."""
    rng = random.Random(13)
    zero = "00000000-0000-0000-0000-000000000000"
    uuids = [zero, "5f3a2b18-9c4d-4e7f-b8e2-17d3a1e69b25"]
    uuids += [str(uuid.UUID(int=rng.getrandbits(128))) for _ in range(3)]
    values = []
    for length in range(1, 71):
        digits = "".join(rng.choices("0123456789abcdef", k=length))
        values += [digits, digits.upper(), "0" * length]
    for u in uuids:
        bare = u.replace("-", "")
        values += [u, u.upper(), bare, bare.upper(), "{" + u + "}", u.replace("-", ":")]
        values += [
            sha256(u),
            sha256(bare).upper(),
            hashlib.md5(u.encode()).hexdigest(),
        ]
        for space in UNICODE_SPACES + " \t":
            values += [space + bare + space, u[:8] + space + u[8:], space + u.upper()]
        values += [u + "\u2028", "\u00ad" + u, bare + "\u0085"]
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


def duckdb_build(workdir: Path, project_dir: Path, template: DbtProject) -> DbtProject:
    """The DuckDB path: the demo as the sync tests' template holds it (the same project, built
    with the same SQL; its target/ too) plus the hostile audience, built on a copy. The unit
    tests of the DuckDB path run in tests/test_warehouse_build.py."""
    project = make_dbt_project(workdir)
    shutil.copy(template.db_path, project.db_path)
    shutil.copytree(template.workdir / "target", project.workdir / "target")
    project.run("build", "--select", "hostile_identifiers", project_dir=project_dir)
    return project


# The package's own unit tests are the sync models' (models/sync/): the variable changes only
# the normalisers' SQL, so they would run exactly as in the DuckDB build (~20 s of this build).
SYNC_UNIT_TESTS = "package:tiktok_sync,resource_type:unit_test"


def portable_build(workdir: Path, project_dir: Path) -> DbtProject:
    project = make_dbt_project(workdir)
    project.run(
        "build",
        "--exclude",
        SYNC_UNIT_TESTS,
        project_dir=project_dir,
        vars={"tiktok_sync_portable_normalisation": True},
    )
    return project


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DbtProject, DbtProject]]:
    root = tmp_path_factory.mktemp("portable")
    write_cases(root / "cases.parquet")
    project_dir = project_with_hostile_audience(root / "project", root / "cases.parquet")
    yield (
        duckdb_build(root / "duckdb", project_dir, demo_template(tmp_path_factory)),
        portable_build(root / "portable", project_dir),
    )


def rows(project: DbtProject, sql: str) -> Counter[tuple[object, ...]]:
    with duckdb.connect(str(project.db_path), read_only=True) as con:
        return Counter(con.execute(sql).fetchall())


def run_sql(project: DbtProject, model: str) -> str:
    folder = project.workdir / "target" / "run" / PROJECT_NAME / "models"
    return next(folder.rglob(f"{model}.sql")).read_text()


def test_the_portable_build_ran_every_normaliser_unit_test(
    builds: tuple[DbtProject, DbtProject],
) -> None:
    _, portable = builds
    results = json.loads((portable.workdir / "target" / "run_results.json").read_text())
    unit = {r["unique_id"]: r["status"] for r in results["results"]}
    unit = {name: status for name, status in unit.items() if name.startswith("unit_test.")}
    assert set(unit.values()) == {"pass"}
    # every unit test of the integration-test project (the normalisers' and the audiences'),
    # none of the package's (the sync models')
    assert len([u for u in unit if u.startswith(f"unit_test.{PROJECT_NAME}.")]) >= 39
    assert not [u for u in unit if u.startswith("unit_test.tiktok_sync.")]


def test_each_build_ran_its_own_sql(builds: tuple[DbtProject, DbtProject]) -> None:
    fast, portable = builds
    assert "phone_rule_sets" in run_sql(fast, "normalise_phone")
    assert "phone_rule_sets" not in run_sql(portable, "normalise_phone")
    # the email column and both advertising-id columns take the DuckDB shapes
    assert (
        run_sql(fast, "hostile_identifiers").count("given_shape is not null then given_shape") == 3
    )
    assert "given_shape" not in run_sql(portable, "hostile_identifiers")


@pytest.mark.parametrize("wrapper", ["normalise_phone", "normalise_phone_crm"])
def test_phone_corpus_rows_are_equal(builds: tuple[DbtProject, DbtProject], wrapper: str) -> None:
    sql = f"select case_id, e164_digits, reason_code, id_hash from {wrapper}"
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


def raw_forms(value: str) -> set[str]:
    """A raw value as it could leave the warehouse: any case, with or without spaces and
    hyphens (every Unicode space of the rule and ASCII whitespace removed)."""
    compact = re.sub(f"[\\s{UNICODE_SPACES}]", "", value)
    forms = {value, compact}
    forms |= {f.replace("-", "") for f in forms}
    return {f.lower() for f in forms} | {f.upper() for f in forms}


@pytest.mark.parametrize("build", ["duckdb", "portable"])
def test_no_raw_advertising_id_reaches_tiktok_unhashed(
    builds: tuple[DbtProject, DbtProject], build: str
) -> None:
    project = builds[0] if build == "duckdb" else builds[1]
    members = rows(
        project,
        "select id_type, id_hash from tiktok_audience_members "
        "where audience_key = 'hostile_identifiers' and id_type not in "
        "('EMAIL_SHA256', 'PHONE_SHA256')",
    )
    assert len(members) > 10
    # an already-hashed id (64 hex) is passed through as documented: it is no raw id
    raw_values = [v for v in hostile_maids() if not re.fullmatch("[0-9a-fA-F]{64}", v.strip())]
    leaked = set().union(*(raw_forms(v) for v in raw_values))
    for id_type, id_hash in members:
        assert id_type in ("IDFA_SHA256", "GAID_SHA256"), (id_type, id_hash)
        assert re.fullmatch("[0-9a-f]{64}", str(id_hash)), id_hash
        assert id_hash not in leaked, f"{id_type} {id_hash} is a raw input"
    # MD5 types come only from the *_md5 columns, in every audience of the build
    for (audience_key,) in rows(project, "select audience_key from tiktok_audiences"):
        md5_columns = rows(
            project,
            f"select source_column from {audience_key} where id_type like '%\\_MD5' escape '\\'",
        )
        assert {c for (c,) in md5_columns} <= {"idfa_md5", "gaid_md5"}, audience_key


def test_ids_sent_as_md5_before_are_removed_and_added_as_sha256(
    builds: tuple[DbtProject, DbtProject], tmp_path: Path
) -> None:
    """Earlier versions sent a UUID without hyphens in idfa/gaid went out as IDFA_MD5 / GAID_MD5,
    the raw id. With that state acknowledged, the diff removes those and adds the SHA-256 of
    the hyphenated id; nothing else changes."""
    warehouse = tmp_path / "warehouse.duckdb"
    warehouse.write_bytes(builds[0].db_path.read_bytes())
    sent_as_md5: set[tuple[str, str]] = set()
    from_32_hex: set[tuple[str, str]] = set()
    from_others: set[tuple[str, str]] = set()
    for column, value in itertools.product(("idfa", "gaid"), set(hostile_maids())):
        outcome = normalise(column, value)
        if outcome is None or outcome.reason_code is not None:
            continue
        member = (str(outcome.id_type), str(outcome.id_hash))
        cleaned = re.sub(f"[\\s{UNICODE_SPACES}]", "", value).lower()
        if re.fullmatch("[0-9a-f]{32}", cleaned):
            sent_as_md5.add((f"{column.upper()}_MD5", cleaned))
            from_32_hex.add(member)
        else:
            from_others.add(member)
    with duckdb.connect(str(warehouse)) as con:
        desired = set(
            con.execute(
                "select id_type, id_hash from tiktok_audience_members "
                "where audience_key = 'hostile_identifiers'"
            ).fetchall()
        )
        before = (desired - (from_32_hex - from_others)) | sent_as_md5
        con.execute("create temp table sent_before (id_type varchar, id_hash varchar)")
        con.executemany("insert into sent_before values (?, ?)", sorted(before))
        ledger.register(con.execute, "hostile_identifiers", "1001", "7000000000000000001")
        ledger.acknowledge(
            con.execute,
            "select 'hostile_identifiers' as audience_key, '1001' as audience_id, "
            "'7000000000000000001' as advertiser_id, id_type, id_hash from sent_before",
        )
        diff = con.execute(
            "select action, id_type, id_hash from tiktok_audience_diff "
            "where audience_key = 'hostile_identifiers'"
        ).fetchall()
    assert len(sent_as_md5) >= 10
    assert {(t, h) for a, t, h in diff if a == "remove"} == sent_as_md5
    assert {(t, h) for a, t, h in diff if a == "add"} == from_32_hex - from_others
    assert from_32_hex - from_others
