"""The project on a real local Spark 4 gives DuckDB's results, row for row.

`dbt build` (seeds, audiences, sync models, data and unit tests) runs twice on a throwaway
Spark warehouse (tests/engines/spark.py: dbt-spark's `session` method, plain parquet tables),
the second time against what the first left, and once on DuckDB. Then every relation the
project builds is compared as a multiset of rows (timestamps left out): the audience tables
(hash or rejection per value), members, rejections, counts, the unit-test wrappers over the
seeds (phone corpus included), and the views. Last, the same sync state (registry,
acknowledged and unconfirmed members, an orphaned audience) is written on both engines and
the diff, summary and orphan views are compared again.

Slow: every dbt invocation starts a JVM, and Spark plans each of the build's ~125 nodes;
the two builds take several minutes each on 2 cores.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml

from tests.dbt_support import DBT, PROJECT_DIR, DbtProject, make_dbt_project
from tests.engines.spark import SparkEngine, unavailable_reason

pytestmark = pytest.mark.skipif(
    unavailable_reason() is not None, reason=f"Spark: {unavailable_reason()}"
)

SCHEMA = "tiktok_sync"

# Every relation dbt builds, compared row for row (seeds too: Spark loads them with
# macros/seeds/spark__load_csv_rows.sql).
SEEDS = [
    "country_calling_codes",
    "demo_app_devices",
    "demo_crm_customers",
    "identifier_cases",
    "phone_corpus",
]
BUILT = [
    "demo_high_value_customers",
    "demo_mobile_app_users",
    "demo_newsletter_subscribers",
    "tiktok_audience_members",
    "tiktok_rejected_identifiers",
    "tiktok_identifier_counts",
    "tiktok_audiences",
    "tiktok_audience_targets",
    "tiktok_audience_diff",
    "tiktok_audience_summary",
    "tiktok_orphaned_audiences",
    "normalise_phone",
    "normalise_identifiers",
]
STATE_VIEWS = [
    "tiktok_audience_targets",
    "tiktok_audience_diff",
    "tiktok_audience_summary",
    "tiktok_orphaned_audiences",
]

# The same sync state on both engines, in SQL both read the same way.
STATE_SQL = [
    # every audience registered under its own TikTok id
    "insert into tiktok_sync_audience_registry (audience_key, audience_id, advertiser_id, api,"
    " audience_name, created_at, created_by_run_id)"
    " select audience_key, '100' || cast(row_number() over (order by audience_key) as string),"
    " '7000000000000000001', api, audience_name, current_timestamp, 'parity'"
    " from tiktok_audiences",
    # about half the members acknowledged, plus one hash per audience that is no member
    "insert into tiktok_sync_acknowledged_members (audience_key, audience_id, advertiser_id,"
    " id_type, id_hash, acknowledged_at, run_id)"
    " select m.audience_key, r.audience_id, r.advertiser_id, m.id_type, m.id_hash,"
    " current_timestamp, 'parity' from tiktok_audience_members m"
    " inner join tiktok_sync_audience_registry r on m.audience_key = r.audience_key"
    " where m.id_hash < '8'"
    " union all"
    " select audience_key, audience_id, advertiser_id, 'EMAIL_SHA256', repeat('f', 64),"
    " current_timestamp, 'parity' from tiktok_sync_audience_registry",
    # sent without an answer: removes of wanted members, adds of non-members
    "insert into tiktok_sync_unconfirmed_changes (audience_key, audience_id, advertiser_id,"
    " id_type, id_hash, action, sent_at, run_id)"
    " select m.audience_key, r.audience_id, r.advertiser_id, m.id_type, m.id_hash, 'remove',"
    " current_timestamp, 'parity' from tiktok_audience_members m"
    " inner join tiktok_sync_audience_registry r on m.audience_key = r.audience_key"
    " where m.id_hash like '0%'"
    " union all"
    " select audience_key, audience_id, advertiser_id, 'EMAIL_SHA256', repeat('e', 64), 'add',"
    " current_timestamp, 'parity' from tiktok_sync_audience_registry",
    # an audience whose model was deleted
    "insert into tiktok_sync_audience_registry (audience_key, audience_id, advertiser_id, api,"
    " audience_name, created_at, created_by_run_id)"
    " values ('deleted_audience', '999', '7000000000000000001', 'streaming', 'Deleted',"
    " current_timestamp, 'parity')",
    "insert into tiktok_audience_members (audience_key, id_type, id_hash, built_at)"
    " values ('deleted_audience', 'EMAIL_SHA256', repeat('d', 64), current_timestamp)",
]

Rows = Counter[tuple[Any, ...]]


@pytest.fixture(scope="module")
def engine() -> Iterator[SparkEngine]:
    with SparkEngine() as started:
        yield started


def _project(workdir: Path, output: dict[str, Any]) -> DbtProject:
    project = make_dbt_project(workdir)
    profile = {"tiktok_sync": {"target": "engine", "outputs": {"engine": output}}}
    (workdir / "profiles.yml").write_text(yaml.safe_dump(profile))
    return project


def _timed_build(project: DbtProject, env: dict[str, str]) -> float:
    """`dbt build`; DbtProject.run's 10-minute limit is too short for Spark on 2 cores."""
    started = time.monotonic()
    proc = subprocess.run(
        [DBT, "build", "--project-dir", str(PROJECT_DIR)],
        env={**project.env(), **env},
        capture_output=True,
        text=True,
        cwd=PROJECT_DIR,
        timeout=3600,
    )
    assert proc.returncode == 0, f"dbt build failed:\n{proc.stdout[-6000:]}\n{proc.stderr[-3000:]}"
    return time.monotonic() - started


