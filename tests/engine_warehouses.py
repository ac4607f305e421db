"""The warehouse under a sync test on the engine targets' doubles: Snowflake and BigQuery.

The `WarehouseUnderTest` of tests/warehouses.py for the guarantee tests that also run under
`pytest -m snowflake` and `-m bigquery` (make test-snowflake, make test-bigquery; never in make
test). Each double is a server process over DuckDB files in a directory of its own
(tests/engines/snowflake.py: fakesnow; tests/engines/bigquery.py: crucible), and the names dbt
compiled into the demo's views are qualified with the database or project. So a test's copy of
the demo is a copy of that directory under a server of its own: dbt builds the demo once per
session on a template server, and each test starts a server on a copy of the template's files
(a few seconds), with the same database and schema names, and stops it afterwards.

SQL access goes through the sync job's own engine for the target (sync/engines/), so `query`
takes the `?` placeholders the sync job's SQL does.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import pyarrow as pa
import pytest
import yaml

from sync.engines import open_engine
from sync.engines.base import Engine
from sync.settings import WarehouseSettings, load_warehouse
from tests.dbt_support import PROJECT_DIR
from tests.warehouses import (
    PROFILE,
    SERVER_DEMO_BUILD,
    UNBUILT_TARGET,
    Warehouses,
    WarehouseUnderTest,
)

# A dbt build on a double takes minutes, on a loaded machine many more.
BUILD_TIMEOUT = 1800
# Rows per INSERT statement of create_table and replace_rows.
INSERT_ROWS = 500


class DoubleWarehouse(WarehouseUnderTest):
    """The target's schema on one server of a double; the profile's default target is it."""

    # Arrow types the tests load, as the engine's column types.
    types: ClassVar[dict[pa.DataType, str]]
    # SQL that empties `{table}` (crucible has neither DELETE nor TRUNCATE).
    empty_sql: ClassVar[str] = "delete from {table}"
    sha256_sql: ClassVar[str]

    def __init__(self, workdir: Path, server: Any) -> None:
        super().__init__(workdir)
        self.server = server
        self._engine: Engine | None = None
        workdir.mkdir(parents=True, exist_ok=True)
        output = server.profile_output()
        unbuilt = {k: v for k, v in output.items() if k not in ("schema", "dataset")}
        profile = {
            PROFILE: {
                "target": self.engine,
                "outputs": {
                    self.engine: output,
                    UNBUILT_TARGET: {**unbuilt, "schema": "never_built"},
                },
            }
        }
        (workdir / "profiles.yml").write_text(yaml.safe_dump(profile))

    def settings(self) -> WarehouseSettings:
        return load_warehouse(PROJECT_DIR, profiles_dir=self.workdir, target=self.engine)

    def unbuilt_env(self) -> dict[str, str | None]:
        return {"DBT_TARGET": UNBUILT_TARGET}

    def sql(self) -> Engine:
        """The sync job's engine for the target, opened once per test."""
        if self._engine is None:
            self._engine = open_engine(self.settings(), read_only=False)
        return self._engine

    def query(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        if sql.lstrip().lower().startswith(("select", "with")):
            return [tuple(_naive_utc(v) for v in row) for row in self.sql().fetch(sql, params)]
        self.sql().write(sql, params)
        return []

    def dicts(self, sql: str) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        for batch in self.sql().stream(sql, (), 100_000):
            rows += [
                {name.lower(): _naive_utc(value) for name, value in row.items()}
                for row in batch.to_pylist()
            ]
        return rows

    def create_table(self, name: str, rows: pa.Table) -> None:
        columns = ", ".join(f"{f.name} {self.types[f.type]}" for f in rows.schema)
        self.query(f"create table {name} ({columns})")
        self._insert(name, rows)

    def replace_rows(self, name: str, rows: pa.Table) -> None:
        # Two statements, not one transaction: the tests replace rows only between runs.
        self.query(self.empty_sql.format(table=name))
        self._insert(name, rows)

    def _insert(self, name: str, rows: pa.Table) -> None:
        columns = ", ".join(rows.column_names)
        row = "(" + ", ".join(self._placeholder(f) for f in rows.schema) + ")"
        for batch in rows.to_batches(max_chunksize=INSERT_ROWS):
            values = [v for record in batch.to_pylist() for v in record.values()]
            tuples = ", ".join(row for _ in range(batch.num_rows))
            self.query(f"insert into {name} ({columns}) values {tuples}", values)

    def _placeholder(self, field: pa.Field) -> str:
        """The parameter of one value of `field` in an INSERT."""
        return "?"

    def sha256_hex(self, expression: str) -> str:
        return self.sha256_sql.format(expression=expression)

    def close(self) -> None:
        engine, self._engine = self._engine, None
        if engine is not None:
            engine.close()


class SnowflakeWarehouse(DoubleWarehouse):
    """Schema ANALYTICS of database TIKTOK_SYNC on a fakesnow server."""

    engine = "snowflake"
    types: ClassVar[dict[pa.DataType, str]] = {
        pa.string(): "varchar",
        pa.large_string(): "varchar",
        pa.int64(): "bigint",
        pa.int32(): "integer",
        pa.bool_(): "boolean",
    }
    sha256_sql = "sha2({expression}, 256)"


class BigQueryWarehouse(DoubleWarehouse):
    """Dataset tiktok_sync of a crucible server."""

    engine = "bigquery"
    types: ClassVar[dict[pa.DataType, str]] = {
        pa.string(): "string",
        pa.large_string(): "string",
        pa.int64(): "int64",
        pa.int32(): "int64",
        pa.bool_(): "bool",
    }
    empty_sql = "create or replace table {table} as select * from {table} where false"
    sha256_sql = "to_hex(sha256({expression}))"

    # Through the client, not the sync job's engine: unqualified names are the target's
    # dataset's only with it as the job's default dataset, which the engine never needs.
    def _rows(self, sql: str, params: Sequence[object]) -> Any:
        from google.cloud import bigquery

        from sync.engines.bigquery import parameters
        from tests.engines.bigquery import PROJECT, SCHEMA

        config = bigquery.QueryJobConfig(default_dataset=f"{PROJECT}.{SCHEMA}")
        if params:
            config.query_parameters = parameters(sql, params)
        return self.server.client().query_and_wait(sql, job_config=config)

    def query(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        return [tuple(_naive_utc(v) for v in row.values()) for row in self._rows(sql, params)]

    def dicts(self, sql: str) -> list[dict[str, Any]]:
        return [{k: _naive_utc(v) for k, v in row.items()} for row in self._rows(sql, ())]


# A server of a double in `parent`, started on a copy of `data` (another server's directory).
StartServer = Callable[[Path, Path | None], Any]


class DoubleWarehouses(Warehouses):
    """Servers of one double: a template server with the demo built on first use, then one
    server per test on a copy of its files."""

    def __init__(
        self,
        warehouse: type[DoubleWarehouse],
        start: StartServer,
        create_schema: str,
        basetemp: Path,
    ) -> None:
        self.engine = warehouse.engine  # type: ignore[misc]
        self._warehouse = warehouse
        self._start = start
        self._create_schema = create_schema
        self._basetemp = basetemp
        self._template: Any = None
        self._lock = threading.Lock()

    def template(self) -> Any:
        """The server holding the demo as dbt built it (demo_day 0), built once."""
        with self._lock:
            if self._template is None:
                server = self._start(self._basetemp, None)
                project = self._warehouse(
                    self._basetemp / f"{self.engine}-template", server
                ).project
                try:
                    project.run(*SERVER_DEMO_BUILD, vars={"demo_day": 0}, timeout=BUILD_TIMEOUT)
                except BaseException:
                    server.stop()
                    raise
                self._template = server
            return self._template

    @contextmanager
    def _server(self, workdir: Path, data: Path | None) -> Iterator[DoubleWarehouse]:
        workdir.mkdir(parents=True, exist_ok=True)
        server = self._start(workdir.parent, data)
        warehouse = self._warehouse(workdir, server)
        try:
            yield warehouse
        finally:
            warehouse.close()
            server.stop()

    @contextmanager
    def demo(self, workdir: Path) -> Iterator[WarehouseUnderTest]:
        with self._server(workdir, self.template().dir) as warehouse:
            yield warehouse

    @contextmanager
    def empty(self, workdir: Path) -> Iterator[WarehouseUnderTest]:
        with self._server(workdir, None) as warehouse:
            warehouse.server.query(self._create_schema)
            yield warehouse

    def close(self) -> None:
        if self._template is not None:
            self._template.stop()
            self._template = None


def double_warehouses(engine: str, basetemp: Path) -> DoubleWarehouses:
    """The warehouses of `engine` ("snowflake" or "bigquery"); skipped where its double
    cannot run, with the reason."""
    from tests.engines import bigquery, snowflake

    if engine == "snowflake":
        if reason := snowflake.unavailable_reason():
            pytest.skip(reason)
        schema = f"{snowflake.DATABASE}.{snowflake.SCHEMA}"
        warehouse: type[DoubleWarehouse] = SnowflakeWarehouse
        server: Callable[[Path], Any] = snowflake.SnowflakeEngine
    else:
        if reason := bigquery.unavailable_reason():
            pytest.skip(reason)
        schema = f"`{bigquery.PROJECT}`.{bigquery.SCHEMA}"
        warehouse, server = BigQueryWarehouse, bigquery.BigQueryEngine

    def start(parent: Path, data: Path | None) -> Any:
        return server(parent).start(data=data)

    return DoubleWarehouses(warehouse, start, f"create schema if not exists {schema}", basetemp)


def _naive_utc(value: Any) -> Any:
    """Timestamps as the sync job writes them, naive UTC (BigQuery's come back zone-aware)."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value
