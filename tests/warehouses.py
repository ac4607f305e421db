"""The warehouse under a sync test, on every engine the sync job reads: DuckDB and PostgreSQL.

A test gets a `WarehouseUnderTest`: a warehouse of its own (the demo as dbt built it, or an
empty one), a dbt profile in its work directory whose target points at it (DBT_PROFILES_DIR,
as for `tiktok-sync` and dbt), and SQL access to set up and inspect state. The SQL tests write
through `query` is the subset both engines read alike, with `?` placeholders and the target's
schema as the default one.

- DuckDB: dbt builds the demo once per session into a template file (`demo_template`, one
  build shared by pytest-xdist's workers); each test copies the file.
- Postgres: one real server per session (tests/engines/postgres.py, started only in a session
  that runs Postgres tests; one per pytest-xdist worker); dbt builds the demo once into a
  template database, in the background from the start of the session (tests/conftest.py), so
  that the DuckDB tests run meanwhile, and the other workers load a dump of it; each test
  gets `create database ... template ...`, a file-level copy that takes a fraction of a
  second, and drops it afterwards.
"""

from __future__ import annotations

import io
import itertools
import shutil
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

import duckdb
import pyarrow as pa
import pyarrow.csv as pa_csv
import pytest
import yaml

from sync.engines.base import qmark_to_format
from sync.settings import WarehouseSettings, load_warehouse
from tests.dbt_support import PROJECT_DIR, DbtProject, make_dbt_project, shared_build

ENGINES = ("duckdb", "postgres")
# The profile integration_tests/dbt_project.yml names, and the targets a Postgres test writes.
PROFILE = "tiktok_sync_integration_tests"
POSTGRES_TARGET = "postgres"
# A target of the same server whose schema dbt never built: what a user sees before `dbt build`.
UNBUILT_TARGET = "unbuilt"
POSTGRES_SCHEMA = "tiktok_sync"
# The demo's build on a server engine: dbt's unit tests do not depend on the data
# (tests/test_warehouse_build.py runs them), and the phone corpora and the identifier cases feed
# only the normaliser's unit-test wrappers, which no sync test reads (tests/engines/ builds them).
SERVER_DEMO_BUILD = (
    "build",
    "--exclude-resource-type",
    "unit_test",
    "--exclude",
    "phone_corpus+",
    "phone_corpus_crm+",
    "identifier_cases+",
)