def _unit_tests(project: DbtProject) -> Counter[str]:
    results = json.loads((project.workdir / "target" / "run_results.json").read_text())
    return Counter(
        r["status"] for r in results["results"] if r["unique_id"].startswith("unit_test.")
    )


@pytest.fixture(scope="module")
def built(
    engine: SparkEngine, tmp_path_factory: pytest.TempPathFactory
) -> tuple[SparkEngine, Path]:
    """Spark built twice (unit tests included), DuckDB once (data only)."""
    spark = _project(tmp_path_factory.mktemp("spark"), engine.profile_output(schema=SCHEMA))
    first = _timed_build(spark, engine.env())
    first_unit_tests = _unit_tests(spark)
    second = _timed_build(spark, engine.env())  # against the warehouse the first build left
    reference = make_dbt_project(tmp_path_factory.mktemp("duckdb"))
    reference.run("build", "--exclude-resource-type", "unit_test")
    print(f"Spark dbt build: first {first:.0f} s, second {second:.0f} s")
    for unit_tests in (first_unit_tests, _unit_tests(spark)):
        assert unit_tests["pass"] >= 43 and set(unit_tests) == {"pass"}, unit_tests
    return engine, reference.db_path


def _normalise(value: Any) -> Any:
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _columns(engine: SparkEngine, relation: str) -> list[str]:
    columns: list[str] = []
    for name, data_type, *_ in engine.query(f"describe table {SCHEMA}.{relation}"):
        if not name or name.startswith("#"):  # partition information follows
            break
        if not data_type.startswith("timestamp"):
            columns.append(name)
    assert columns, f"{relation} does not exist on Spark"
    return columns


def _seed_value(value: Any) -> Any:
    """A seed cell as dbt's CSV reader (agate) hands it to every adapter but DuckDB.

    dbt-duckdb reads seed files with DuckDB itself; the others get agate's values, where
    a cell that is blank or 'null' once stripped is NULL (dbt_common's agate_helper,
    Text(null_values=("null", ""))). Either way such a value is no identifier: it is
    counted as empty, and the models' rows agree (BUILT).
    """
    if isinstance(value, str) and value.strip().lower() in ("", "null"):
        return None
    return _seed_text(value)


