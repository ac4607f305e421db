"""Spark for the engine tests: a real local Spark 4, run by dbt-spark's `session` method.

There is no server: dbt-spark (`method: session`) starts Spark inside the dbt process
(`SparkSession.builder.enableHiveSupport()` plus the profile's `server_side_parameters`),
a local-mode JVM through pyspark. `SparkEngine` only prepares a temporary directory and
the settings that keep everything Spark writes in it: the warehouse files, the Hive
metastore (an embedded Derby database, `metastore_db/`), `derby.log` and Spark's scratch
space. Nothing lands in dbt's working directory; deleting the directory deletes the
warehouse. Spark binds its driver to 127.0.0.1 on ports it picks itself (no fixed port;
the web UI, which would take 4040, is off).

Plain Spark tables (parquet), no Delta: Delta's jars would come from Maven Central at run
time, which these machines cannot reach.

One process at a time: embedded Derby admits one JVM. While dbt runs, nothing else may
open the warehouse, and dbt cannot start while `query()` holds it. `query()` therefore runs
its SQL in a helper process with a SparkSession of its own (the same driver dbt uses,
pyspark, with the same settings), started on first use and kept for the next queries;
`release()` stops it and waits for its JVM to exit. Call `release()` before every dbt
invocation after a `query()` (`env()` does not do it for you).

In this process (the sync contract, tests/engines/sync_targets.py): the sync job's engine runs
in the test process and holds a SparkSession there, as `tiktok-sync` does in its own process.
`session_query()` reads through that same session (same JVM, so no second Derby client), and
`stop_session()` stops its JVM, which dbt needs before it can start (`SparkDbtProject.run` does
it before every dbt command); the next statement starts a new one.

Needs `pip install 'dbt-spark[session]>=1.11,<1.12'` (pulls pyspark 4.x, a 456 MB sdist
pip builds) and Java 17 or newer (Debian: `apt-get install openjdk-17-jre-headless`).

    with SparkEngine() as engine:
        output = engine.profile_output(schema="tiktok_sync")  # profiles.yml outputs.<target>
        subprocess.run([dbt, "build"], env={**os.environ, **engine.env()})
        rows = engine.query("select 1")
        engine.release()  # before dbt runs again
"""

from __future__ import annotations

import contextlib
import importlib.util
import multiprocessing
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

NAME = "spark"
IS_DOUBLE = False  # Spark itself, in a local session (plain Spark tables, no Delta)
SCHEMA = "tiktok_sync"
PIP_HINT = "pip install 'dbt-spark[session]>=1.11,<1.12'"
JAVA_HINT = "apt-get install openjdk-17-jre-headless"
MIN_JAVA = 17  # Spark 4 dropped Java 8 and 11 (SPARK-45315)

# What the driver JVM is started with. C1-only JIT: dbt runs hundreds of small, different
# statements on a few rows each, where the JVM's warm-up is most of the time; measured here
# it cut a SparkSession's start and its first big query to about half. C1 alone gets a 48 MB
# code cache, which a session running a dbt build and then sync runs filled ("CodeCache is full.
# Compiler has been disabled."), after which the JVM failed statements with
# `java.lang.InternalError: ... MethodHandle.linkToSpecial`: a larger cache.
JAVA_OPTIONS = "-XX:TieredStopAtLevel=1 -XX:ReservedCodeCacheSize=256m"


def _java() -> str | None:
    java_home = os.environ.get("JAVA_HOME")
    if java_home and os.access(Path(java_home, "bin", "java"), os.X_OK):
        return str(Path(java_home, "bin", "java"))
    return shutil.which("java")


def _java_major(java: str) -> int | None:
    try:
        proc = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r'version "(\d+)(?:\.(\d+))?', proc.stderr + proc.stdout)
    if match is None:
        return None
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major  # "1.8.0" is Java 8


def unavailable_reason() -> str | None:
    """Why Spark cannot run here, or None when it can."""
    for module in ("pyspark", "dbt.adapters.spark"):
        try:
            found = importlib.util.find_spec(module) is not None
        except ModuleNotFoundError:
            found = False
        if not found:
            return f"{module} is not installed ({PIP_HINT})"
    java = _java()
    if java is None:
        return f"no java on PATH or in $JAVA_HOME ({JAVA_HINT})"
    major = _java_major(java)
    if major is None or major < MIN_JAVA:
        return f"{java} is Java {major}, Spark 4 needs {MIN_JAVA} or newer ({JAVA_HINT})"
    return None