class WarehouseUnderTest(ABC):
    """One test's warehouse: its dbt project context (profile, target/ and logs/ dirs) and SQL."""

    engine: ClassVar[str]

    def __init__(self, workdir: Path) -> None:
        self.project = DbtProject(workdir)

    @property
    def workdir(self) -> Path:
        return self.project.workdir

    def env(self) -> dict[str, str]:
        """What `tiktok-sync` needs in its environment besides DBT_PROFILES_DIR."""
        return {}

    @abstractmethod
    def settings(self) -> WarehouseSettings:
        """The settings `tiktok-sync` would load from this test's profile."""

    @abstractmethod
    def unbuilt_env(self) -> dict[str, str | None]:
        """Environment that points `tiktok-sync` at a warehouse dbt never built."""

    @abstractmethod
    def query(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        """Run one statement (committed at once); its rows, [] when it returns none."""

    @abstractmethod
    def dicts(self, sql: str) -> list[dict[str, Any]]:
        """The rows of a query as dicts by column name."""

    @abstractmethod
    def create_table(self, name: str, rows: pa.Table) -> None:
        """A new table `name` in the target's schema holding `rows`."""

    @abstractmethod
    def replace_rows(self, name: str, rows: pa.Table) -> None:
        """Every row of table `name` replaced by `rows`, in one transaction."""

    @abstractmethod
    def sha256_hex(self, expression: str) -> str:
        """SQL for the lowercase hex SHA-256 of a text expression."""

    def close(self) -> None:  # noqa: B027 - only engines with a session to end
        """Release what the test's SQL access holds."""

    def before_another_process(self) -> None:  # noqa: B027 - only Spark's metastore
        """Before a `tiktok-sync` process starts on the warehouse: let go of what only one
        process at a time may hold (Spark's embedded metastore)."""

    def settle(self) -> None:  # noqa: B027 - only Spark's metastore
        """Before this process uses the warehouse again: wait until the processes that used it
        (a killed run, dbt) have let go of what only one process at a time may hold."""


# --- DuckDB ---------------------------------------------------------------------------------


class DuckDBWarehouse(WarehouseUnderTest):
    """The file `warehouse.duckdb` in the work directory; a connection per statement, so the
    sync job (another process, or this one) can open the file in between."""

    engine = "duckdb"

    @property
    def db_path(self) -> Path:
        return self.project.db_path

    def env(self) -> dict[str, str]:
        return {"TIKTOK_SYNC_DUCKDB_PATH": str(self.db_path)}

    def settings(self) -> WarehouseSettings:
        return WarehouseSettings("duckdb", self.db_path, "main", PROFILE, "duckdb")

    def unbuilt_env(self) -> dict[str, str | None]:
        return {"TIKTOK_SYNC_DUCKDB_PATH": "/nonexistent/warehouse.duckdb"}

    def query(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        with duckdb.connect(str(self.db_path)) as con:
            result = con.execute(sql, list(params))
            return result.fetchall() if result.description is not None else []

    def dicts(self, sql: str) -> list[dict[str, Any]]:
        with duckdb.connect(str(self.db_path)) as con:
            return con.sql(sql).to_dicts()

    def create_table(self, name: str, rows: pa.Table) -> None:
        with duckdb.connect(str(self.db_path)) as con:
            con.register("new_rows", rows)
            con.execute(f"create table {name} as select * from new_rows")

    def replace_rows(self, name: str, rows: pa.Table) -> None:
        with duckdb.connect(str(self.db_path)) as con:
            con.register("new_rows", rows)
            con.execute("begin transaction")
            con.execute(f"delete from {name}")
            con.execute(f"insert into {name} by name select * from new_rows")
            con.execute("commit")

    def sha256_hex(self, expression: str) -> str:
        return f"sha256({expression})"


def demo_template(tmp_path_factory: pytest.TempPathFactory) -> DbtProject:
    """The demo project built by dbt at demo_day 0 into a DuckDB file, once per session (and
    once for all pytest-xdist workers). Its target/ holds the build's manifest and compiled SQL."""

    def build(project: DbtProject) -> None:
        # dbt's unit tests do not depend on the data; tests/test_warehouse_build.py runs them.
        project.run("build", "--exclude-resource-type", "unit_test", vars={"demo_day": 0})

    return shared_build(tmp_path_factory.getbasetemp(), "demo", build)


# --- PostgreSQL -----------------------------------------------------------------------------

# Arrow types the tests load, as Postgres column types.
_POSTGRES_TYPES = {
    pa.string(): "text",
    pa.large_string(): "text",
    pa.int64(): "bigint",
    pa.int32(): "integer",
    pa.bool_(): "boolean",
}


class PostgresWarehouse(WarehouseUnderTest):
    """A database of the session's server, with schema `tiktok_sync` as the target's."""

    engine = "postgres"

    def __init__(self, workdir: Path, server: Any, dbname: str) -> None:
        super().__init__(workdir)
        self.server = server
        self.dbname = dbname
        self.schema = POSTGRES_SCHEMA
        self._connection: Any = None
        workdir.mkdir(parents=True, exist_ok=True)
        output = {**server.profile_output(schema=self.schema), "dbname": dbname}
        profile = {
            PROFILE: {
                "target": POSTGRES_TARGET,
                "outputs": {
                    POSTGRES_TARGET: output,
                    UNBUILT_TARGET: {**output, "schema": "never_built"},
                },
            }
        }
        (workdir / "profiles.yml").write_text(yaml.safe_dump(profile))

    def settings(self) -> WarehouseSettings:
        return load_warehouse(PROJECT_DIR, profiles_dir=self.workdir, target=POSTGRES_TARGET)

    def unbuilt_env(self) -> dict[str, str | None]:
        return {"DBT_TARGET": UNBUILT_TARGET}

    def connection(self) -> Any:
        """One autocommit session, schema `tiktok_sync` first on its search path, with the
        planner settings the sync job's sessions have: the tests read the ledger views as it
        does (sync/engines/postgres.py says why they need them)."""
        if self._connection is None or self._connection.closed:
            import psycopg2

            from sync.engines.postgres import SESSION_SETTINGS

            options = [f"-c search_path={self.schema}"]
            options += [f"-c {name}={value}" for name, value in SESSION_SETTINGS]
            self._connection = psycopg2.connect(
                **self.server.connection_kwargs(self.dbname),
                options=" ".join(options),
                application_name="tiktok-sync-tests",
            )
            self._connection.autocommit = True
        return self._connection

    def query(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        with self.connection().cursor() as cursor:
            cursor.execute(qmark_to_format(sql), list(params))
            return list(cursor.fetchall()) if cursor.description is not None else []

    def dicts(self, sql: str) -> list[dict[str, Any]]:
        with self.connection().cursor() as cursor:
            cursor.execute(sql)
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def create_table(self, name: str, rows: pa.Table) -> None:
        columns = ", ".join(f"{f.name} {_POSTGRES_TYPES[f.type]}" for f in rows.schema)
        self.query(f"create table {name} ({columns})")
        self._copy(name, rows)

    def replace_rows(self, name: str, rows: pa.Table) -> None:
        self.query("begin")
        try:
            self.query(f"delete from {name}")
            self._copy(name, rows)
            self.query("commit")
        except BaseException:
            self.query("rollback")
            raise

    def _copy(self, name: str, rows: pa.Table) -> None:
        """COPY the rows in as CSV: nulls are empty fields, empty strings quoted."""
        buffer = io.BytesIO()
        pa_csv.write_csv(rows, buffer)
        buffer.seek(0)
        columns = ", ".join(rows.column_names)
        with self.connection().cursor() as cursor:
            cursor.copy_expert(
                f"copy {name} ({columns}) from stdin with (format csv, header true)", buffer
            )

    def sha256_hex(self, expression: str) -> str:
        return f"encode(sha256(convert_to({expression}, 'UTF8')), 'hex')"

    def close(self) -> None:
        if self._connection is not None and not self._connection.closed:
            self._connection.close()
        self._connection = None


# --- per engine: the demo, or nothing built ---------------------------------------------------


class Warehouses(ABC):
    """Where one engine's test warehouses come from."""

    engine: ClassVar[str]

    @abstractmethod
    @contextmanager
    def demo(self, workdir: Path) -> Iterator[WarehouseUnderTest]:
        """A copy of the demo warehouse as dbt built it (demo_day 0, nothing synced)."""

    @abstractmethod
    @contextmanager
    def empty(self, workdir: Path) -> Iterator[WarehouseUnderTest]:
        """A warehouse nothing was built in yet (the target's schema exists)."""


class DuckDBWarehouses(Warehouses):
    engine = "duckdb"

    def __init__(self, tmp_path_factory: pytest.TempPathFactory) -> None:
        self._tmp_path_factory = tmp_path_factory

    @contextmanager
    def demo(self, workdir: Path) -> Iterator[WarehouseUnderTest]:
        template = demo_template(self._tmp_path_factory)
        workdir.mkdir(parents=True, exist_ok=True)
        shutil.copy(template.workdir / "profiles.yml", workdir / "profiles.yml")
        shutil.copy(template.db_path, workdir / "warehouse.duckdb")
        yield DuckDBWarehouse(workdir)

    @contextmanager
    def empty(self, workdir: Path) -> Iterator[WarehouseUnderTest]:
        yield DuckDBWarehouse(make_dbt_project(workdir).workdir)


class PostgresWarehouses(Warehouses):
    """Databases of one server; the demo template is built on first use."""

    engine = "postgres"
    TEMPLATE = "demo_template"

    def __init__(self, server: Any, basetemp: Path) -> None:
        self.server = server
        self._basetemp = basetemp
        self._builder: threading.Thread | None = None
        self._failure: BaseException | None = None
        self._numbers = itertools.count(1)

    def prepare(self) -> None:
        """Start building the demo template, in a thread that waits for `dbt build` (a
        process of its own, so it takes the other core while tests run here)."""
        if self._builder is not None:
            return
        self.server.query(f'create database "{self.TEMPLATE}"')
        project = PostgresWarehouse(self._basetemp / "pg-template", self.server, self.TEMPLATE)
        self._builder = threading.Thread(
            target=self._build, args=(project.project,), name="postgres-template", daemon=True
        )
        self._builder.start()

    def _build(self, project: DbtProject) -> None:
        """dbt builds the template once per session: the first pytest-xdist worker here dumps
        it (pg_dump, a second or two), the others load that into their own server."""
        try:
            built_here = False

            def build_and_dump(shared: DbtProject) -> None:
                nonlocal built_here
                self._dbt_build(project)
                self.server.dump(self.TEMPLATE, shared.workdir / "template.sql")
                built_here = True

            shared = shared_build(self._basetemp, "postgres-demo", build_and_dump)
            if not built_here:
                self.server.restore(self.TEMPLATE, shared.workdir / "template.sql")
        except BaseException as failure:
            self._failure = failure

    @staticmethod
    def _dbt_build(project: DbtProject) -> None:
        project.run(*SERVER_DEMO_BUILD, vars={"demo_day": 0})

    def _template(self) -> str:
        self.prepare()
        assert self._builder is not None
        self._builder.join()
        if self._failure is not None:
            raise AssertionError(f"the Postgres demo template: {self._failure}")
        return self.TEMPLATE

    @contextmanager
    def _database(self, workdir: Path, create: str) -> Iterator[WarehouseUnderTest]:
        name = f"test_{next(self._numbers)}"
        # Postgres waits up to 5 s for the template's last sessions (dbt's) to end.
        self.server.query(f'create database "{name}" {create}')
        warehouse = PostgresWarehouse(workdir, self.server, name)
        try:
            yield warehouse
        finally:
            warehouse.close()
            # FORCE: a killed sync's session may still be on its way out.
            self.server.query(f'drop database if exists "{name}" with (force)')

    @contextmanager
    def demo(self, workdir: Path) -> Iterator[WarehouseUnderTest]:
        with self._database(workdir, f'template "{self._template()}"') as warehouse:
            yield warehouse

    @contextmanager
    def empty(self, workdir: Path) -> Iterator[WarehouseUnderTest]:
        with self._database(workdir, "") as warehouse:
            warehouse.query(f"create schema {POSTGRES_SCHEMA}")
            yield warehouse
