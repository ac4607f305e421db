"""Spark: reached through dbt-spark's `session` method (pyspark, a SparkSession in this process).

The connection is the handle dbt-spark's adapter opens for the profile: for `method: session` a
wrapper around the profile's `server_side_parameters`, from which dbt-spark's cursor takes its
SparkSession for every statement (`SparkSession.builder.enableHiveSupport()`, each parameter as
a config, `getOrCreate()`). The engine takes its session the same way, so it runs on the Spark
dbt runs on (master, warehouse directory, metastore, ...), and then uses the DataFrame API, which
dbt-spark's cursor does not expose: `spark.sql(sql, args=[...])` binds our `?` placeholders as
positional parameters (Spark 3.4+), where the cursor would paste `'<value>'` into the SQL
unescaped. Timestamps are bound as UTC strings (base_spark.py). Other methods (thrift, http,
odbc) are not read yet: their drivers (PyHive, pyodbc) bind differently and were not available
to test.

Reads: `fetch` collects a small result as Arrow (`toArrow`, timestamps in UTC). `stream` reads
the rows one partition at a time (`toLocalIterator`: Spark runs a job per partition as the
iterator reaches it, so the driver holds one partition, and Python at most `batch_rows` rows),
and makes an Arrow record batch of every `batch_rows` of them. Measured on 1M changes (4
columns, ORDER BY batch_no, local[2]): 31-40 s, Python's peak RSS +30 MB over the session's
118 MB, where `toArrow` holds the whole result (+100 MB per million) and `mapInArrow` needs
pyarrow in Spark's Python workers. Spark reads a table's files as listed when the query is
planned and sorts them all before the first row; the ledger only gains files, so batch events
appended while a stream is read change nothing in it.

Writes: each `execute` is one statement, run when `spark.sql` returns (Spark runs commands
eagerly); an INSERT into a plain (parquet) table commits its files when its job ends.

One run at a time: dbt-spark's session keeps its Hive metastore in an embedded Derby database
by default (`metastore_db`, or where `spark.hadoop.javax.jdo.option.ConnectionURL` says). Derby
admits one JVM: while this process's session holds it, no other Spark process can use the
warehouse (a second `tiktok-sync run`, `dbt build`, a notebook), and this one cannot while
another does. That is the lock, as DuckDB's file lock is: a run takes nothing more, and a
second process finds out at its first statement (after the metastore client's own retries,
~25 s) and stops with exit 2 and one line. A session on a shared metastore (`hive.metastore.uris`
or a JDBC metastore that is not embedded Derby) takes the lease in tiktok_sync_locks instead,
like Databricks.

Spark's JVM writes its log to stderr; a run's output is one line per error there, so the JVM
this engine starts writes into a log file in the temp directory instead (named in errors with
no known fix; removed at close otherwise). A session that runs already (a notebook, the tests)
keeps its own output.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import warnings
from collections.abc import Iterator
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any, ClassVar

import pyarrow as pa
from py4j.protocol import Py4JError
from pyspark import SparkContext
from pyspark.errors import PySparkException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.pandas.types import to_arrow_type
from pyspark.sql.types import TimestampType

from sync.engines.base import Params
from sync.engines.base_spark import ERROR_CLASS, SparkSQL, bound_values, rows_of
from sync.engines.dbt_target import DbtTarget, open_handle
from sync.errors import ConfigError, WarehouseError

# pyspark warns about the pandas in the environment (which the sync job does not use with it).
warnings.filterwarnings("ignore", category=FutureWarning, module=r"pyspark\.")

# Derby's "Another instance of Derby may have already booted the database" (db-derby
# SQLState XSDB6), the innermost cause when another JVM holds the metastore.
_DERBY_LOCKED = ("XSDB6", "Another instance of Derby may have already booted")


class SparkEngine(SparkSQL):
    types = ("spark",)
    lock_kind = (
        "the Spark session's JVM, which holds an embedded Derby metastore alone; on a shared "
        "metastore, a lease in tiktok_sync_locks"
    )
    # A one-row INSERT on Spark is a job that writes and commits a file: seconds, not the
    # milliseconds of a database, and more on a busy cluster. As Databricks'.
    lease_commit_bound: ClassVar[timedelta] = timedelta(seconds=10)

    def __init__(self, target: DbtTarget) -> None:
        super().__init__("Spark", target)
        self.driver_errors = (PySparkException, Py4JError)
        handle = open_handle(target, "tiktok-sync")
        # dbt-spark's SessionConnectionWrapper -> session.Connection: the profile's
        # server_side_parameters, which its cursor turns into a SparkSession per statement.
        self._parameters: dict[str, str] = {
            str(k): str(v) for k, v in dict(handle.handle.server_side_parameters).items()
        }
        self._log: Path | None = None
        self._keep_log = False
        _quiet_pyspark_loggers()

    @classmethod
    def open(cls, target: DbtTarget) -> SparkEngine:
        method = str(getattr(target.credentials, "method", "") or "")
        if method != "session":
            raise ConfigError(
                f"the dbt profile reaches Spark with `method: {method}`; the sync job reads "
                "Spark through `method: session` (or Databricks through dbt-databricks) only"
            )
        return cls(target)

    # --- the session ----------------------------------------------------------------------------

    def session(self) -> SparkSession:
        """The SparkSession dbt-spark's cursor would use: the same builder, every time, so a
        session stopped in between (by the tests) is started again."""
        builder = SparkSession.builder.enableHiveSupport()
        for key, value in self._parameters.items():
            builder = builder.config(key, value)
        if SparkContext._active_spark_context is not None:
            return builder.getOrCreate()
        with self._jvm_output_to_log():
            return builder.getOrCreate()

    @contextlib.contextmanager
    def _jvm_output_to_log(self) -> Iterator[None]:
        """While the JVM starts, this process's stdout and stderr point at the log file, which
        the JVM inherits as its own."""
        if self._log is None:
            fd, name = tempfile.mkstemp(prefix=f"tiktok-sync-spark-{os.getpid()}-", suffix=".log")
            os.close(fd)
            self._log = Path(name)
        saved = [os.dup(1), os.dup(2)]
        try:
            with open(self._log, "ab") as log:
                for stream in (1, 2):
                    os.dup2(log.fileno(), stream)
            yield
        finally:
            for stream, copy in zip((1, 2), saved, strict=True):
                os.dup2(copy, stream)
                os.close(copy)

    def holds_metastore_alone(self) -> bool:
        """Whether the session's catalog is one no other JVM can open while this one has it."""
        spark = self.session()
        # hive-site.xml and spark.hadoop.* settings end up in the Hadoop configuration.
        hadoop = spark.sparkContext._jsc.hadoopConfiguration()
        return exclusive_metastore(
            spark.conf.get("spark.sql.catalogImplementation", "hive"),
            hadoop.get("hive.metastore.uris"),
            hadoop.get("javax.jdo.option.ConnectionURL"),
        )

    # --- one run at a time ----------------------------------------------------------------------

    def acquire_run_lock(self, holder: str) -> None:
        try:
            alone = self.holds_metastore_alone()
        except self.driver_errors as exc:
            raise self.error(exc, "starting the Spark session") from None
        if not alone:
            super().acquire_run_lock(holder)
        # Otherwise the JVM is the lock; Warehouse.open lists the schema next, which opens the
        # metastore, or fails if another process has it.

    # --- statements -----------------------------------------------------------------------------

    def _sql(self, sql: str, params: Params) -> DataFrame:
        spark = self.session()
        fresh_catalog(spark)
        if params:
            return spark.sql(sql, args=bound_values(params))
        return spark.sql(sql)

    def write(self, sql: str, params: Params = ()) -> None:
        self._sql(sql, params)

    def fetch(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]:
        return rows_of(self._sql(sql, params).toArrow())

    def stream(self, sql: str, params: Params, batch_rows: int) -> Iterator[pa.RecordBatch]:
        frame = self._sql(sql, params)
        schema = arrow_schema(frame)
        timestamps = [isinstance(f.dataType, TimestampType) for f in frame.schema.fields]
        rows = frame.toLocalIterator()
        try:
            held: list[Any] = []
            for row in rows:
                held.append(row)
                if len(held) >= batch_rows:
                    yield record_batch(held, schema, timestamps)
                    held = []
            if held:
                yield record_batch(held, schema, timestamps)
        finally:
            # Dropping pyspark's iterator tells Spark to stop computing partitions.
            close = getattr(rows, "close", None)
            if close is not None:
                close()

    # --- errors and life ------------------------------------------------------------------------

    def error(self, exc: BaseException, doing: str) -> WarehouseError:
        if any(mark in text for text in _causes(exc) for mark in _DERBY_LOCKED):
            return WarehouseError(
                f"schema {self.schema} of the Spark warehouse is locked by another process: its "
                "metastore is an embedded Derby database, which one Spark process at a time can "
                "open, and a dbt build, a tiktok-sync run or another Spark session has it; wait "
                "for it to finish, then retry"
            )
        error = super().error(exc, doing)
        if self._log is None or "see the message" not in str(error):
            return error
        self._keep_log = True
        return WarehouseError(f"{error}; Spark's log: {self._log}")

    def message(self, exc: BaseException) -> str:
        # A failed job says "Exception thrown in awaitResult" and the reason in a cause: the
        # first message that names Spark's error class, else the innermost one.
        lines = [text.strip().splitlines()[0] for text in _causes(exc) if text.strip()]
        named = [line for line in lines if ERROR_CLASS.search(line)]
        return (named or lines[-1:] or [type(exc).__name__])[0]

    def close(self) -> None:
        # The session stays: a stopped JVM would keep Derby booted inside it and could not
        # start a session on the metastore again; it ends with this process (and the lock with
        # it). Only the log goes, unless an error pointed at it.
        if self._log is not None and not self._keep_log:
            with contextlib.suppress(OSError):
                self._log.unlink()
            self._log = None


