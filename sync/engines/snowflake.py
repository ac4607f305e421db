"""Snowflake: reached through dbt-snowflake (snowflake-connector-python).

One connection, opened by dbt's adapter from the profile (password, key pair, SSO, OAuth, ...)
with autocommit on, as dbt-snowflake always opens it: each write is its own committed
transaction. Reads and writes use cursors of their own on it; a stream's result is fixed when
its query runs (Snowflake reads a snapshot and keeps the result for the cursor), so batch events
appended while it is read change nothing in it.

Parameters: the connection keeps dbt's paramstyle, pyformat: the connector escapes each value
and writes it into the statement as a literal (client-side binding), the way dbt-snowflake binds
seeds. Chosen over server-side qmark binding, which would need the connector's private
`_force_qmark_paramstyle` or a paramstyle change on dbt's connection, and which types values by
their Python class instead of by the SQL around them (a naive datetime goes as TIMESTAMP_NTZ
epoch nanoseconds, None as ANY). Our values are a few short strings, integers and naive UTC
timestamps per statement; a timestamp arrives as '2026-12-03 10:00:00.123456', which
`cast(? as timestamp)` reads as the same wall-clock time into the TIMESTAMP_NTZ columns
(dbt.type_timestamp) whatever the account's TIMESTAMP_TYPE_MAPPING and TIMEZONE.

Streams use the connector's Arrow path (`fetch_arrow_batches`): one Arrow table per result
chunk Snowflake stored, downloaded as it is read (a few chunks ahead, CLIENT_PREFETCH_THREADS),
each cut here into record batches of `batch_rows`.

Names: unquoted, as dbt-snowflake renders them, so Snowflake folds them to upper case; result
columns come back upper case and are lower-cased here; relations are listed lower-cased.

One run at a time: a lease in tiktok_sync_locks (sync/engines/lease.py). A second run refuses
at once with exit 2 naming the run that holds it; `dbt build` of the sync models stops with one
line while a lease is active; a crashed run's lease expires after `lease_ttl` (10 minutes).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import snowflake.connector
from snowflake.connector.errors import NotSupportedError

from sync.engines.base import Params, qmark_to_format
from sync.engines.dbt_target import DbtTarget, open_handle, redact, relation_name
from sync.engines.lease import LeaseLock
from sync.errors import WarehouseError

# What to do about the errors a run can meet after connecting (connecting is dbt's: open_handle).
# Codes: docs.snowflake.com error messages and the connector's errorcode.py.
_FIXES = {
    2003: "run `dbt build` with this project and profile, and check the role may read the schema",
    3001: "grant the profile's role the privileges dbt build has on the target's schema",
    606: "set `warehouse:` in the profile's target (or a default warehouse for the user)",
    630: "the statement hit STATEMENT_TIMEOUT_IN_SECONDS; raise it or use a larger warehouse",
    390112: "the session expired; run again",
    390114: "the session expired; run again",
}
_DEFAULT_FIX = "nothing more was sent; see the message (dbt debug checks the connection)"


class SnowflakeEngine(LeaseLock):
    types = ("snowflake",)
    # "Window function type [ROW_NUMBER] requires ORDER BY in window specification". The
    # Snowflake double (DuckDB underneath) takes one without, so no test here would notice.
    row_number_needs_order = True

    def __init__(self, target: DbtTarget) -> None:
        super().__init__("Snowflake", target.schema)
        self.driver_errors = (snowflake.connector.errors.Error,)
        self._target = target
        self._con: Any = open_handle(target, "tiktok-sync")

    @classmethod
    def open(cls, target: DbtTarget) -> SnowflakeEngine:
        return cls(target)

    def relation(self, identifier: str) -> str:
        return relation_name(self._target, identifier)

    def present_relations(self) -> set[str]:
        # The session's database is the target's (dbt connects with it). Unquoted names are
        # stored upper case, the schema too: compare folded as Snowflake folds it. TABLES lists
        # views as well on Snowflake; VIEWS too, for the double, whose TABLES has tables only.
        rows = self.fetch(
            "select table_name from information_schema.tables where table_schema = upper(?) "
            "union select table_name from information_schema.views where table_schema = upper(?)",
            [self.schema, self.schema],
        )
        return {str(name).lower() for (name,) in rows}

    def write(self, sql: str, params: Params = ()) -> None:
        with self._con.cursor() as cursor:
            cursor.execute(*_bind(sql, params))

    def fetch(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]:
        with self._con.cursor() as cursor:
            cursor.execute(*_bind(sql, params))
            return [tuple(row) for row in cursor.fetchall()]

    def stream(self, sql: str, params: Params, batch_rows: int) -> Iterator[pa.RecordBatch]:
        cursor = self._con.cursor()
        try:
            cursor.execute(*_bind(sql, params))
            try:
                tables = cursor.fetch_arrow_batches()
            except NotSupportedError:
                raise WarehouseError(
                    "Snowflake answered in JSON, not Arrow: the account or user sets "
                    "PYTHON_CONNECTOR_QUERY_RESULT_FORMAT; set it to 'ARROW' for the profile's "
                    "user (alter user ... set python_connector_query_result_format = 'ARROW')"
                ) from None
            for table in tables:
                table = table.rename_columns([name.lower() for name in table.column_names])
                yield from table.to_batches(max_chunksize=batch_rows)
        finally:
            cursor.close()

    def integer_division(self, expression: str, divisor: int) -> str:
        # `/` of two integers is a NUMBER with 6 decimals, rounded (docs.snowflake.com,
        # "Scale and precision in arithmetic operations"): floor((n*d - 1) / d) would be n,
        # not n - 1, for a divisor above 2,000,000. Subtracting the remainder divides exactly.
        # mod(), not `%`: `%` is the connector's placeholder character.
        n = int(divisor)
        return f"cast((({expression}) - mod({expression}, {n})) / {n} as bigint)"

    def error(self, exc: BaseException, doing: str) -> WarehouseError:
        # The connector's message spans lines ("SQL compilation error:\nObject ... does not
        # exist"): one line, the query id kept for Snowflake's query history.
        text = " ".join(str(exc).split()) or type(exc).__name__
        fix = _FIXES.get(getattr(exc, "errno", None) or 0, _DEFAULT_FIX)
        return WarehouseError(
            f"Snowflake failed while {doing}: {redact(text, self._target.credentials)}; {fix}"
        )

    def close(self) -> None:
        if self._con is not None:
            con, self._con = self._con, None
            con.close()


def _bind(sql: str, params: Params) -> tuple[str, list[Any] | None]:
    """`?` placeholders as the connector's pyformat `%s`. Without values the statement goes as
    it is: the connector then leaves `%` alone, and a doubled one would stay doubled."""
    if not params:
        return sql, None
    return qmark_to_format(sql), list(params)
