"""Every engine builds the project with DuckDB's results, row for row.

For each engine (tests/engines/<engine>.py starts it: a real PostgreSQL server, or the local
doubles of Snowflake and BigQuery, or a local Spark session) `dbt build` of the integration
project - seeds, the demo audiences, the sync models, data tests and dbt unit tests - runs twice
in a row, the second time against what the first left (without the unit tests, which read only
their fixture rows, and the unchanged seeds). Then every relation it built is compared with
DuckDB's as a multiset of rows (timestamps left out): the audience tables (hash or rejection per
input value), members, rejections, counts, the unit-test wrappers over the seeds, the views, and
the seeds themselves.
Last, the same ledger (registry events, acknowledged batches, a batch sent without an answer, an
audience whose model was deleted) is appended on both engines, and the views that derive the
state from it, the diff among them, are compared again.

Each engine runs behind its marker, in `make test-engines` (make test-postgres,
test-snowflake, test-bigquery, test-spark). An engine that cannot start here is skipped with
the reason its module gives.
"""

from __future__ import annotations

import importlib
import json
from collections import Counter
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import duckdb
import pytest
import yaml

from tests.dbt_support import DbtProject, make_dbt_project
from tests.sync_support import demo_template

PROFILE = "tiktok_sync_integration_tests"

# Every relation dbt builds from SQL, compared row for row.
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
    # The suppression list's values, hashed (or rejected) and fingerprinted per engine.
    "tiktok_suppression_entries",
    "normalise_phone",
    "normalise_phone_crm",
    "normalise_identifiers",
    # The package's calling-code macro as a model: the same rows and types on every engine.
    "country_calling_codes",
]
SEEDS = [
    "demo_crm_customers",
    "demo_app_devices",
    "identifier_cases",
    "phone_corpus",
    "phone_corpus_crm",
]
# The views over the ledger, compared once the same ledger rows are on both engines.
STATE_VIEWS = [
    "tiktok_sync_audience_registry",
    "tiktok_sync_acknowledged_members",
    "tiktok_sync_unconfirmed_changes",
    "tiktok_audience_targets",
    "tiktok_audience_diff",
    "tiktok_audience_summary",
    "tiktok_orphaned_audiences",
    "tiktok_suppression_evidence",
]

# The same ledger on every engine, in SQL every engine reads the same way. {name} is a relation,
# {string} the engine's string type. Every audience gets a TikTok id; about half its members are
# acknowledged, plus a hash that is no member (a remove); a second batch was sent without an
# answer: removes of wanted members (added again) and an add of a non-member (removed); and an
# audience whose model was deleted keeps a registry entry and a member.
STATE_SQL = [
    "insert into {tiktok_sync_registry_events} (event_seq, event, audience_key, audience_id,"
    " advertiser_id, api, audience_name, created_at, created_by_run_id, run_id, event_at)"
    " select row_number() over (order by audience_key), 'created', audience_key,"
    " concat('100', cast(row_number() over (order by audience_key) as {string})),"
    " '7000000000000000001', api, audience_name, current_timestamp, 'parity', 'parity',"
    " current_timestamp from {tiktok_audiences}",
    "insert into {tiktok_sync_registry_events} (event_seq, event, audience_key, audience_id,"
    " advertiser_id, api, audience_name, created_at, created_by_run_id, run_id, event_at)"
    " select 100, 'created', 'deleted_audience', '999', '7000000000000000001', 'streaming',"
    " 'Deleted', current_timestamp, 'parity', 'parity', current_timestamp",
    "insert into {tiktok_sync_changes} (run_id, audience_key, batch_no, id_type, id_hash, action)"
    " select 'parity', audience_key, 1, id_type, id_hash, 'add' from {tiktok_audience_members}"
    " where id_hash < '8'"
    " union all"
    " select 'parity', audience_key, 1, 'EMAIL_SHA256', repeat('f', 64), 'add'"
    " from {tiktok_audiences}"
    " union all"
    " select 'parity', audience_key, 2, id_type, id_hash, 'remove' from {tiktok_audience_members}"
    " where id_hash like '0%'"
    " union all"
    " select 'parity', audience_key, 2, 'EMAIL_SHA256', repeat('e', 64), 'add'"
    " from {tiktok_audiences}",
    "insert into {tiktok_sync_batches} (run_id, audience_key, batch_no, batch_seq, event, kind,"
    " audience_id, advertiser_id, api, identifier_count, request_id, event_at)"
    " select 'parity', audience_key, 1, 1, 'sent', 'mapping', audience_id, advertiser_id, api,"
    " 0, 'parity-1', current_timestamp from {tiktok_sync_audience_registry}"
    " union all"
    " select 'parity', audience_key, 1, 1, 'acknowledged', 'mapping', audience_id,"
    " advertiser_id, api, 0, 'parity-1', current_timestamp from {tiktok_sync_audience_registry}"
    " union all"
    " select 'parity', audience_key, 2, 2, 'sent', 'mapping', audience_id, advertiser_id, api,"
    " 0, 'parity-2', current_timestamp from {tiktok_sync_audience_registry}",
    "insert into {tiktok_audience_members} (audience_key, id_type, id_hash, built_at)"
    " select 'deleted_audience', 'EMAIL_SHA256', repeat('d', 64), current_timestamp",
]
STATE_TABLES = [
    "tiktok_sync_registry_events",
    "tiktok_audiences",
    "tiktok_sync_changes",
    "tiktok_audience_members",
    "tiktok_sync_batches",
    "tiktok_sync_audience_registry",
]

