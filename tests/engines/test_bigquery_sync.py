"""What only the BigQuery engine does: its install hint, its parameters, its error lines.

The rest of its behaviour is the engine contract (test_sync_contract.py). These run against the
crucible double (tests/engines/bigquery.py) without a dbt build; the install hints and the
typing of parameters need no double at all.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from sync.engines import open_engine
from sync.engines.dbt_target import DbtTarget, render_target
from sync.errors import ConfigError
from sync.settings import WarehouseSettings
from tests.engines import bigquery

pytestmark = pytest.mark.bigquery

SECRET = "ya29.token-that-must-never-show"


def test_a_bigquery_target_without_the_adapter_names_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import dbt.adapters.factory

    def not_installed(name: str) -> None:
        raise ImportError(f"No module named 'dbt.adapters.{name}'")

    monkeypatch.setattr(dbt.adapters.factory, "load_plugin", not_installed)

    with pytest.raises(ConfigError) as missing:
        render_target({"type": "bigquery", "method": "oauth"}, "profile", "prod")

    assert "dbt-bigquery adapter is not installed" in str(missing.value)
    assert "pip install 'tiktok-audience-sync[bigquery]'" in str(missing.value)


def test_a_bigquery_target_without_the_engine_module_names_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "sync.engines.bigquery", None)  # import fails
    settings = WarehouseSettings(
        "bigquery",
        None,
        "analytics",
        "profile",
        "prod",
        dbt_target=DbtTarget("bigquery", "project", "analytics", None),
    )

    with pytest.raises(ConfigError, match=r"\[bigquery\]"):
        open_engine(settings, read_only=False)


def test_an_invalid_target_says_why_in_one_line_without_its_token() -> None:
    # dbt nests the reason under two "Runtime Error" headers.
    output = {"type": "bigquery", "method": "oauth-secrets", "token": SECRET, "project": "p"}

    with pytest.raises(ConfigError) as invalid:
        render_target({**output, "dataset": "a", "schema": "b"}, "profile", "prod")

    assert str(invalid.value) == (
        "target 'prod' of profile 'profile' is not valid for dbt: Credentials in profile "
        '"profile", target "prod" invalid: Got duplicate keys: (dataset) all map to "schema"'
    )


@pytest.mark.parametrize(
    ("sql", "values", "types"),
    [
        pytest.param(
            "values (?, cast(? as bigint), cast(? as timestamp), cast(? as boolean))",
            ["run", 7, datetime(2026, 12, 3), True],
            ["STRING", "INT64", "TIMESTAMP", "BOOL"],
            id="by-value",
        ),
        pytest.param(
            "values (?, cast(? as bigint), cast( ? AS TIMESTAMP ), cast(? as boolean))",
            [None, None, None, None],
            ["STRING", "INT64", "TIMESTAMP", "BOOL"],
            id="nulls-typed-by-their-cast",
        ),
        pytest.param(
            "where n in (?, ?) and x = ? and d = ?",
            [False, 2**62, 1.5, Decimal("1.10")],
            ["BOOL", "INT64", "FLOAT64", "NUMERIC"],
            id="bool-is-not-an-int",
        ),
    ],
)
def test_values_travel_as_typed_positional_parameters(
    sql: str, values: list[Any], types: list[str]
) -> None:
    from sync.engines.bigquery import parameters

    bound = parameters(sql, values)

    assert [p.name for p in bound] == [None] * len(values)  # positional: the `?` stay
    assert [p.type_ for p in bound] == types
    assert [p.value for p in bound] == values


def test_a_count_mismatch_is_refused_before_anything_is_sent() -> None:
    from sync.engines.bigquery import parameters

    with pytest.raises(ValueError, match="2 placeholders but 1 values"):
        parameters("select ?, ?", ["one"])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[bigquery.BigQueryEngine]:
    if reason := bigquery.unavailable_reason():
        pytest.skip(reason)
    with bigquery.start(Path(tmp_path_factory.mktemp("crucible"))) as engine:
        engine.client().create_dataset(bigquery.SCHEMA)
        yield engine


@pytest.fixture
def engine(server: bigquery.BigQueryEngine) -> Iterator[Any]:
    """The sync job's engine on the double, its profile with a token to keep out of errors."""
    from sync.engines.bigquery import BigQueryEngine

    output = {**server.profile_output(), "token": SECRET}
    opened = BigQueryEngine.open(render_target(output, "profile", "double"))
    yield opened
    opened.close()
    opened.close()  # idempotent


