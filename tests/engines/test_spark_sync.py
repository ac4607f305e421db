"""What only the Spark engine does: the session's metastore as the lock, its time zones, its
temporary views, the bounded stream, its install hints.

The Warehouse contract runs on Spark in test_sync_contract.py (targets "spark" and
"spark-lease"). These use the same warehouse (tests/engines/sync_targets.py builds the
integration project once per session on a local Spark 4 session, tests/engines/spark.py) and
the same SparkSession in this process; their scratch tables live in a schema of their own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from sync.emulator import Emulator, EmulatorConfig
from sync.engines import open_engine
from sync.engines.dbt_target import DbtTarget, render_target
from sync.errors import ConfigError
from sync.settings import WarehouseSettings
from tests.dbt_support import PROJECT_DIR
from tests.engines.sync_targets import EngineSyncEnv, SyncTarget, spark_target
from tests.sync_support import WRITE_PATHS

pytestmark = pytest.mark.spark

SCRATCH = "tiktok_sync_scratch"


def test_a_spark_target_without_the_adapter_names_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import dbt.adapters.factory

    def not_installed(name: str) -> None:
        raise ImportError(f"No module named 'dbt.adapters.{name}'")

    monkeypatch.setattr(dbt.adapters.factory, "load_plugin", not_installed)

    with pytest.raises(ConfigError) as missing:
        render_target({"type": "spark", "method": "session", "host": "NA"}, "profile", "prod")

    assert "dbt-spark adapter is not installed" in str(missing.value)
    assert "pip install 'tiktok-audience-sync[spark]'" in str(missing.value)


def test_a_spark_target_without_the_engine_module_names_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "sync.engines.spark", None)  # import fails (no pyspark)
    settings = WarehouseSettings(
        "spark",
        None,
        "analytics",
        "profile",
        "prod",
        dbt_target=DbtTarget("spark", None, "analytics", None),
    )

    with pytest.raises(ConfigError, match=r"\[spark\]"):
        open_engine(settings, read_only=False)


@pytest.mark.parametrize("method", ["thrift", "http", "odbc"])
def test_other_connection_methods_are_refused_in_one_line(method: str) -> None:
    from sync.engines.spark import SparkEngine

    target = DbtTarget("spark", None, "analytics", SimpleNamespace(method=method))

    with pytest.raises(ConfigError) as refused:
        SparkEngine.open(target)

    assert f"`method: {method}`" in str(refused.value) and "\n" not in str(refused.value)


@pytest.mark.parametrize(
    ("catalog", "uris", "url", "alone"),
    [
        pytest.param("hive", None, None, True, id="hive-default-embedded-derby"),
        pytest.param("hive", None, "jdbc:derby:;databaseName=/w/metastore_db", True, id="derby"),
        pytest.param("hive", "thrift://metastore:9083", None, False, id="metastore-service"),
        pytest.param("hive", None, "jdbc:mysql://db/metastore", False, id="jdbc-metastore"),
        pytest.param("hive", None, "jdbc:derby://db:1527/metastore", False, id="derby-server"),
        pytest.param("in-memory", None, None, True, id="in-memory-catalog"),
    ],
)
def test_the_lease_is_taken_unless_the_metastore_is_this_jvms_alone(
    catalog: str, uris: str | None, url: str | None, alone: bool
) -> None:
    from sync.engines.spark import exclusive_metastore

    assert exclusive_metastore(catalog, uris, url) is alone


# --- on the warehouse -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SyncTarget]:
    with spark_target(tmp_path_factory, tmp_path_factory.mktemp("spark-sync")) as built:
        built.query(f"create database if not exists {SCRATCH}")
        yield built


# Not `engine`: tests/conftest.py runs every test taking a fixture of that name once per engine.
@pytest.fixture
def sync_engine(target: SyncTarget) -> Iterator[Any]:
    from sync.engines.spark import SparkEngine

    settings = target.settings()
    assert settings.dbt_target is not None
    spark = SparkEngine.open(settings.dbt_target)
    yield spark
    spark.close()


def test_the_sessions_metastore_is_the_lock(sync_engine: Any) -> None:
    leases = f"select count(*) from {sync_engine.relation('tiktok_sync_locks')}"
    before = sync_engine.fetch(leases)

    assert sync_engine.holds_metastore_alone()  # the tests' profile: embedded Derby
    sync_engine.acquire_run_lock("run-alone")  # takes nothing: no lease event
    assert sync_engine.fetch(leases) == before


def test_a_second_process_is_refused_in_one_line_while_this_one_holds_the_metastore(
    target: SyncTarget,
) -> None:
    with Emulator(EmulatorConfig(qps=0)) as emulator:
        env = EngineSyncEnv(target.project, emulator, target=target)
        variables = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1"}
        for key, value in env.env().items():
            if value is None:
                variables.pop(key, None)
            else:
                variables[key] = value
        with target.open(lock_holder="run-holding"):  # this process's session has the metastore
            began = time.monotonic()
            second = subprocess.run(
                [sys.executable, "-m", "sync", "run", "--json", "--project-dir", str(PROJECT_DIR)],
                env=variables,
                capture_output=True,
                text=True,
                timeout=600,
            )
            took = time.monotonic() - began

        assert second.returncode == 2, second.stderr[-3000:]
        assert json.loads(second.stdout)["error"]["exit_code"] == 2  # the --json error object
        assert second.stderr.count("\n") == 1, second.stderr[-3000:]
        assert "locked by another process" in second.stderr
        assert "wait for it to finish" in second.stderr and "Traceback" not in second.stderr
        assert not [r for r in env.api_requests() if r["endpoint"] in WRITE_PATHS]
    print(f"second process refused after {took:.0f} s")


def test_timestamps_keep_their_instant_whatever_the_time_zones(
    target: SyncTarget, sync_engine: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = f"{SCRATCH}.instants"
    # Plain parquet tables cannot be replaced ([UNSUPPORTED_FEATURE.TABLE_OPERATION] ... does
    # not support REPLACE TABLE): dropped and created.
    target.query(f"drop table if exists {table}")
    target.query(f"create table {table} (n bigint, at timestamp) using parquet")
    at = datetime(2026, 3, 29, 1, 30, 0, 123456)  # an hour Europe/Berlin skips
    session = sync_engine.session()
    zone = session.conf.get("spark.sql.session.timeZone")
    monkeypatch.setenv("TZ", "America/Los_Angeles")  # this process's local time
    time.tzset()
    try:
        session.conf.set("spark.sql.session.timeZone", "Europe/Berlin")
        sync_engine.execute(f"insert into {table} values (1, cast(? as timestamp))", [at])
        fetched = sync_engine.fetch(f"select at from {table} where at = cast(? as timestamp)", [at])
        streamed = [
            batch.column("at").to_pylist()
            for batch in sync_engine.stream(f"select at from {table}", [], 10)
        ]
        # Microseconds since the epoch name the instant whatever the session's time zone.
        micros = sync_engine.fetch(f"select unix_micros(at) from {table}")
    finally:
        session.conf.set("spark.sql.session.timeZone", zone)
        monkeypatch.undo()
        time.tzset()

    assert fetched == [(at,)] and streamed == [[at]]
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    assert micros == [((at.replace(tzinfo=UTC) - epoch) // timedelta(microseconds=1),)]


def test_temporary_views_are_not_relations_dbt_built(sync_engine: Any) -> None:
    session = sync_engine.session()
    session.sql("create or replace temporary view tiktok_sync_not_built as select 1 as n")
    try:
        present = sync_engine.present_relations()
    finally:
        session.sql("drop view if exists tiktok_sync_not_built")

    assert "tiktok_sync_not_built" not in present and "tiktok_sync_batches" in present


def test_a_stream_reads_exact_batches_in_order_and_can_stop_half_way(
    target: SyncTarget, sync_engine: Any
) -> None:
    table = f"{SCRATCH}.numbers"
    target.query(f"drop table if exists {table}")
    target.query(
        f"create table {table} using parquet as "
        "select id, sha2(cast(id as string), 256) as id_hash from range(25000)"
    )

    batches = list(sync_engine.stream(f"select id from {table} order by id", [], 10_000))
    with closing(sync_engine.stream(f"select id from {table} order by id", [], 100)) as stopped:
        first = next(stopped)
    sync_engine.execute(f"insert into {table} values (cast(? as bigint), ?)", [25_000, "x"])

    assert [b.num_rows for b in batches] == [10_000, 10_000, 5_000]
    assert [v for b in batches for v in b.column("id").to_pylist()] == list(range(25_000))
    assert first.column("id").to_pylist() == list(range(100))
    assert sync_engine.fetch(f"select count(*) from {table}") == [(25_001,)]


def test_an_error_without_a_known_fix_names_the_spark_log(sync_engine: Any) -> None:
    with pytest.raises(sync_engine.driver_errors) as failed:
        sync_engine.fetch("select assert_true(false, 'the reason')")

    message = str(sync_engine.error(failed.value, "checking"))

    assert message.startswith("Spark failed while checking: ") and "the reason" in message
    assert "\n" not in message
    if sync_engine._log is not None:  # only when this engine started the JVM
        assert message.endswith(f"Spark's log: {sync_engine._log}")
