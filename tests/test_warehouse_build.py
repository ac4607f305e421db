"""dbt really runs on a real DuckDB file: the demo project end to end.

Checks what the warehouse hands to the sync job: every hash equals the
documented normalisation computed again in Python, every rejected value has a
reason, empty values are only counted, and a rebuild with the shifted demo day
yields exactly the expected adds and removes against acknowledged state.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import duckdb
import pytest

from tests import ledger
from tests.dbt_support import PROJECT_NAME, DbtProject, copy_project, make_dbt_project
from tests.reference_normalisation import HASHED_COLUMNS, normalise
from tests.warehouses import demo_template

IDENTIFIER_COLUMNS = ["email", "phone", "idfa", "gaid", *HASHED_COLUMNS]
Member = tuple[str, str]  # (id_type, id_hash)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> DbtProject:
    """The demo as dbt built it (the sync tests' template, with its target/), and dbt's unit
    tests run on a copy: the template leaves them out, they do not depend on the data."""
    template = demo_template(tmp_path_factory)
    project = make_dbt_project(tmp_path_factory.mktemp("warehouse"))
    shutil.copy(template.db_path, project.db_path)
    shutil.copytree(template.workdir / "target", project.workdir / "target")
    project.run("test", "--select", "test_type:unit")
    return project


def query(project: DbtProject, sql: str) -> list[tuple[object, ...]]:
    with duckdb.connect(str(project.db_path), read_only=True) as con:
        return con.execute(sql).fetchall()


def audiences(project: DbtProject) -> list[tuple[str, str, str]]:
    rows = query(project, "select audience_key, api, mode from tiktok_audiences order by 1")
    return [(str(k), str(a), str(m)) for k, a, m in rows]


def compiled_audience_sql(project: DbtProject, audience_key: str) -> str:
    manifest = json.loads((project.workdir / "target" / "manifest.json").read_text())
    node = manifest["nodes"][f"model.{PROJECT_NAME}.{audience_key}"]
    path = project.workdir / "target" / "compiled" / PROJECT_NAME / node["original_file_path"]
    return path.read_text()


def expected_outcomes(project: DbtProject, audience_key: str) -> dict[str, Counter[object]]:
    """Per identifier column, a multiset of Python outcomes for the model's rows."""
    sql = compiled_audience_sql(project, audience_key)
    with duckdb.connect(str(project.db_path), read_only=True) as con:
        relation = con.sql(sql)
        columns = [c.lower() for c in relation.columns]
        rows = relation.fetchall()
    outcomes: dict[str, Counter[object]] = {}
    for column in IDENTIFIER_COLUMNS:
        if column not in columns:
            continue
        index = columns.index(column)
        country_index = columns.index("country_code") if "country_code" in columns else None
        counter: Counter[object] = Counter()
        for row in rows:
            country = row[country_index] if country_index is not None else None
            outcome = normalise(column, row[index], country=country)
            counter[outcome] += 1
        outcomes[column] = counter
    return outcomes


def test_every_dbt_unit_test_ran_and_passed(built: DbtProject) -> None:
    # The one DuckDB run of the suite that runs them: the builds exclude them (they do not
    # depend on the data); tests/test_portable_normalisation.py runs them on the portable SQL.
    results = json.loads((built.workdir / "target" / "run_results.json").read_text())
    unit = [r for r in results["results"] if r["unique_id"].startswith("unit_test.")]
    assert len(unit) >= 43
    assert {r["status"] for r in unit} == {"pass"}
    phone = [r for r in unit if ".normalise_phone." in r["unique_id"]]
    assert len(phone) >= 15, [r["unique_id"] for r in unit]


def test_demo_has_audiences_covering_every_identifier_column_and_both_apis(
    built: DbtProject,
) -> None:
    listed = audiences(built)
    assert len(listed) >= 3
    assert {api for _, api, _ in listed} == {"streaming", "customer_file"}
    seen = {
        str(c)
        for (c,) in query(built, "select distinct source_column from tiktok_identifier_counts")
    }
    assert seen == set(IDENTIFIER_COLUMNS)


def test_every_sql_hash_equals_the_documented_normalisation(built: DbtProject) -> None:
    phone_sql = phone_python = phone_both = 0
    for audience_key, _, _ in audiences(built):
        expected = expected_outcomes(built, audience_key)
        for column, outcomes in expected.items():
            actual = query(
                built,
                f"select id_type, id_hash, reason_code from {audience_key} "
                f"where source_column = '{column}'",
            )
            sql_valid = Counter((t, h) for t, h, r in actual if r is None)
            py_valid = Counter(
                (o.id_type, o.id_hash)
                for o, n in outcomes.items()
                for _ in range(n)
                if o is not None and o.reason_code is None
            )
            empties = outcomes[None]
            counts = query(
                built,
                "select empty_count, valid_count, rejected_count from tiktok_identifier_counts "
                f"where audience_key = '{audience_key}' and source_column = '{column}'",
            )
            assert counts[0][0] == empties, f"{audience_key}.{column}: empty values counted"
            if column != "phone":
                assert sql_valid == py_valid, f"{audience_key}.{column}: hashes differ"
                sql_reasons = Counter(r for _, _, r in actual if r is not None)
                py_reasons = Counter(
                    o.reason_code
                    for o, n in outcomes.items()
                    for _ in range(n)
                    if o is not None and o.reason_code is not None
                )
                assert sql_reasons == py_reasons, f"{audience_key}.{column}: reasons differ"
            else:
                # SQL may reject what libphonenumber accepts (it is stricter on
                # purpose) but must never emit a hash libphonenumber disagrees with.
                extra = sql_valid - py_valid
                assert not extra, f"{audience_key}.phone: hashes libphonenumber never gives"
                phone_sql += sum(sql_valid.values())
                phone_python += sum(py_valid.values())
                phone_both += sum((sql_valid & py_valid).values())
    if phone_python:
        print(
            f"\nphone agreement on the demo set: {phone_both}/{phone_python} "
            f"({phone_both / phone_python:.1%}) of numbers libphonenumber accepts "
            f"got the same hash in SQL; SQL accepted {phone_sql}"
        )
        assert phone_both / phone_python >= 0.85


def test_rejected_identifiers_never_hold_raw_pii(built: DbtProject) -> None:
    rows = query(
        built,
        "select source_column, masked_value, value_length, reason, value_fingerprint "
        "from tiktok_rejected_identifiers",
    )
    assert rows, "the demo data has invalid values; they must be kept with a reason"
    for column, masked, length, reason, fingerprint in rows:
        assert reason, column
        assert isinstance(masked, str) and "***" in masked and len(masked) <= 5
        assert isinstance(length, int) and length > 0
        assert isinstance(fingerprint, str) and len(fingerprint) == 64


def test_second_build_with_shifted_day_yields_exactly_the_changed_identifiers(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # A copy of the demo as built at demo_day 0, built again below with the day shifted.
    project = make_dbt_project(tmp_path / "shift")
    shutil.copy(demo_template(tmp_path_factory).db_path, project.db_path)
    day0 = members_by_audience(project)
    # Pretend the sync job delivered everything on day 0: register a TikTok
    # id per audience and acknowledge every member under it.
    configured = audiences(project)
    with duckdb.connect(str(project.db_path)) as con:
        execute = con.execute
        for n, (key, api, _) in enumerate(configured, start=1):
            ledger.register(execute, key, f"100{n}", "7000000000000000001", api)
        ledger.acknowledge(
            execute,
            "select m.audience_key, r.audience_id, r.advertiser_id, m.id_type, m.id_hash "
            "from tiktok_audience_desired_members m "
            "join tiktok_sync_audience_registry r using (audience_key)",
            run_id="day0",
        )
        assert con.execute("select count(*) from tiktok_audience_diff").fetchone() == (0,)

    project.run("build", "--exclude-resource-type", "unit_test", vars={"demo_day": 1})
    day1 = members_by_audience(project)
    diff = query(project, "select audience_key, id_type, id_hash, action from tiktok_audience_diff")
    modes = {key: mode for key, _, mode in audiences(project)}
    for audience_key, mode in modes.items():
        adds = {(t, h) for k, t, h, a in diff if k == audience_key and a == "add"}
        removes = {(t, h) for k, t, h, a in diff if k == audience_key and a == "remove"}
        assert adds == day1[audience_key] - day0[audience_key], audience_key
        expected_removes = day0[audience_key] - day1[audience_key] if mode == "mirror" else set()
        assert removes == expected_removes, audience_key
        assert adds, f"{audience_key}: the shifted demo day should add someone"
        if mode == "mirror":
            assert removes, f"{audience_key}: the shifted demo day should remove someone"

    # The diff is read at query time: acknowledging part of it removes exactly that part.
    with duckdb.connect(str(project.db_path)) as con:
        before = con.execute("select count(*) from tiktok_audience_diff").fetchone()
        ledger.acknowledge(
            con.execute,
            "select audience_key, audience_id, advertiser_id, id_type, id_hash "
            "from tiktok_audience_diff where action = 'add'",
            run_id="day1",
        )
        after = con.execute(
            "select count(*), count(*) filter (where action = 'add') from tiktok_audience_diff"
        ).fetchone()
    assert before is not None and after is not None
    assert after[1] == 0 and after[0] < before[0]


def members_by_audience(project: DbtProject) -> dict[str, set[Member]]:
    result: dict[str, set[Member]] = {}
    for key, id_type, id_hash in query(
        project, "select audience_key, id_type, id_hash from tiktok_audience_desired_members"
    ):
        result.setdefault(str(key), set()).add((str(id_type), str(id_hash)))
    return result


BAD_CONFIGS = [
    pytest.param(
        "{{ config(meta={'tiktok': {'api': 'stream'}}) }}\nselect 'a@example.com' as email",
        "meta.tiktok.api is 'stream'",
        id="unknown-api",
    ),
    pytest.param(
        "{{ config(meta={'tiktok': {'mode': 'replace'}}) }}\nselect 'a@example.com' as email",
        "meta.tiktok.mode is 'replace'",
        id="unknown-mode",
    ),
    pytest.param(
        "{{ config(meta={'tiktok': {'mdoe': 'mirror'}}) }}\nselect 'a@example.com' as email",
        "unknown key 'mdoe'",
        id="misspelt-key",
    ),
    pytest.param(
        "select 'a@example.com' as mail, 1 as customer_id",
        "has no identifier column",
        id="no-identifier-column",
    ),
    pytest.param(
        "{{ config(meta={'tiktok': {'audience_name': '" + "x" * 71 + "'}}) }}\n"
        "select 'a@example.com' as email",
        "allow at most 70",
        id="streaming-name-too-long",
    ),
    pytest.param(
        "{{ config(meta={'tiktok': {'audience_id': '12; drop table x'}}) }}\n"
        "select 'a@example.com' as email",
        "must be TikTok's numeric id",
        id="audience-id-not-numeric",
    ),
]


@pytest.fixture(scope="module")
def bad_build(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Every bad config as an audience model of its own, built by one `dbt build` (a failing
    model does not stop the others): each model's message, from run_results.json."""
    root = tmp_path_factory.mktemp("bad-configs")
    copy = copy_project(root / "project")
    for case in BAD_CONFIGS:
        model_sql, _ = case.values
        (copy / "models" / "audiences" / f"bad_{case.id}.sql".replace("-", "_")).write_text(
            str(model_sql)
        )
    project = make_dbt_project(root / "dbt")
    proc = project.run("build", "--select", "bad_*", project_dir=copy, check=False)
    assert proc.returncode != 0
    results = json.loads((project.workdir / "target" / "run_results.json").read_text())
    return {
        result["unique_id"].rsplit(".", 1)[1]: f"{result['status']}: {result['message']}"
        for result in results["results"]
    }


@pytest.mark.parametrize(("model_sql", "message"), BAD_CONFIGS)
def test_bad_audience_config_fails_the_build_naming_model_and_fix(
    bad_build: dict[str, str], request: pytest.FixtureRequest, model_sql: str, message: str
) -> None:
    model = f"bad_{request.node.callspec.id}".replace("-", "_")
    outcome = bad_build.get(model, "not built")
    assert outcome.startswith("error: "), outcome
    assert f"audience model '{model}'" in outcome and message in outcome, outcome
