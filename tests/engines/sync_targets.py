"""The warehouses the sync contract (test_sync_contract.py) runs on, one builder per engine.

Each builder starts the engine (or its double), builds integration_tests/ there with dbt (demo
day 0; unit tests left out: they do not depend on the data, and tests/test_warehouse_build.py and
the engine's dbt-side suite run them) and yields a `SyncTarget`: a dbt profile whose default
target is that warehouse, and `query()` through the engine's own driver. To run the contract on
another engine, add a builder to BUILDERS.
"""

from __future__ import annotations

import atexit
import shutil
import subprocess
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml

from sync.settings import WarehouseSettings, load_warehouse
from sync.warehouse import Warehouse
from tests.dbt_support import PROJECT_DIR, PROJECT_NAME, DbtProject
from tests.sync_support import SyncEnv, demo_template

# A build on a double is several times slower than on DuckDB; on a loaded machine, much more.
BUILD_TIMEOUT = 1800

# The tables the sync job appends to. Emptied between tests: the state is derived from them, so
# empty ledgers are the warehouse `dbt build` left, before any sync.
LEDGER = (
    "tiktok_sync_changes",
    "tiktok_sync_batches",
    "tiktok_sync_registry_events",
    "tiktok_sync_create_requests",
    "tiktok_sync_locks",
    "tiktok_sync_run_history",
    "tiktok_sync_audience_size_history",
)

Query = Callable[[str], list[tuple[Any, ...]]]


@dataclass
class SyncTarget:
    """A warehouse built by dbt, as the sync job reaches it."""

    name: str
    project: DbtProject  # its workdir holds profiles.yml, default target = this warehouse
    output: dict[str, Any]  # the target in profiles.yml
    query: Query  # through the engine's driver, for checks
    lease: bool  # one run at a time is a lease in tiktok_sync_locks
    is_double: bool
    # How to empty one table (`{table}`); crucible has no TRUNCATE (nor DELETE).
    empty: str = "truncate table {table}"
    # Without a lease: what holds one run at a time instead, and where that is tested.
    lock: str = "the DuckDB file lock: tests/test_concurrency.py"

    def settings(self, schema: str | None = None) -> WarehouseSettings:
        """The warehouse as `tiktok-sync` loads it; `schema`: another schema of it."""
        profiles = self.project.workdir
        if schema is not None:
            profiles = self.project.workdir / f"schema-{schema}"
            # `dataset` is dbt-bigquery's other name for the schema: one of them only.
            output = {k: v for k, v in self.output.items() if k != "dataset"}
            write_profile(profiles, {**output, "schema": schema})
        return load_warehouse(PROJECT_DIR, profiles)

    def open(self, lock_holder: str | None = None) -> Warehouse:
        return Warehouse.open(self.settings(), lock_holder=lock_holder)

    def reset(self) -> None:
        for table in LEDGER:
            self.query(self.empty.format(table=table))