Rows = Counter[tuple[Any, ...]]

ENGINES = [
    pytest.param("postgres", marks=pytest.mark.postgres),
    pytest.param("snowflake", marks=pytest.mark.snowflake),
    pytest.param("bigquery", marks=pytest.mark.bigquery),
    pytest.param("spark", marks=pytest.mark.spark),
]


def engine_module(name: str) -> ModuleType:
    """tests/engines/<name>.py, or a skip naming why it cannot run here."""
    module = importlib.import_module(f"tests.engines.{name}")
    reason = module.unavailable_reason()
    if reason is not None:
        pytest.skip(f"{name}: {reason}")
    return module


class Built:
    """One engine after two builds, and the DuckDB reference."""

    def __init__(self, name: str, server: Any, project: DbtProject, reference: Path) -> None:
        self.name, self.server, self.project, self.reference = name, server, project, reference
        self.string_type = "string" if name in ("bigquery", "spark") else "varchar"

    def relation(self, name: str) -> str:
        return str(self.server.relation(name))

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in self.server.query(sql)]


@pytest.fixture(scope="module", params=ENGINES)
def built(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Built]:
    name = request.param
    module = engine_module(name)
    workdir = tmp_path_factory.mktemp(name)
    (workdir / "engine").mkdir()
    server = module.start(workdir / "engine")
    try:
        project = make_dbt_project(workdir / "dbt")
        profile = {
            PROFILE: {
                "target": name,
                "outputs": {name: server.profile_output(schema=module.SCHEMA, threads=1)},
            }
        }
        (project.workdir / "profiles.yml").write_text(yaml.safe_dump(profile))
        # The engine's own environment for dbt (Spark: its local address); an hour, as a
        # Spark build on two busy cores takes ten minutes and more.
        env = server.env() if hasattr(server, "env") else {}
        project.run("build", env=env, timeout=3600)
        assert_every_node_passed(project, build=1)
        # The second against what the first left: every model and data test again. Not what
        # would only repeat the first: dbt's unit tests (they read their
        # fixture rows, not the warehouse) and the seeds (the same rows loaded again by dbt's
        # own truncate-and-insert; minutes on Postgres, where dbt-postgres inserts them
        # through Python).
        project.run(
            "build",
            *("--exclude-resource-type", "unit_test", "--exclude-resource-type", "seed"),
            env=env,
            timeout=3600,
        )
        assert_every_node_passed(project, build=2)
        reference = demo_template(tmp_path_factory)
        yield Built(name, server, project, reference.db_path)
    finally:
        server.stop()


def assert_every_node_passed(project: DbtProject, build: int) -> None:
    results = json.loads((project.workdir / "target" / "run_results.json").read_text())
    statuses = Counter(r["status"] for r in results["results"])
    unit_tests = [r for r in results["results"] if r["unique_id"].startswith("unit_test.")]
    # The one warning: the demo's suppression list holds a value that is no email on purpose.
    warned = {r["unique_id"].split(".")[2] for r in results["results"] if r["status"] == "warn"}
    assert warned == {"suppression_list_values_that_suppress_nothing"}, f"build {build}: {warned}"
    assert set(statuses) <= {"success", "pass", "warn"}, f"build {build}: {statuses}"
    expected = 47 if build == 1 else 0
    assert len(unit_tests) >= expected, f"build {build} ran {len(unit_tests)} unit tests"