def test_the_connection_is_dbt_bigquerys_client(engine: Any) -> None:
    from google.cloud import bigquery as driver

    assert isinstance(engine._client, driver.Client)
    assert engine.relation("tiktok_sync_batches") == (
        f"`{bigquery.PROJECT}`.`{bigquery.SCHEMA}`.`tiktok_sync_batches`"
    )


def test_values_are_bound_not_interpreted(engine: Any) -> None:
    table = engine.relation("binding_check")
    engine.execute(f"create or replace table {table} (t string, n int64, ts timestamp, b bool)")
    at = datetime(2026, 12, 3, 23, 59, 59, 999999)
    hostile = "x'); drop table binding_check; -- \\ %s ? @p 100% \n\r `q` \"q\" '''"
    engine.execute(
        f"insert into {table} (t, n, ts, b) "
        "values (?, cast(? as bigint), cast(? as timestamp), cast(? as boolean))",
        [hostile, 2**62, engine.now_param(at), None],
    )
    engine.execute(
        f"insert into {table} (t, n, ts, b) "
        "values (?, cast(? as bigint), cast(? as timestamp), cast(? as boolean))",
        [None, None, None, False],
    )

    rows = engine.fetch(f"select t, n, ts, b from {table} where t = ?", [hostile])
    assert [(t, n, ts.replace(tzinfo=None), b) for t, n, ts, b in rows] == [
        (hostile, 2**62, at, None)
    ]
    assert engine.fetch(f"select t, n, ts, b from {table} where t is null") == [
        (None, None, None, False)
    ]


def test_streams_come_in_record_batches_of_at_most_the_size_asked(engine: Any) -> None:
    table = engine.relation("stream_check")
    engine.execute(
        f"create or replace table {table} as "
        "select n, to_hex(sha256(cast(n as string))) as id_hash "
        "from unnest(generate_array(1, 25)) as n"
    )

    batches = list(engine.stream(f"select n, id_hash from {table} order by n", (), 10))

    assert [b.num_rows for b in batches] == [10, 10, 5]
    assert [b.schema.names for b in batches] == [["n", "id_hash"]] * 3
    assert [n for b in batches for n in b.column("n").to_pylist()] == list(range(1, 26))


def test_a_driver_error_is_one_line_with_its_fix_and_no_credential(engine: Any) -> None:
    with pytest.raises(engine.driver_errors) as missing:
        engine.fetch(f"select * from {engine.relation('no_such_table')}")
    with pytest.raises(engine.driver_errors) as syntax:
        engine.fetch(f"select '{SECRET}' frm nowhere where")

    line = str(engine.error(missing.value, "reading tiktok_audience_diff"))
    assert line.startswith("BigQuery failed while reading tiktok_audience_diff: Not found: Table")
    assert "run `dbt build` with this project and profile" in line
    assert "\n" not in line and "http" not in line  # no method and URL of the REST call
    other = str(engine.error(syntax.value, "reading"))
    assert other.startswith("BigQuery failed while reading: Syntax error") and "\n" not in other
    # BigQuery does not echo the SQL; should a message ever hold the profile's token, it goes.
    from google.api_core.exceptions import BadRequest

    echoed = BadRequest(f"Unrecognized name: {SECRET}\nat [1:8]")
    assert str(engine.error(echoed, "reading")) == (
        "BigQuery failed while reading: Unrecognized name: [redacted] at [1:8]; "
        "nothing more was sent; see the message (dbt debug checks the connection)"
    )


def test_relations_are_listed_lower_case_tables_and_views(
    engine: Any, server: bigquery.BigQueryEngine
) -> None:
    server.query(f"create or replace table {server.relation('Listed_Table')} (n int64)")
    server.query(f"create or replace view {server.relation('listed_view')} as select 1 as n")

    present = engine.present_relations()

    assert {"listed_table", "listed_view"} <= present
    assert all(name == name.lower() for name in present)


def test_a_dataset_that_does_not_exist_lists_no_relations(server: bigquery.BigQueryEngine) -> None:
    from sync.engines.bigquery import BigQueryEngine

    output = server.profile_output(schema="never_built")
    opened = BigQueryEngine.open(render_target(output, "profile", "double"))
    try:
        assert opened.present_relations() == set()
    finally:
        opened.close()


def test_the_storage_read_api_is_used_only_with_bigquerys_own_endpoint(engine: Any) -> None:
    # Through api_endpoint (the double, a proxy) results come as REST pages: no gRPC to guess.
    assert engine._storage() is None
    pytest.importorskip("google.cloud.bigquery_storage")
    engine._use_storage = True  # as for a profile without api_endpoint; nothing is read here

    read_client = engine._storage()

    assert type(read_client).__name__ == "BigQueryReadClient"
    assert engine._storage() is read_client  # made once
