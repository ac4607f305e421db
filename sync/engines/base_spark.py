"""What Spark SQL engines share: dbt-spark's local session (`spark.py`) and Databricks
(`databricks.py`) speak the same SQL and differ only in the driver.

* Names: dbt's Relation (dbt-spark: `schema.table`, unquoted unless the project quotes;
  dbt-databricks: `` `catalog`.`schema`.`table` ``). Spark folds unquoted names to lower case.
* Relations: `SHOW TABLES IN <schema>` lists tables and views (and the session's temporary views,
  which are left out: only what dbt built counts).
* Values: bound as the driver's positional parameters, never written into the SQL. Timestamps
  travel as strings with an explicit UTC offset ('2026-12-03 10:00:00.123456Z'): our SQL always
  reads them through `cast(? as timestamp)`, which parses the offset, so a naive UTC datetime
  stays the same instant whatever the session's time zone (spark.sql.session.timeZone) or the
  Python process's (pyspark would read a naive datetime as the process's local time).
* Integer division: `div`, Spark's integral division (bigint, exact).
* Numbering: row_number() needs an ordered window here, so a freeze's changes are numbered in
  the order of their hashes (`numbering_order`); any order would serve.
* One run at a time: a lease in tiktok_sync_locks (lease.py) wherever many clients share the
  metastore (Databricks, a session on a shared Hive metastore). dbt-spark's session on an
  embedded Derby metastore is the exception (spark.py): its JVM holds the metastore alone.
* Errors: Spark names its error class in brackets ("[TABLE_OR_VIEW_NOT_FOUND] The table or
  view ..."), on Databricks too; the first line, with what to do for the common classes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from sync.engines.base import Params
from sync.engines.dbt_target import DbtTarget, redact, relation_name, schema_name
from sync.engines.lease import LeaseLock
from sync.errors import WarehouseError

# What to do about an error, by Spark's error class (spark.apache.org/docs/latest/
# sql-error-conditions.html; Databricks uses the same names).
_FIXES = {
    "TABLE_OR_VIEW_NOT_FOUND": "run `dbt build` with this project and profile",
    "SCHEMA_NOT_FOUND": "run `dbt build` with this project and profile",
    "INSUFFICIENT_PERMISSIONS": "grant the profile's principal what dbt build has on the schema",
    "PERMISSION_DENIED": "grant the profile's principal what dbt build has on the schema",
}
_DEFAULT_FIX = "nothing more was sent; see the message (dbt debug checks the connection)"
ERROR_CLASS = re.compile(r"\[([A-Z][A-Z0-9_.]*)\]")


def bound_value(value: Any) -> Any:
    """A parameter value as the Spark SQL engines bind it: datetimes as UTC strings with an
    explicit offset (see the module's docstring), everything else as it is."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return f"{value:%Y-%m-%d %H:%M:%S.%f}Z"
    return value


def bound_values(params: Params) -> list[Any]:
    return [bound_value(value) for value in params]


def naive_utc_columns(table: pa.Table | pa.RecordBatch) -> pa.Table | pa.RecordBatch:
    """Zone-aware timestamp columns (Spark's TIMESTAMP is an instant) as naive UTC, as the sync
    job reads every timestamp."""
    schema = table.schema
    if not any(pa.types.is_timestamp(f.type) and f.type.tz for f in schema):
        return table
    fields = [
        f.with_type(pa.timestamp(f.type.unit)) if pa.types.is_timestamp(f.type) else f
        for f in schema
    ]
    return table.cast(pa.schema(fields))


def rows_of(table: pa.Table) -> list[tuple[Any, ...]]:
    """The rows of a small Arrow result as tuples (by position: names may repeat)."""
    columns = [column.to_pylist() for column in naive_utc_columns(table).columns]
    return list(zip(*columns, strict=True)) if columns else []


class SparkSQL(LeaseLock):
    """The Spark SQL dialect and the lease; subclasses bring the driver (`write`, `fetch`,
    `stream`, `close`, and which exceptions are the driver's)."""

    # "Window function row_number() requires window to be ordered".
    row_number_needs_order = True

    def __init__(self, name: str, target: DbtTarget) -> None:
        super().__init__(name, target.schema)
        self._target = target

    def relation(self, identifier: str) -> str:
        return relation_name(self._target, identifier)

    def present_relations(self) -> set[str]:
        try:
            rows = self.fetch(f"show tables in {schema_name(self._target)}")
        except self.driver_errors as exc:
            if error_class(exc) == "SCHEMA_NOT_FOUND":  # dbt build has not run here
                return set()
            raise
        return listed_relations(rows)

    def integer_division(self, expression: str, divisor: int) -> str:
        # `div` is integral division (spark.apache.org/docs/latest/api/sql/#div): exact, a
        # bigint; `/` would divide as doubles.
        return f"(({expression}) div {int(divisor)})"

    def error(self, exc: BaseException, doing: str) -> WarehouseError:
        text = redact(" ".join(self.message(exc).split()), self._target.credentials)
        fix = _FIXES.get(error_class(exc) or "", _DEFAULT_FIX)
        return WarehouseError(f"{self.name} failed while {doing}: {text}; {fix}")

    def message(self, exc: BaseException) -> str:
        """The driver's message, its first line (Spark appends hints and the plan)."""
        text = str(exc).strip()
        return text.splitlines()[0] if text else type(exc).__name__


def listed_relations(rows: Iterable[Sequence[Any]]) -> set[str]:
    """Names from `SHOW TABLES` rows (namespace or database, tableName, isTemporary), lower case,
    without the session's temporary views."""
    return {str(row[1]).lower() for row in rows if not (len(row) > 2 and row[2])}


def error_class(exc: BaseException) -> str | None:
    """Spark's error class of an exception ("TABLE_OR_VIEW_NOT_FOUND"), if it names one."""
    getter = getattr(exc, "getCondition", None)
    if callable(getter):
        try:
            condition = getter()
        except Exception:  # a driver exception without one
            condition = None
        if condition:
            return str(condition).split(".")[0]
    match = ERROR_CLASS.search(str(exc))
    return match.group(1).split(".")[0] if match else None