def _normalise(value: Any) -> Any:
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _agate_null(value: Any) -> bool:
    """A seed value dbt's CSV reader (agate) loads as NULL on every adapter but dbt-duckdb:
    whitespace-only or 'null'. No identifier comes of it either way (empty values are counted,
    not rejected), which the built relations show."""
    return isinstance(value, str) and value.strip().lower() in ("", "null")


def _counter(rows: list[tuple[Any, ...]], as_null: Callable[[Any], bool]) -> Rows:
    return Counter(tuple(None if as_null(v) else _normalise(v) for v in row) for row in rows)


def _columns(con: duckdb.DuckDBPyConnection, relation: str) -> list[str]:
    """The relation's columns but timestamps, from the DuckDB reference (same definitions)."""
    rows = con.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_name = ? order by ordinal_position",
        [relation],
    ).fetchall()
    assert rows, f"{relation} is not in the DuckDB reference"
    return [str(name) for name, data_type in rows if "TIMESTAMP" not in str(data_type)]


def compare(
    built: Built,
    con: duckdb.DuckDBPyConnection,
    relation: str,
    as_null: Callable[[Any], bool] = lambda value: False,
) -> int:
    columns = _columns(con, relation)
    listed = ", ".join(columns)
    expected = _counter(con.execute(f"select {listed} from {relation}").fetchall(), as_null)
    actual = _counter(built.query(f"select {listed} from {built.relation(relation)}"), as_null)
    only_duckdb, only_engine = expected - actual, actual - expected
    assert not only_duckdb and not only_engine, (
        f"{relation}: {sum(only_duckdb.values())} rows only on DuckDB, e.g. "
        f"{list(only_duckdb)[:3]}; {sum(only_engine.values())} only on {built.name}, e.g. "
        f"{list(only_engine)[:3]} (columns {columns})"
    )
    return sum(actual.values())


def test_every_built_relation_equals_duckdb(built: Built) -> None:
    with duckdb.connect(str(built.reference), read_only=True) as con:
        counts = {relation: compare(built, con, relation) for relation in BUILT}
    print(f"{built.name}: rows per relation, equal to DuckDB's:", counts)
    assert counts["tiktok_audience_members"] > 7000
    assert counts["tiktok_rejected_identifiers"] > 0
    assert counts["normalise_phone"] > 3000
    assert counts["normalise_phone_crm"] > 3000


def test_seeds_load_the_same_values(built: Built) -> None:
    with duckdb.connect(str(built.reference), read_only=True) as con:
        for relation in SEEDS:
            compare(built, con, relation, as_null=_agate_null)


def test_the_views_over_the_same_ledger_equal_duckdb(
    built: Built, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # A copy of the reference: the ledger rows go into it, not the session's template.
    reference = tmp_path_factory.mktemp("reference") / "warehouse.duckdb"
    reference.write_bytes(built.reference.read_bytes())
    with duckdb.connect(str(reference)) as con:
        for sql in STATE_SQL:
            con.execute(sql.format(string="varchar", **{t: t for t in STATE_TABLES}))
            built.query(
                sql.format(string=built.string_type, **{t: built.relation(t) for t in STATE_TABLES})
            )
        counts = {relation: compare(built, con, relation) for relation in STATE_VIEWS}
        actions = Counter(
            action
            for (action,) in con.execute("select action from tiktok_audience_diff").fetchall()
        )
    print(f"{built.name}: rows per view over the ledger, equal to DuckDB's:", counts)
    assert actions["add"] and actions["remove"], actions
    assert counts["tiktok_sync_unconfirmed_changes"] > 0
    assert counts["tiktok_orphaned_audiences"] == 1


def test_the_timestamps_left_out_above_are_written(built: Built) -> None:
    rows = built.query(
        f"select count(*), count(built_at) from {built.relation('tiktok_audience_members')}"
    )
    assert rows[0][0] > 7000 and rows[0][0] == rows[0][1]
