"""What the sync job needs from a warehouse, and what every engine shares.

The state semantics live once, in `sync.warehouse`, as portable SQL over the ledger, so every
guarantee holds on every engine (README "Guarantees", "Other engines"). An engine module holds only
what differs between warehouses (SQLMesh's engine_adapter shape): how the connection is opened
(always through dbt's adapter, see `dbt_target`), how parameters are bound, how a query streams as
Arrow record batches with bounded memory, how relations are listed, how one run at a time is
enforced, and how driver errors read.

Every statement the sync job runs is a read or a single-statement append (the ledger, the run
history): nothing needs a multi-statement transaction, so engines without them (BigQuery, plain
Spark tables) give the same guarantees. SQL reaching an engine uses `?` placeholders; values are
always bound, never written into the SQL.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime
from typing import Any, ClassVar

import pyarrow as pa

from sync.errors import WarehouseError

Params = Sequence[Any]


class Engine(ABC):
    """One open connection to the target's warehouse, for one command."""

    #: dbt's adapter type(s) this engine serves.
    types: ClassVar[tuple[str, ...]] = ()
    #: How one run at a time is enforced, for messages and the README.
    lock_kind: ClassVar[str] = ""
    #: Count the diff with one query per audience (bounded memory where the diff's join runs
    #: in the sync's own process), or all audiences in one (where the server computes the
    #: views' aggregation over the whole ledger for each query anyway).
    reads_diff_per_audience: ClassVar[bool] = True
    #: Read a run's frozen changes back in windows of whole batches of about this many rows,
    #: a query each (where the query's sort runs in the sync's own process and would hold the
    #: whole freeze), or None: in one query (where the server sorts, and every query costs a
    #: round trip, a job or the bytes it scans).
    frozen_window_rows: ClassVar[int | None] = None
    #: Whether the engine's row_number() refuses a window without an ORDER BY (see
    #: `numbering_order`).
    row_number_needs_order: ClassVar[bool] = False

    def __init__(self, name: str, schema: str) -> None:
        self.name = name  # the engine's name in messages: "DuckDB", "Postgres", ...
        self.schema = schema
        #: Exceptions of the driver that `error` translates into one line.
        self.driver_errors: tuple[type[BaseException], ...] = ()

    # --- naming ---------------------------------------------------------------------------------

    @abstractmethod
    def relation(self, identifier: str) -> str:
        """The fully qualified, quoted name of `identifier` in the target's schema."""

    def present_relations(self) -> set[str]:
        """Lower-cased names of the tables and views in the target's schema.

        From information_schema.tables, which lists views too on DuckDB, Postgres and Redshift
        (both fold unquoted names to lower case, as dbt leaves them); the other engines list
        their relations their own way."""
        rows = self.fetch(
            "select table_name from information_schema.tables where table_schema = ?",
            [self.schema],
        )
        return {str(name).lower() for (name,) in rows}

    # --- statements -----------------------------------------------------------------------------

    @abstractmethod
    def execute(self, sql: str, params: Params = ()) -> None:
        """Run one write and commit it before returning."""

    @abstractmethod
    def fetch(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]:
        """All rows of a small result (counts, targets, the registry)."""

    def fetch_soon(self, sql: str, params: Params = ()) -> Callable[[], list[tuple[Any, ...]]]:
        """Start a small read whose rows the caller takes later, by calling what this returns
        (which raises what the read raised). Reads started together may run side by side, on
        sessions of their own, where the engine runs one statement on one core (Postgres); by
        default each runs here and now. Start them only where nothing is written before their
        rows are taken: each sees what was committed when it runs."""
        try:
            rows = self.fetch(sql, params)
        except Exception as exc:  # raised where the rows are taken, as where reads run later
            failure = exc

            def failed() -> list[tuple[Any, ...]]:
                raise failure

            return failed
        return lambda: rows

    def execute_freeze(self, sql: str, params: Params = ()) -> None:
        """Run a freeze: the INSERT ... SELECT that copies an audience's changes from the diff
        into the ledger (one write, committed before returning)."""
        self.execute(sql, params)

    def row_counter(self) -> str | None:
        """SQL numbering the rows of one freeze statement 0, 1, 2, ... without a window, where
        the engine has one (each `execute_freeze` starts it at 0 again), else None: the
        freeze numbers rows with row_number(), which holds every row it numbers."""
        return None

    def reading_frozen(self) -> AbstractContextManager[None]:
        """Around the reads of a freeze (a few batches per query): where the engine runs in
        the sync's process, it may hold less meanwhile."""
        return nullcontext()

    @abstractmethod
    def stream(self, sql: str, params: Params, batch_rows: int) -> Iterator[pa.RecordBatch]:
        """The rows of a large result as Arrow record batches of about `batch_rows` rows, read
        through the driver's own Arrow path, never the whole result at once. Close the iterator
        (or read it to the end) to release what it holds."""

    # --- one run at a time ----------------------------------------------------------------------

    def acquire_run_lock(self, holder: str) -> None:  # noqa: B027 - most engines need one
        """Hold the warehouse for a run, or raise WarehouseError (exit 2) if another run does."""

    def renew_run_lock(self) -> None:  # noqa: B027
        """Called between batches: a lease that expires must be renewed while the run lives."""

    def release_run_lock(self) -> None:  # noqa: B027
        """Give the warehouse back (also called after a failure)."""

    # --- life -----------------------------------------------------------------------------------

    @abstractmethod
    def close(self) -> None:
        """Close the connection; idempotent."""

    def error(self, exc: BaseException, doing: str) -> WarehouseError:
        """A one-line error for a driver exception raised while `doing` something."""
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return WarehouseError(f"{self.name} failed while {doing}: {text}")

    def integer_division(self, expression: str, divisor: int) -> str:
        """SQL for `expression` (an integer) divided by `divisor`, rounded down, as a bigint.
        `/` of two integers is a float on most engines, an integer on Postgres."""
        return f"cast(floor(({expression}) / {int(divisor)}) as bigint)"

    def numbering_order(self, column: str) -> str:
        """The ORDER BY of the window that numbers a freeze's changes into batches, only where
        the engine's row_number() needs one. Any order serves: the numbers are copied into the
        ledger with the changes, once. Without one, no engine sorts the freeze's hashes, which
        was most of a freeze (DuckDB, 5.4M changes: 4.7 -> 3.0 s)."""
        return f"order by {column}" if self.row_number_needs_order else ""

    def now_param(self, value: datetime) -> Any:
        """A naive UTC timestamp as the driver binds it into a timestamp column."""
        return value


def qmark_to_format(sql: str) -> str:
    """`?` placeholders as `%s` (psycopg2, pyformat drivers). Our SQL has no `%` and no `?`
    inside literals; a `%` would be doubled so the driver reads it as a literal."""
    return sql.replace("%", "%%").replace("?", "%s")


def rows_to_record_batch(names: Sequence[str], rows: Sequence[Sequence[Any]]) -> pa.RecordBatch:
    """Rows of a DB-API driver without an Arrow path as one record batch (`rows` not empty).
    A column that holds only text and nulls stays an Arrow string, even when all are null."""
    columns = list(zip(*rows, strict=True))
    return pa.RecordBatch.from_arrays(
        [
            pa.array(list(c), type=pa.string())
            if all(v is None or isinstance(v, str) for v in c)
            else pa.array(list(c))
            for c in columns
        ],
        names=list(names),
    )
