"""The warehouse under a sync test on Spark: a local Spark 4 session (tests/engines/spark.py).

The `WarehouseUnderTest` of tests/warehouses.py for the guarantee tests under `pytest -m spark`
(make test-spark; never in make test). Two things shape it:

- The Hive metastore is an embedded Derby database, which one JVM at a time can open: the test
  process's own Spark session (the in-process CLI's, and the tests' SQL through the sync job's
  engine, as DoubleWarehouse has it) stops before dbt or a `tiktok-sync` process starts
  (`before_another_process`), and a process that ended or was killed leaves its JVM to exit
  after it: the test process waits for it before it opens the metastore again (`settle`).
- The metastore keeps each table's location as an absolute path. So a test's copy of the demo
  is the template's files put back in the same directory: dbt builds the demo once per session
  in the engine's directory, which is then copied aside; each test deletes the directory and
  copies the template back (the tests run one after another in one process, make test-spark).

SQL goes through the sync job's own engine for the target (sync/engines/spark.py), so `query`
takes the `?` placeholders the sync job's SQL does.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

import pyarrow as pa
import pytest

from tests.engine_warehouses import DoubleWarehouse
from tests.engines.spark import SCHEMA
from tests.engines.sync_targets import SparkDbtProject
from tests.warehouses import SERVER_DEMO_BUILD, Warehouses, WarehouseUnderTest

# How long a Spark JVM takes to exit after its Python process ended or was killed: its gateway
# exits when its stdin closes, which takes a second or two, longer on a busy machine.
JVM_EXIT_TIMEOUT = 120.0


class SparkWarehouse(DoubleWarehouse):
    """Schema tiktok_sync of the session's Spark warehouse; the profile's default target is it."""

    engine = "spark"
    types: ClassVar[dict[pa.DataType, str]] = {
        pa.string(): "string",
        pa.large_string(): "string",
        pa.int64(): "bigint",
        pa.int32(): "int",
        pa.bool_(): "boolean",
    }
    # Plain parquet tables have no DELETE.
    empty_sql = "truncate table {table}"
    sha256_sql = "sha2({expression}, 256)"

    def __init__(self, workdir: Path, server: Any) -> None:
        super().__init__(workdir, server)
        self.project = SparkDbtProject(workdir, engine=server)
        self._schema_session: Any = None
        self._base_session: Any = None

    def env(self) -> dict[str, str]:
        return dict(self.server.env())

    def _placeholder(self, field: pa.Field) -> str:
        # Datetimes are bound as UTC strings (sync/engines/base_spark.py), which Spark stores
        # in a TIMESTAMP column only through a cast.
        return "cast(? as timestamp)" if pa.types.is_timestamp(field.type) else "?"

    def before_another_process(self) -> None:
        self.server.stop_session()

    def settle(self) -> None:
        if not _session_running():
            wait_for_other_jvms(self.server.workdir)

    def _session(self) -> Any:
        """A session of the sync job's (same JVM, settings and metastore; started as the sync
        job starts it) whose current schema is the target's, for the tests' unqualified names;
        the sync job's own session keeps its current schema."""
        from sync.engines.spark import fresh_catalog

        self.settle()
        spark = self.sql().session()  # type: ignore[attr-defined]
        if self._schema_session is None or self._base_session is not spark:
            self._schema_session = spark.newSession()
            self._schema_session.catalog.setCurrentDatabase(SCHEMA)
            self._base_session = spark
        fresh_catalog(self._schema_session)  # what the sync job wrote since the last query
        return self._schema_session

    def _arrow(self, sql: str, params: Sequence[object]) -> pa.Table:
        from sync.engines.base_spark import bound_values, naive_utc_columns

        session = self._session()
        frame = session.sql(sql, args=bound_values(params)) if params else session.sql(sql)
        table: pa.Table = naive_utc_columns(frame.toArrow())
        return table

    def query(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        from sync.engines.base_spark import rows_of

        return rows_of(self._arrow(sql, params))

    def dicts(self, sql: str) -> list[dict[str, Any]]:
        return [
            {name.lower(): value for name, value in row.items()}
            for row in self._arrow(sql, ()).to_pylist()
        ]


class SparkWarehouses(Warehouses):
    """One Spark warehouse directory for the session, the demo put back in it for each test."""

    engine = "spark"

    def __init__(self, basetemp: Path) -> None:
        from tests.engines import spark

        if reason := spark.unavailable_reason():
            pytest.skip(reason)
        self._basetemp = basetemp
        self._spark = spark.SparkEngine()
        self._spark.start()
        self._template: Path | None = None

    @property
    def _dir(self) -> Path:
        assert self._spark.workdir is not None
        return self._spark.workdir

    def _template_files(self) -> Path:
        """The demo as dbt built it (demo_day 0), built once, its files copied aside."""
        if self._template is None:
            project = SparkWarehouse(self._basetemp / "spark-template", self._spark).project
            project.run(*SERVER_DEMO_BUILD, vars={"demo_day": 0})
            wait_for_other_jvms(self._dir)
            template = self._basetemp / "spark-template-files"
            shutil.copytree(self._dir, template, ignore=shutil.ignore_patterns("scratch"))
            self._template = template
        return self._template

    def _restore(self, files: Path | None) -> None:
        """The warehouse directory as `files` holds it (empty for None), at the same path."""
        self._spark.stop_session()
        wait_for_other_jvms(self._dir)
        shutil.rmtree(self._dir)
        if files is None:
            self._dir.mkdir()
        else:
            shutil.copytree(files, self._dir)

    @contextmanager
    def _warehouse(self, workdir: Path, files: Path | None) -> Iterator[SparkWarehouse]:
        self._restore(files)
        warehouse = SparkWarehouse(workdir, self._spark)
        try:
            yield warehouse
        finally:
            warehouse.close()
            self._spark.stop_session()

    @contextmanager
    def demo(self, workdir: Path) -> Iterator[WarehouseUnderTest]:
        with self._warehouse(workdir, self._template_files()) as warehouse:
            yield warehouse

    @contextmanager
    def empty(self, workdir: Path) -> Iterator[WarehouseUnderTest]:
        with self._warehouse(workdir, None) as warehouse:
            warehouse.server.session_query(f"create database if not exists {SCHEMA}", "default")
            yield warehouse

    def close(self) -> None:
        self._spark.stop()


def _session_running() -> bool:
    from pyspark import SparkContext

    return SparkContext._active_spark_context is not None


def _jvms_on(directory: Path) -> list[int]:
    """The JVMs (of any process: dbt's, a `tiktok-sync` process's) whose Derby home is
    `directory`: Spark sessions with the engine's settings."""
    mark = f"-Dderby.system.home={directory}".encode()
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            state = (entry / "stat").read_text().split(") ", 1)[1]
        except OSError:
            continue
        if mark in cmdline and not state.startswith("Z"):
            pids.append(int(entry.name))
    return pids


def wait_for_other_jvms(directory: Path) -> None:
    """Until no JVM has the warehouse in `directory` open (a killed run's outlives it briefly);
    one still there after JVM_EXIT_TIMEOUT is a test failure, not something to kill."""
    deadline = time.monotonic() + JVM_EXIT_TIMEOUT
    while pids := _jvms_on(directory):
        assert time.monotonic() < deadline, f"Spark JVMs {pids} still hold {directory}"
        time.sleep(0.2)
