"""Redshift: reached through dbt-redshift (redshift_connector).

NOT RUN against Redshift: no cluster is reachable from where this was written. What is tested
(tests/engines/test_sync_contract.py "redshift", `make test-redshift-databricks`): dbt-redshift
builds the project and this engine runs, both through the real redshift_connector, on a real
PostgreSQL server behind a shim that changes only the connection's startup exchange
(tests/engines/redshift.py says what, and what that double cannot show).

Two connections, both opened by dbt's adapter from the profile (password, IAM, IAM Identity
Center, ...), with autocommit on as dbt-redshift opens them: writes go through one, each its own
committed transaction; reads of a large result go through the other, in a transaction of their
own, so that batch events appended while a stream is read are not held back by it. Redshift
allows one open cursor per session, another reason for the second one.

Parameters: redshift_connector binds on the server (PostgreSQL's extended protocol, `$1`...);
its cursor takes our `?` placeholders as they are (paramstyle qmark), so no value is ever
written into the SQL, and Redshift's backslash escapes in literals never apply to one.

Reads stay bounded in memory: redshift_connector reads a whole result into the client when a
query runs, so a stream declares a cursor (DECLARE ... CURSOR FOR, inside BEGIN ... COMMIT) and
FETCHes FORWARD at most 1,000 rows at a time, the most a single-node cluster allows, joined into
record batches of `batch_rows`. Redshift materialises a cursor's result on the leader node when
it is first fetched (docs: FETCH, DECLARE): the result is fixed then, and appends meanwhile change
nothing in it.

Writes: no identifier travels from this process to Redshift. The changes of a run go in with one
`INSERT ... SELECT` per audience, computed in the warehouse (docs/decisions/0001); batch,
registry, lease and history events are one small INSERT each. So Redshift's lack of COPY FROM
STDIN (its COPY reads only from S3, DynamoDB, EMR or SSH hosts) and its 16 MB limit on a
statement's text never come into play; a batch of 10,000 identifiers costs the same few
statements as on every engine.

The sync job's SQL is portable (sync/warehouse.py); what differs on Redshift is handled here:
no advisory locks (a lease instead), no `COLLATE "C"` (Redshift compares VARCHAR by bytes
anyway, it has no locale collations), no session planner settings (Postgres's engine sets
enable_nestloop and the like, which Redshift does not have). It uses no ON CONFLICT, hashtext()
or TEXT columns of its own; the tables are dbt's (VARCHAR(65535) where text can be long).

One run at a time: a lease in tiktok_sync_locks (lease.py), as on Snowflake; Redshift has no
lock a session can hold and release. A second run refuses at once with exit 2 naming the run
that holds it; `dbt build` of the sync models stops with one line while a lease is active
(redshift__check_sync_lock); a crashed run's lease expires after `lease_ttl` (10 minutes).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
from redshift_connector.error import Error as RedshiftError

from sync.engines.base import Params, rows_to_record_batch
from sync.engines.dbt_target import (
    DbtTarget,
    open_handle,
    redact,
    relation_name,
    server_error_fields,
)
from sync.engines.lease import LeaseLock
from sync.errors import WarehouseError

# The most rows one FETCH may ask for on a single-node cluster (docs: FETCH, FORWARD count).
FETCH_ROWS = 1000

# What to do about the errors a run can meet after connecting (connecting is dbt's: open_handle),
# by SQLSTATE; Redshift's own errors (serialization, disk full) come as XX000 with a number.
_FIXES = {
    "42P01": "run `dbt build` with this project and profile, and check the user may read the "
    "schema",
    "3F000": "run `dbt build` with this project and profile",
    "42501": "grant the profile's user the privileges dbt build has on the target's schema",
    "57014": "the statement was cancelled (statement_timeout or WLM); raise the limit or retry",
}
_SERIALIZABLE = (
    "another transaction wrote the same tables at the same time (Redshift's serializable "
    "isolation); nothing was lost; run again"
)
_DEFAULT_FIX = "nothing more was sent; see the message (dbt debug checks the connection)"


class RedshiftEngine(LeaseLock):
    types = ("redshift",)
    # Count the diff of all audiences in one query, as on Postgres: the server runs it over the
    # whole ledger either way, and every Redshift query pays its queueing and compilation
    # (not measured on Redshift: a cluster was not reachable).
    reads_diff_per_audience = False

    def __init__(self, target: DbtTarget) -> None:
        super().__init__("Redshift", target.schema)
        self.driver_errors = (RedshiftError,)
        self._target = target
        self._writer: Any = self._open("tiktok-sync")
        self._reader: Any = None

    def _open(self, name: str) -> Any:
        handle = open_handle(self._target, name)
        # dbt-redshift turns autocommit on unless the profile says `autocommit: false`; each of
        # our statements is meant to be committed when it returns, whatever the profile says.
        handle.autocommit = True
        return handle

    @classmethod
    def open(cls, target: DbtTarget) -> RedshiftEngine:
        return cls(target)

    def relation(self, identifier: str) -> str:
        return relation_name(self._target, identifier)

    def _cursor(self, connection: Any) -> Any:
        cursor = connection.cursor()
        cursor.paramstyle = "qmark"  # `?` bound by the server, never pasted into the SQL
        return cursor

    def write(self, sql: str, params: Params = ()) -> None:
        cursor = self._cursor(self._writer)
        try:
            cursor.execute(sql, list(params))
        finally:
            cursor.close()

    def fetch(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]:
        cursor = self._cursor(self._writer)
        try:
            cursor.execute(sql, list(params))
            return [tuple(row) for row in cursor.fetchall()]
        finally:
            cursor.close()

    def stream(self, sql: str, params: Params, batch_rows: int) -> Iterator[pa.RecordBatch]:
        if self._reader is None:
            self._reader = self._open("tiktok-sync-reader")
        name = f"tiktok_sync_{uuid.uuid4().hex}"
        fetch = f"fetch forward {min(batch_rows, FETCH_ROWS)} from {name}"
        cursor = self._cursor(self._reader)
        try:
            cursor.execute("begin")
            cursor.execute(f"declare {name} cursor for {sql}", list(params))
            held: list[tuple[Any, ...]] = []
            while True:
                cursor.execute(fetch)
                rows = [tuple(row) for row in cursor.fetchall()]
                names = [d[0] for d in cursor.description]
                held += rows
                while len(held) >= batch_rows:
                    yield rows_to_record_batch(names, held[:batch_rows])
                    held = held[batch_rows:]
                if not rows:
                    if held:
                        yield rows_to_record_batch(names, held)
                    break
        finally:
            try:
                cursor.execute("rollback")  # closes the cursor; the stream wrote nothing
            except RedshiftError:
                self._reader.close()
                self._reader = None
            cursor.close()

    def integer_division(self, expression: str, divisor: int) -> str:
        # Integer division already (a bigint by an integer is a truncated bigint; the row
        # numbers divided are never negative), as on Postgres.
        return f"(({expression}) / {int(divisor)})"

    def error(self, exc: BaseException, doing: str) -> WarehouseError:
        # redshift_connector's message is the server's error fields as a dict's repr
        # ({'S': 'ERROR', 'C': '42P01', 'M': 'relation ... does not exist', ...}).
        fields = server_error_fields(str(exc))
        text = " ".join((fields.get("M") or str(exc)).split()) or type(exc).__name__
        code = fields.get("C", "")
        fix = (
            _SERIALIZABLE
            if "serializable isolation violation" in str(exc).lower()
            else _FIXES.get(code, _DEFAULT_FIX)
        )
        return WarehouseError(
            f"Redshift failed while {doing}: {redact(text, self._target.credentials)}; {fix}"
        )

    def close(self) -> None:
        for connection in (self._reader, self._writer):
            if connection is not None:
                connection.close()
        self._reader = self._writer = None
