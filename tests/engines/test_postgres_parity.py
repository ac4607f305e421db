"""The project on a real PostgreSQL server gives DuckDB's results, row for row.

`dbt build` (seeds, audiences, sync models, data and unit tests) runs twice on a throwaway
PostgreSQL (tests/engines/postgres.py), the second time against what the first left, and
once on DuckDB. Then every relation the project builds is compared as a multiset of rows
(timestamps left out): the audience tables (hash or rejection per value), members,
rejections, counts, the unit-test wrappers over the seeds, the views, and the seeds
themselves. Last, the same sync state (registry, acknowledged and unconfirmed members, an
orphaned audience) is written on both engines and the diff, summary and orphan views are
compared again.

Run: pytest tests/engines/test_postgres_parity.py (about 4 minutes on 2 busy cores);
skipped, with the reason, where PostgreSQL or dbt-postgres is not installed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml

from tests.dbt_support import DbtProject, make_dbt_project
from tests.engines.postgres import PostgresServer, unavailable_reason

pytestmark = pytest.mark.skipif(
    unavailable_reason() is not None, reason=f"PostgreSQL: {unavailable_reason()}"
)

SCHEMA = "tiktok_sync"

# Every relation dbt builds from SQL (seeds aside), compared row for row.
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
SEEDS = ["country_calling_codes", "demo_crm_customers", "demo_app_devices", "identifier_cases"]
# Columns that echo a seed value back and so differ where the seed loaded differently
# (test_seeds_load_the_same_values); what is computed from them is still compared.
ECHOED_SEED_COLUMNS = {"normalise_phone": {"raw_value"}}
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
    " select audience_key, '100' || cast(row_number() over (order by audience_key) as varchar),"
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
def server() -> Iterator[PostgresServer]:
    with PostgresServer() as started:
        yield started


def _project(workdir: Path, output: dict[str, Any]) -> DbtProject:
    project = make_dbt_project(workdir)
    profile = {"tiktok_sync": {"target": "engine", "outputs": {"engine": output}}}
    (workdir / "profiles.yml").write_text(yaml.safe_dump(profile))
    return project


@pytest.fixture(scope="module")
def built(
    server: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> tuple[PostgresServer, Path]:
    """Postgres built twice (unit tests included), DuckDB once (data only)."""
    postgres = _project(tmp_path_factory.mktemp("postgres"), server.profile_output(schema=SCHEMA))
    postgres.run("build")
    postgres.run("build")  # against the warehouse the first build left
    reference = make_dbt_project(tmp_path_factory.mktemp("duckdb"))
    reference.run("build", "--exclude-resource-type", "unit_test")
    return server, reference.db_path


def _normalise(value: Any) -> Any:
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return int(value)
    return value


def _agate_null(value: Any) -> bool:
    """A seed value agate loads as NULL (dbt_common agate_helper: Text null_values)."""
    return isinstance(value, str) and value.strip().lower() in ("", "null")


def _columns(server: PostgresServer, relation: str) -> list[str]:
    rows = server.query(
        "select column_name, data_type from information_schema.columns"
        " where table_schema = %s and table_name = %s order by ordinal_position",
        (SCHEMA, relation),
    )
    assert rows, f"{relation} does not exist on Postgres"
    ignored = ECHOED_SEED_COLUMNS.get(relation, set())
    return [
        name
        for name, data_type in rows
        if not data_type.startswith("timestamp") and name not in ignored
    ]


def _counter(rows: list[tuple[Any, ...]], as_null: Callable[[Any], bool]) -> Rows:
    return Counter(tuple(None if as_null(v) else _normalise(v) for v in row) for row in rows)


def _compare(
    server: PostgresServer,
    con: duckdb.DuckDBPyConnection,
    relation: str,
    as_null: Callable[[Any], bool] = lambda value: False,
) -> int:
    columns = _columns(server, relation)
    select = f"select {', '.join(columns)} from "
    expected = _counter(con.execute(select + relation).fetchall(), as_null)
    actual = _counter(server.query(select + f"{SCHEMA}.{relation}"), as_null)
    only_duckdb = expected - actual
    only_postgres = actual - expected
    assert not only_duckdb and not only_postgres, (
        f"{relation}: {sum(only_duckdb.values())} rows only on DuckDB, e.g. "
        f"{list(only_duckdb)[:3]}; {sum(only_postgres.values())} only on Postgres, e.g. "
        f"{list(only_postgres)[:3]} (columns {columns})"
    )
    return sum(actual.values())


def test_every_built_relation_equals_duckdb(built: tuple[PostgresServer, Path]) -> None:
    server, duckdb_path = built
    with duckdb.connect(str(duckdb_path), read_only=True) as con:
        counts = {relation: _compare(server, con, relation) for relation in BUILT}
    print("rows per relation (equal on both engines):", counts)
    assert counts["tiktok_audience_members"] > 7000
    assert counts["tiktok_rejected_identifiers"] > 0
    assert counts["normalise_phone"] > 3000


def test_seeds_load_the_same_values(built: tuple[PostgresServer, Path]) -> None:
    """Seeds are the inputs: equal, but for how dbt's CSV reader reads empty values.

    dbt-postgres (like every adapter but dbt-duckdb) reads seeds with agate, whose Text
    type loads a value that is whitespace-only or 'null' once stripped as NULL; dbt-duckdb
    keeps ' '. Either way no identifier comes of it (empty values are counted, not
    rejected), which test_every_built_relation_equals_duckdb shows.
    """
    server, duckdb_path = built
    with duckdb.connect(str(duckdb_path), read_only=True) as con:
        for relation in SEEDS:
            _compare(server, con, relation, as_null=_agate_null)


@pytest.mark.xfail(
    strict=True,
    reason="dbt's CSV reader for seeds (dbt_common agate_helper.from_csv opens the file "
    "without newline='') turns CR LF inside a quoted value into LF on every adapter but "
    "dbt-duckdb, which loads the file with DuckDB's own reader: phone_corpus case 3434 "
    "'+44\\r\\n20 7183 8750' loads as '+44\\n20 7183 8750' (same hash: both are "
    "whitespace). Escape CR in the corpus (~r, as ~t and ~n) to make the seeds equal.",
)
def test_phone_corpus_seed_loads_the_same_values(built: tuple[PostgresServer, Path]) -> None:
    server, duckdb_path = built
    with duckdb.connect(str(duckdb_path), read_only=True) as con:
        _compare(server, con, "phone_corpus")


def test_diff_over_the_same_sync_state_equals_duckdb(
    built: tuple[PostgresServer, Path],
) -> None:
    server, duckdb_path = built
    server.query(f"set search_path to {SCHEMA}")  # query() keeps one session
    with duckdb.connect(str(duckdb_path)) as con:
        for sql in STATE_SQL:
            con.execute(sql)
            server.query(sql)
        counts = {relation: _compare(server, con, relation) for relation in STATE_VIEWS}
        actions = Counter(
            action
            for (action,) in con.execute("select action from tiktok_audience_diff").fetchall()
        )
    print("rows per view with sync state (equal on both engines):", counts, dict(actions))
    assert actions["add"] and actions["remove"], actions
    assert counts["tiktok_orphaned_audiences"] == 1


def test_timestamps_are_written(built: tuple[PostgresServer, Path]) -> None:
    """The columns left out above are filled in on Postgres too."""
    server, _ = built
    rows = server.query(f"select count(*), count(built_at) from {SCHEMA}.tiktok_audience_members")
    assert rows[0][0] == rows[0][1] > 0