def fresh_catalog(spark: SparkSession) -> None:
    """Forget the tables this session has resolved, so the next statement lists their files
    again. A session keeps each table it resolved with its file listing; a table another
    session or process changed since (dbt rebuilding members on a shared metastore, an INSERT
    OVERWRITE that deleted files) would be read as it was, or fail with FILE_NOT_EXIST. No
    public API does this for every table (`REFRESH TABLE` takes one): the session catalog's own
    call, through py4j."""
    spark._jsparkSession.sessionState().catalog().invalidateAllCachedTables()


def exclusive_metastore(catalog: str | None, uris: str | None, url: str | None) -> bool:
    """Whether a session with these settings holds its catalog alone: an in-memory catalog (its
    own), or Hive's embedded Derby (Hive's default when neither a metastore service nor a JDBC
    URL is set; a Derby network server, jdbc:derby://, is shared)."""
    if (catalog or "hive") != "hive":
        return True
    if (uris or "").strip():
        return False
    url = (url or "jdbc:derby:").strip()
    return url.startswith("jdbc:derby:") and not url.startswith("jdbc:derby://")


def arrow_schema(frame: DataFrame) -> pa.Schema:
    """The Arrow schema of a result, timestamps as naive UTC."""
    fields = []
    for field in frame.schema.fields:
        if isinstance(field.dataType, TimestampType):
            fields.append(pa.field(field.name, pa.timestamp("us")))
        else:
            fields.append(pa.field(field.name, to_arrow_type(field.dataType)))
    return pa.schema(fields)


