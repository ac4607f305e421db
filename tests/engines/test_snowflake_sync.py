"""What only the Snowflake engine does: its install hint, its error lines, its binding.

The rest of its behaviour is the engine contract (test_sync_contract.py). These run against the
fakesnow double without a dbt build; the install hints need no double at all.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from sync.engines import open_engine
from sync.engines.dbt_target import DbtTarget, render_target
from sync.errors import ConfigError
from sync.settings import WarehouseSettings
from tests.engines import snowflake

SECRET = "pw-that-must-never-show"


def test_a_snowflake_target_without_the_adapter_names_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import dbt.adapters.factory

    def not_installed(name: str) -> None:
        raise ImportError(f"No module named 'dbt.adapters.{name}'")

    monkeypatch.setattr(dbt.adapters.factory, "load_plugin", not_installed)

    with pytest.raises(ConfigError) as missing:
        render_target({"type": "snowflake", "account": "a"}, "profile", "prod")

    assert "dbt-snowflake adapter is not installed" in str(missing.value)
    assert "pip install 'tiktok-audience-sync[snowflake]'" in str(missing.value)


def test_a_snowflake_target_without_the_engine_module_names_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "sync.engines.snowflake", None)  # import fails
    settings = WarehouseSettings(
        "snowflake",
        None,
        "ANALYTICS",
        "profile",
        "prod",
        dbt_target=DbtTarget("snowflake", "DB", "ANALYTICS", None),
    )

    with pytest.raises(ConfigError, match=r"\[snowflake\]"):
        open_engine(settings, read_only=False)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[snowflake.SnowflakeEngine]:
    if reason := snowflake.unavailable_reason():
        pytest.skip(reason)
    with snowflake.start(tmp_path_factory.mktemp("fakesnow")) as engine:
        engine.query("create schema if not exists ANALYTICS")
        yield engine


@pytest.fixture
def engine(server: snowflake.SnowflakeEngine) -> Iterator[Any]:
    """The sync job's engine on the double, its profile with a password to keep out of errors."""
    from sync.engines.snowflake import SnowflakeEngine

    output = {**server.profile_output(), "password": SECRET}
    opened = SnowflakeEngine.open(render_target(output, "profile", "double"))
    yield opened
    opened.close()
    opened.close()  # idempotent


@pytest.mark.snowflake
def test_values_are_bound_not_interpreted(engine: Any) -> None:
    table = engine.relation("binding_check")
    engine.execute(f"create or replace table {table} (t varchar, n bigint, ts timestamp_ntz)")
    at = datetime(2026, 12, 3, 23, 59, 59, 999999)
    hostile = "x'); drop table binding_check; -- \\ %s ? 100%"
    engine.execute(
        f"insert into {table} (t, n, ts) values (?, cast(? as bigint), cast(? as timestamp))",
        [hostile, 2**62, engine.now_param(at)],
    )

    assert engine.fetch(f"select t, n, ts from {table} where t = ?", [hostile]) == [
        (hostile, 2**62, at)
    ]
    # Streams come back with lower-case column names, in record batches of the size asked.
    batches = list(engine.stream(f"select t as T, n from {table}", (), 1))
    assert [b.schema.names for b in batches] == [["t", "n"]]


@pytest.mark.snowflake
def test_a_driver_error_is_one_line_with_its_fix_and_no_credential(engine: Any) -> None:
    with pytest.raises(engine.driver_errors) as missing:
        engine.fetch("select * from no_such_table")
    with pytest.raises(engine.driver_errors) as syntax:
        engine.fetch(f"select '{SECRET}' frm nowhere where")

    line = str(engine.error(missing.value, "reading tiktok_audience_diff"))
    assert line.startswith("Snowflake failed while reading tiktok_audience_diff: 002003")
    assert line.endswith(
        "run `dbt build` with this project and profile, and check the role may read the schema"
    )
    assert "\n" not in line
    other = str(engine.error(syntax.value, "reading"))
    assert SECRET not in other and "\n" not in other and "[redacted]" in other


@pytest.mark.snowflake
def test_relations_are_listed_lower_case_tables_and_views(
    engine: Any, server: snowflake.SnowflakeEngine
) -> None:
    server.query("create or replace table ANALYTICS.Listed_Table (n int)")
    server.query("create or replace view analytics.listed_view as select 1 as n")

    present = engine.present_relations()

    assert {"listed_table", "listed_view"} <= present
    assert all(name == name.lower() for name in present)