def _serve(conn: Connection, conf: dict[str, str], env: dict[str, str]) -> None:
    """The query helper process: one SparkSession, SQL in, rows out, until None arrives."""
    os.environ.update(env)
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.enableHiveSupport()
    for key, value in conf.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    # the JVM's pid, so release() can wait until it has let go of the Derby metastore
    conn.send(int(spark.sparkContext._jvm.ProcessHandle.current().pid()))  # type: ignore[union-attr]
    try:
        while (sql := conn.recv()) is not None:
            try:
                conn.send(("rows", [tuple(row) for row in spark.sql(sql).collect()]))
            except Exception as exc:  # the message goes back to the caller
                conn.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        spark.stop()


class SparkEngine:
    """A throwaway local Spark warehouse; use as a context manager (or start()/stop())."""

    def __init__(self, driver_memory: str = "2g", start_timeout: float = 300.0) -> None:
        self.driver_memory = driver_memory
        self.start_timeout = start_timeout
        self.workdir: Path | None = None
        self._process: multiprocessing.process.BaseProcess | None = None
        self._conn: Connection | None = None
        self._jvm_pid: int | None = None
        self._query_session: Any = None
        self._query_base: Any = None

    def __enter__(self) -> SparkEngine:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        """Make the directory the warehouse lives in; Spark itself starts with dbt."""
        reason = unavailable_reason()
        if reason is not None:
            raise RuntimeError(f"Spark cannot run here: {reason}")
        self.workdir = Path(tempfile.mkdtemp(prefix="tiktok-sync-spark-"))

    def stop(self) -> None:
        """Stop the query helper and this process's session, and delete the warehouse: nothing
        is left behind."""
        self.release()
        self.stop_session()
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None

    # -- what the tests use ----------------------------------------------------------

    def _dir(self) -> Path:
        if self.workdir is None:
            raise RuntimeError("SparkEngine is not started")
        return self.workdir

    def spark_conf(self) -> dict[str, str]:
        """Spark settings for dbt's session and the query helper's alike."""
        workdir = self._dir()
        return {
            "spark.master": "local[2]",
            "spark.driver.memory": self.driver_memory,
            "spark.driver.host": "127.0.0.1",
            "spark.driver.bindAddress": "127.0.0.1",
            "spark.driver.extraJavaOptions": f"-Dderby.system.home={workdir} {JAVA_OPTIONS}",
            "spark.ui.enabled": "false",
            "spark.ui.showConsoleProgress": "false",
            "spark.log.level": "ERROR",
            "spark.local.dir": str(workdir / "scratch"),
            "spark.sql.warehouse.dir": str(workdir / "spark-warehouse"),
            "spark.hadoop.javax.jdo.option.ConnectionURL": (
                f"jdbc:derby:;databaseName={workdir / 'metastore_db'};create=true"
            ),
            "spark.sql.shuffle.partitions": "2",
            "spark.sql.session.timeZone": "UTC",
            # what dbt-spark forces on its session too (SparkCredentials.__post_init__)
            "spark.sql.ansi.enabled": "false",
        }

    def env(self) -> dict[str, str]:
        """Environment variables for the dbt process (on top of os.environ)."""
        return {"SPARK_LOCAL_IP": "127.0.0.1"}

    def profile_output(self, schema: str = "tiktok_sync", threads: int = 1) -> dict[str, Any]:
        """A dbt profile output (profiles.yml `outputs.<target>`) for dbt-spark's session.

        threads 1 as for DuckDB: audience models replace their slice of shared tables.
        `host` is required by dbt-spark and unused by the session method.
        """
        return {
            "type": "spark",
            "method": "session",
            "host": "NA",
            "schema": schema,
            "threads": threads,
            "server_side_parameters": self.spark_conf(),
        }

    # -- the session in this process (the sync contract) -------------------------------

    def session(self) -> Any:
        """This process's SparkSession with the engine's settings (the one the sync job's engine
        takes from dbt's profile: the same builder, the same settings)."""
        os.environ.update(self.env())
        from pyspark.sql import SparkSession

        builder = SparkSession.builder.enableHiveSupport()
        for key, value in self.spark_conf().items():
            builder = builder.config(key, value)
        return builder.getOrCreate()

    def session_query(self, sql: str, schema: str = SCHEMA) -> list[tuple[Any, ...]]:
        """Run one statement in this process's session, unqualified names in `schema`; its rows
        ([] when it returns none), timestamps as naive UTC. Not while dbt runs."""
        from sync.engines.base_spark import rows_of
        from sync.engines.spark import fresh_catalog

        spark = self.session()
        # A session of its own (same JVM, catalog and metastore) for the current schema, so the
        # engine's session keeps its own.
        if self._query_session is None or self._query_base is not spark:
            self._query_session = spark.newSession()
            self._query_session.catalog.setCurrentDatabase(schema)
            self._query_base = spark
        fresh_catalog(self._query_session)  # the sync job's writes since the last query
        return rows_of(self._query_session.sql(sql).toArrow())

    def stop_session(self, timeout: float = 60.0) -> None:
        """Stop this process's Spark JVM, if one runs, and wait until it has exited (Derby is
        free again). pyspark starts a new one with the next session."""
        from pyspark import SparkContext
        from pyspark.sql import SparkSession

        gateway = SparkContext._gateway
        if gateway is None:
            return
        jvm_pid: int | None = None
        with contextlib.suppress(Exception):
            jvm_pid = int(SparkContext._jvm.ProcessHandle.current().pid())  # type: ignore[union-attr]
        session = SparkSession._instantiatedSession
        if session is not None:
            session.stop()
        elif SparkContext._active_spark_context is not None:
            SparkContext._active_spark_context.stop()
        gateway.shutdown()
        # The JVM (pyspark's PythonGatewayServer) exits when its stdin closes.
        proc = getattr(gateway, "proc", None)
        if proc is not None:
            with contextlib.suppress(OSError):
                proc.stdin.close()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        SparkContext._gateway = None
        SparkContext._jvm = None
        self._query_session = self._query_base = None
        if jvm_pid is not None:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and _alive(jvm_pid):
                time.sleep(0.2)
            if _alive(jvm_pid):
                os.kill(jvm_pid, 9)

    def relation(self, name: str, schema: str = SCHEMA) -> str:
        """A table or view of `schema` for query()."""
        return f"{schema}.{name}"

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        """Run one statement; its rows ([] when it returns none). Not while dbt runs."""
        if self._conn is None:
            context = multiprocessing.get_context("spawn")
            parent, child = context.Pipe()
            self._process = context.Process(
                target=_serve, args=(child, self.spark_conf(), self.env()), daemon=True
            )
            self._process.start()
            child.close()
            self._conn = parent
            if not parent.poll(self.start_timeout):
                self.release()
                raise RuntimeError(f"Spark did not start within {self.start_timeout:.0f} s")
            self._jvm_pid = parent.recv()
        self._conn.send(sql)
        kind, payload = self._conn.recv()
        if kind == "error":
            raise RuntimeError(f"Spark refused {sql[:200]!r}: {payload}")
        rows: list[tuple[Any, ...]] = payload
        return rows

    def release(self, timeout: float = 60.0) -> None:
        """Stop the query helper and wait until its JVM has exited (Derby is free again)."""
        if self._conn is not None:
            with contextlib.suppress(OSError, EOFError, BrokenPipeError):
                self._conn.send(None)
            self._conn.close()
            self._conn = None
        if self._process is not None:
            self._process.join(timeout)
            if self._process.is_alive():
                self._process.kill()
                self._process.join()
            self._process = None
        if self._jvm_pid is not None:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and _alive(self._jvm_pid):
                time.sleep(0.2)
            if _alive(self._jvm_pid):
                os.kill(self._jvm_pid, 9)
            self._jvm_pid = None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie (exited, not yet reaped by its parent) counts as gone
    with contextlib.suppress(OSError):
        if Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("Z"):
            return False
    return True


def start(parent: Path | None = None) -> SparkEngine:
    """A started engine (the engine modules' common entry point; `parent` is not needed)."""
    engine = SparkEngine()
    engine.start()
    return engine


@contextlib.contextmanager
def spark_engine() -> Iterator[SparkEngine]:
    """A prepared Spark warehouse, deleted on exit."""
    with SparkEngine() as engine:
        yield engine