def record_batch(rows: list[Any], schema: pa.Schema, timestamps: list[bool]) -> pa.RecordBatch:
    columns = []
    for i, (field, is_timestamp) in enumerate(zip(schema, timestamps, strict=True)):
        values = [row[i] for row in rows]
        if is_timestamp:
            # pyspark gives a TIMESTAMP as a naive datetime in this process's local time.
            values = [None if v is None else _utc(v) for v in values]
        columns.append(pa.array(values, type=field.type))
    return pa.RecordBatch.from_arrays(columns, schema=schema)


def _utc(value: Any) -> Any:
    return value.astimezone(UTC).replace(tzinfo=None)


def _causes(exc: BaseException) -> Iterator[str]:
    """The messages of an exception and its causes, the JVM's included."""
    seen: set[int] = set()
    current: Any = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield str(current)
        java = getattr(current, "java_exception", None)
        if java is not None:
            with contextlib.suppress(Exception):
                yield str(java.toString())
        current = getattr(current, "_cause", None) or current.__cause__


def _quiet_pyspark_loggers() -> None:
    """pyspark logs every SQL error with its JVM stack trace, as JSON on stderr, before raising
    it; the sync job reports the error itself, in one line."""
    from pyspark.logger import PySparkLogger

    for name in ("SQLQueryContextLogger", "DataFrameQueryContextLogger"):
        PySparkLogger.getLogger(name).setLevel(logging.CRITICAL)