def write_profile(directory: Path, output: dict[str, Any]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    profile = {PROJECT_NAME: {"target": "warehouse", "outputs": {"warehouse": output}}}
    (directory / "profiles.yml").write_text(yaml.safe_dump(profile))


@contextmanager
def duckdb_target(tmp_path_factory: pytest.TempPathFactory, workdir: Path) -> Iterator[SyncTarget]:
    """A copy of the session's demo warehouse (tests/sync_support.py builds it once)."""
    project = DbtProject(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    shutil.copy(demo_template(tmp_path_factory).db_path, project.db_path)
    output = {"type": "duckdb", "path": str(project.db_path), "threads": 1}
    write_profile(workdir, output)

    def query(sql: str) -> list[tuple[Any, ...]]:
        with duckdb.connect(str(project.db_path)) as con:
            return con.execute(sql).fetchall()

    yield SyncTarget("duckdb", project, output, query, lease=False, is_double=False)


@contextmanager
def snowflake_target(
    tmp_path_factory: pytest.TempPathFactory, workdir: Path
) -> Iterator[SyncTarget]:
    """fakesnow in server mode (tests/engines/snowflake.py): a DOUBLE of Snowflake."""
    from tests.engines import snowflake

    if reason := snowflake.unavailable_reason():
        pytest.skip(reason)
    with snowflake.start(workdir) as engine:
        project = DbtProject(workdir / "dbt")
        output = engine.profile_output()
        write_profile(project.workdir, output)
        project.run("build", "--exclude-resource-type", "unit_test", timeout=BUILD_TIMEOUT)
        yield SyncTarget("snowflake", project, output, engine.query, lease=True, is_double=True)


@contextmanager
def bigquery_target(
    tmp_path_factory: pytest.TempPathFactory, workdir: Path
) -> Iterator[SyncTarget]:
    """crucible (tests/engines/bigquery.py): a DOUBLE of BigQuery's REST API, on DuckDB."""
    from tests.engines import bigquery

    if reason := bigquery.unavailable_reason():
        pytest.skip(reason)
    with bigquery.start(workdir) as engine:
        project = DbtProject(workdir / "dbt")
        output = engine.profile_output()
        write_profile(project.workdir, output)
        project.run("build", "--exclude-resource-type", "unit_test", timeout=BUILD_TIMEOUT)

        def query(sql: str) -> list[tuple[Any, ...]]:
            # Unqualified names are the target's dataset's; BigQuery's TIMESTAMPs come back
            # zone-aware, in UTC: naive UTC as the sync job writes them, for comparisons.
            return [
                tuple(_naive_utc(value) for value in row)
                for row in engine.query(sql, dataset=bigquery.SCHEMA)
            ]

        yield SyncTarget(
            "bigquery",
            project,
            output,
            query,
            lease=True,
            is_double=True,
            empty="create or replace table {table} as select * from {table} where false",
        )


@contextmanager
def redshift_target(
    tmp_path_factory: pytest.TempPathFactory, workdir: Path
) -> Iterator[SyncTarget]:
    """redshift_connector, opened by dbt-redshift, on a real PostgreSQL server behind a startup
    shim (tests/engines/redshift.py): a DOUBLE of Redshift.

    dbt-postgres builds the demo; dbt-redshift then runs the sync models' lock check and the
    sync job reads and writes through dbt-redshift's connection. dbt-redshift's own build of the
    demo runs on the double, but Redshift's SQL has no optimisation fence, and PostgreSQL's
    planner then inlines the phone normaliser into thousands of regexp_replace calls: the
    audience with phones took 134 s on an idle double and over 7 minutes and 5 GB of server
    memory on a busy machine, the normalise_phone wrapper's data tests over 400 s each.
    """
    from tests.engines import redshift

    if reason := redshift.unavailable_reason():
        pytest.skip(reason)
    with redshift.start() as engine:
        built_by = DbtProject(workdir / "dbt-postgres")
        write_profile(built_by.workdir, engine.server.profile_output(schema=redshift.SCHEMA))
        built_by.run("build", "--exclude-resource-type", "unit_test", timeout=BUILD_TIMEOUT)
        engine.read_literals_as_redshift()
        project = DbtProject(workdir / "dbt")
        output = engine.profile_output()
        write_profile(project.workdir, output)
        yield SyncTarget("redshift", project, output, engine.query, lease=True, is_double=True)


@dataclass
class SparkDbtProject(DbtProject):
    """dbt on the Spark session's warehouse: its JVM needs the embedded Derby metastore alone,
    so the test process's own Spark session (the sync job's) stops before every dbt command."""

    engine: Any = None

    def run(self, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        self.engine.stop_session()
        kwargs["env"] = {**self.engine.env(), **(kwargs.get("env") or {})}
        # A Spark `dbt build` took 7-12 minutes on two busy cores (the parity test's timings),
        # past DbtProject's default of 10.
        kwargs.setdefault("timeout", 1800)
        return super().run(*args, **kwargs)


_spark_builds: dict[str, tuple[Any, SparkDbtProject]] = {}


def _spark_build(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, SparkDbtProject]:
    """The integration project built once on a local Spark session, for both Spark targets
    (each test starts from empty ledgers: nothing one target's tests write reaches the other's).
    The warehouse is deleted when the session ends."""
    from tests.engines import spark

    if reason := spark.unavailable_reason():
        pytest.skip(reason)
    if "spark" not in _spark_builds:
        engine = spark.SparkEngine()
        engine.start()
        atexit.register(engine.stop)
        project = SparkDbtProject(tmp_path_factory.getbasetemp() / "sync-spark", engine=engine)
        write_profile(project.workdir, engine.profile_output())
        project.run("build", "--exclude-resource-type", "unit_test")
        _spark_builds["spark"] = (engine, project)
    return _spark_builds["spark"]


@contextmanager
def spark_target(tmp_path_factory: pytest.TempPathFactory, workdir: Path) -> Iterator[SyncTarget]:
    """dbt-spark's local session (tests/engines/spark.py): Spark 4 itself, plain parquet tables,
    an embedded Derby metastore. Its JVM is the lock (sync/engines/spark.py): no lease."""
    engine, project = _spark_build(tmp_path_factory)
    yield SyncTarget(
        "spark",
        project,
        engine.profile_output(),
        engine.session_query,
        lease=False,
        is_double=False,
        lock="Spark's embedded Derby metastore: tests/engines/test_spark_sync.py",
    )
    engine.stop_session()


@contextmanager
def spark_lease_target(
    tmp_path_factory: pytest.TempPathFactory, workdir: Path
) -> Iterator[SyncTarget]:
    """The same Spark warehouse, the engine taking the lease as it does on a shared metastore
    (and as Databricks does, with the same SQL)."""
    from sync.engines.spark import SparkEngine

    engine, project = _spark_build(tmp_path_factory)
    alone = SparkEngine.holds_metastore_alone
    SparkEngine.holds_metastore_alone = lambda self: False  # type: ignore[method-assign]
    try:
        yield SyncTarget(
            "spark-lease",
            project,
            engine.profile_output(),
            engine.session_query,
            lease=True,
            is_double=False,
        )
    finally:
        SparkEngine.holds_metastore_alone = alone  # type: ignore[method-assign]
        engine.stop_session()


def _naive_utc(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


BUILDERS: dict[
    str, Callable[[pytest.TempPathFactory, Path], AbstractContextManager[SyncTarget]]
] = {
    "duckdb": duckdb_target,
    "snowflake": snowflake_target,
    "bigquery": bigquery_target,
    "redshift": redshift_target,
    # Marked `spark` both (the marker is the name up to a dash).
    "spark": spark_target,
    "spark-lease": spark_lease_target,
}


@dataclass
class EngineSyncEnv(SyncEnv):
    """tests/sync_support.SyncEnv (the CLI, the emulator, convergence) on any SyncTarget."""

    target: SyncTarget | None = None

    def query(self, sql: str, params: Any = ()) -> list[tuple[Any, ...]]:
        assert self.target is not None and not params
        return self.target.query(sql)

    def history(self) -> list[dict[str, Any]]:
        columns = ("run_id", "audience_key", "status", "adds_sent", "removes_sent")
        rows = self.query(
            f"select {', '.join(columns)} from tiktok_sync_run_history order by started_at"
        )
        return [dict(zip(columns, row, strict=True)) for row in rows]
