"""Databricks: reached through dbt-databricks (databricks-sql-connector).

NOT RUN against Databricks: no workspace is reachable from where this was written. What is
tested (tests/engines/test_databricks_sync.py, `make test-redshift-databricks`): dbt-databricks
opens its handle from a profile with the connector's `connect` replaced by a stand-in, the
connector's own Cursor turns our statements and values into what it would send (native
positional parameters), and results come back through its Arrow calls. The SQL is the one the
Spark engine runs on a real local Spark (base_spark.py, test_sync_contract.py "spark-lease"),
which Databricks shares: Spark SQL, the same error classes, `div`, `SHOW TABLES`.

The connection is the one dbt-databricks' adapter opens for the profile (token, OAuth M2M/U2M,
Azure service principal, ...; `http_path` of the SQL warehouse or cluster; `catalog` and
`schema`): dbt's handle (DatabricksHandle) keeps the connector's Connection in `_conn`, which
this engine uses directly for what the handle does not offer (native parameters, Arrow).

Parameters: dbt-databricks opens the connection with `use_inline_params="silent"`, so the
connector would paste values into the SQL itself (its escaping, pyformat). This engine turns
that off on its own connection (nothing of dbt's uses it), and the connector sends our `?`
placeholders with the values as typed native parameters (databricks-sql-connector 3.0+, which
dbt-databricks 1.11+ requires; the warehouse needs Databricks SQL 2023.35+ or DBR 14.1+).
Timestamps go as UTC strings into `cast(? as timestamp)` (base_spark.py).

Reads: `fetch` with `fetchall_arrow`; `stream` with `fetchmany_arrow(batch_rows)`, the
connector's Arrow path, which downloads the result in chunks (Cloud Fetch links or Thrift
batches) as they are read. A result is fixed when its statement ran; appends meanwhile (batch
events) change nothing in it.

Writes: each `execute` is one statement on a Delta table, committed when it returns. The
ledger's INSERTs are blind appends, which never conflict in Delta, even with a `dbt build`
running.

One run at a time: a lease in tiktok_sync_locks (lease.py). Delta makes a committed INSERT
visible to every query that starts afterwards (snapshot at query start), the lease's first
assumption. A statement on a SQL warehouse is a round trip of tenths of a second to seconds;
`lease_commit_bound` is 10 s (a guess), so a run waits about 12 s after claiming. A second run
refuses at once with exit 2 naming the run that holds the lease; `dbt build` of the sync models
stops with one line while a lease is active (check_sync_lock, default__); a crashed run's lease
expires after `lease_ttl` (10 minutes).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any, ClassVar

import pyarrow as pa
from databricks.sql.exc import Error as DatabricksError

from sync.engines.base import Params
from sync.engines.base_spark import SparkSQL, bound_values, naive_utc_columns, rows_of
from sync.engines.dbt_target import DbtTarget, open_handle
from sync.errors import WarehouseError


class DatabricksEngine(SparkSQL):
    types = ("databricks",)
    #: A Delta commit through a SQL warehouse: usually under a second or two (a guess from
    #: Databricks' documentation, not measured here).
    lease_commit_bound: ClassVar[timedelta] = timedelta(seconds=10)

    def __init__(self, target: DbtTarget) -> None:
        super().__init__("Databricks", target)
        self.driver_errors = (DatabricksError,)
        self._handle: Any = open_handle(target, "tiktok-sync")
        self._con: Any = getattr(self._handle, "_conn", None)
        if self._con is None or not hasattr(self._con, "use_inline_params"):
            self._handle.close()
            raise WarehouseError(
                "this dbt-databricks version keeps its connection where tiktok-sync does not "
                "look for it (DatabricksHandle._conn); install the dbt-databricks version "
                "tiktok-audience-sync supports (pip install 'tiktok-audience-sync[databricks]')"
            )
        self._con.use_inline_params = False  # native parameters on this connection only

    @classmethod
    def open(cls, target: DbtTarget) -> DatabricksEngine:
        return cls(target)

    def write(self, sql: str, params: Params = ()) -> None:
        with self._con.cursor() as cursor:
            cursor.execute(sql, _parameters(params))

    def fetch(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]:
        with self._con.cursor() as cursor:
            cursor.execute(sql, _parameters(params))
            return rows_of(cursor.fetchall_arrow())

    def stream(self, sql: str, params: Params, batch_rows: int) -> Iterator[pa.RecordBatch]:
        cursor = self._con.cursor()
        try:
            cursor.execute(sql, _parameters(params))
            while True:
                table = cursor.fetchmany_arrow(batch_rows)
                if table.num_rows == 0:
                    break
                yield from naive_utc_columns(table).to_batches(max_chunksize=batch_rows)
        finally:
            cursor.close()

    def close(self) -> None:
        handle, self._handle = self._handle, None
        if handle is not None:
            handle.close()


def _parameters(params: Params) -> list[Any] | None:
    """The values for the `?` placeholders; None without values, so the statement goes as it is
    (an empty list would still ask for native binding)."""
    return bound_values(params) if params else None