def _seed_text(value: Any) -> Any:
    """dbt opens seed files in Python's universal-newline mode: a CR LF inside a quoted
    value (phone_corpus case 3434) reaches every adapter but DuckDB as LF."""
    return value.replace("\r\n", "\n") if isinstance(value, str) else value


def _rows_spark(engine: SparkEngine, relation: str, columns: list[str]) -> Rows:
    sql = f"select {', '.join(columns)} from {SCHEMA}.{relation}"
    return Counter(tuple(_normalise(v) for v in row) for row in engine.query(sql))


def _rows_duckdb(con: duckdb.DuckDBPyConnection, relation: str, columns: list[str]) -> Rows:
    rows = con.execute(f"select {', '.join(columns)} from {relation}").fetchall()
    if relation in SEEDS:
        rows = [tuple(_seed_value(v) for v in row) for row in rows]
    elif relation == "normalise_phone":  # its raw_value is the seed's, as loaded
        rows = [tuple(_seed_text(v) for v in row) for row in rows]
    return Counter(tuple(_normalise(v) for v in row) for row in rows)


def _compare(engine: SparkEngine, con: duckdb.DuckDBPyConnection, relation: str) -> int:
    columns = _columns(engine, relation)
    expected = _rows_duckdb(con, relation, columns)
    actual = _rows_spark(engine, relation, columns)
    only_duckdb = expected - actual
    only_spark = actual - expected
    assert not only_duckdb and not only_spark, (
        f"{relation}: {sum(only_duckdb.values())} rows only on DuckDB, e.g. "
        f"{list(only_duckdb)[:3]}; {sum(only_spark.values())} only on Spark, e.g. "
        f"{list(only_spark)[:3]} (columns {columns})"
    )
    return sum(actual.values())


def test_every_built_relation_equals_duckdb(built: tuple[SparkEngine, Path]) -> None:
    engine, duckdb_path = built
    with duckdb.connect(str(duckdb_path), read_only=True) as con:
        counts = {relation: _compare(engine, con, relation) for relation in SEEDS + BUILT}
    print("rows per relation (equal on both engines):", counts)
    assert counts["tiktok_audience_members"] > 7000
    assert counts["tiktok_rejected_identifiers"] > 0
    assert counts["normalise_phone"] > 3000


def test_empty_seed_cells_load_as_null(built: tuple[SparkEngine, Path]) -> None:
    """Not the string 'None' (dbt-spark's session cursor), which would hash as a value."""
    engine, _ = built
    rows = engine.query(
        f"select count(*), count(trunk_prefix), sum(case when trunk_prefix = 'None' then 1 end)"
        f" from {SCHEMA}.country_calling_codes"
    )
    total, with_prefix, none_strings = rows[0]
    assert total > with_prefix > 0
    assert none_strings is None


def test_diff_over_the_same_sync_state_equals_duckdb(built: tuple[SparkEngine, Path]) -> None:
    engine, duckdb_path = built
    engine.query(f"use {SCHEMA}")  # query() keeps one session
    with duckdb.connect(str(duckdb_path)) as con:
        for sql in STATE_SQL:
            con.execute(sql)
            engine.query(sql)
        counts = {relation: _compare(engine, con, relation) for relation in STATE_VIEWS}
        actions = Counter(
            action
            for (action,) in con.execute("select action from tiktok_audience_diff").fetchall()
        )
    print("rows per view with sync state (equal on both engines):", counts, dict(actions))
    assert actions["add"] and actions["remove"], actions
    assert counts["tiktok_orphaned_audiences"] == 1


def test_timestamps_are_written(built: tuple[SparkEngine, Path]) -> None:
    """The columns left out above are filled in on Spark too."""
    engine, _ = built
    rows = engine.query(f"select count(*), count(built_at) from {SCHEMA}.tiktok_audience_members")
    assert rows[0][0] == rows[0][1] > 0
