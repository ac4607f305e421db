"""A large read (`Engine.stream`) on DuckDB and a real Postgres server: every value as the
warehouse holds it, in record batches of the size asked for; a read stopped early or failing
leaves the connection fit for the next one.

On Postgres a stream is COPY's CSV parsed by Arrow (sync/engines/postgres.py): NULL and the
empty string, a text that reads "NULL", separators, quotes and line breaks inside a value must
all come back unchanged.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa
import pytest

from sync.warehouse import Warehouse
from tests.warehouses import Warehouses

TEXTS = [None, "", "NULL", "null", "a,b", 'say "hi"', "two\nlines", "tab\there", "  spaced  ", "t"]
ROWS = pa.table(
    {
        "n": pa.array(range(1, len(TEXTS) + 1), pa.int64()),
        "big": pa.array([2**62, None, -(2**40), 0, 1, 2, 3, 4, 5, 6], pa.int64()),
        "txt": pa.array(TEXTS, pa.string()),
    }
)


def _rows(batches: list[pa.RecordBatch]) -> list[tuple[object, ...]]:
    table = pa.Table.from_batches(batches)
    return list(zip(*(table.column(name).to_pylist() for name in ("n", "big", "txt")), strict=True))


@contextmanager
def _with_values(engine: Warehouses, tmp_path: Path) -> Iterator[tuple[Warehouse, str]]:
    """The demo warehouse, opened, with ROWS in a table of its schema; and that table."""
    with engine.demo(tmp_path / "dbt") as warehouse:
        warehouse.create_table("stream_values", ROWS)
        with Warehouse.open(warehouse.settings()) as opened:
            yield opened, opened.table("stream_values")


def test_a_stream_returns_every_value_as_held_in_batches_of_the_size_asked(
    engine: Warehouses, tmp_path: Path
) -> None:
    with _with_values(engine, tmp_path) as (opened, table):
        sql = f"select n, big, txt from {table} where n >= ? order by n"
        batches = list(opened.engine.stream(sql, [1], 3))
        empty = list(opened.engine.stream(sql, [len(TEXTS) + 1], 3))

    assert [b.num_rows for b in batches] == [3, 3, 3, 1]
    assert _rows(batches) == list(
        zip(ROWS["n"].to_pylist(), ROWS["big"].to_pylist(), TEXTS, strict=True)
    )
    assert batches[0].schema.field("big").type == pa.int64()
    assert batches[0].schema.field("txt").type == pa.string()
    assert empty == []


def test_a_stream_closed_early_or_failing_leaves_the_next_one_whole(
    engine: Warehouses, tmp_path: Path
) -> None:
    with _with_values(engine, tmp_path) as (opened, table):
        ordered = f"select n, big, txt from {table} order by n"
        stopped = opened.engine.stream(ordered, [], 2)
        assert isinstance(stopped, Generator)
        first = next(stopped)
        stopped.close()
        # Row 6 cannot be cast: the read fails part-way through its rows.
        failing = (
            f"select n, big, cast(case when n = 6 then 'x' else cast(n as varchar) end "
            f"as integer) as txt from {table} order by n"
        )
        seen: list[pa.RecordBatch] = []
        with pytest.raises(opened.engine.driver_errors):
            for batch in opened.engine.stream(failing, [], 2):
                seen.append(batch)
        after = list(opened.engine.stream(ordered, [], 4))

    assert first.num_rows == 2
    assert sum(b.num_rows for b in seen) < 6  # whole rows from before the one that failed
    assert _rows(after) == list(
        zip(ROWS["n"].to_pylist(), ROWS["big"].to_pylist(), TEXTS, strict=True)
    )
