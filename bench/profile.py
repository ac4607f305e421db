"""Where an audience model's time goes: DuckDB's profile of the SQL dbt ran for it.

    python -m bench.profile WAREHOUSE RUN_SQL [--threads N] [--top K]

RUN_SQL is the file dbt wrote under target/run/.../models/audiences/<model>.sql: the
materialization's `create table ... as (<identifiers query>)`. The query is run again into a
scratch table with DuckDB's JSON profiler on, and the operators are listed by their own time
(children excluded), with the expressions each one evaluates, so a regex or a sort that
dominates stands out. The warehouse must not be in use by another process.
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb


@dataclass(frozen=True)
class OperatorTime:
    name: str
    seconds: float
    rows: int
    detail: str


def identifiers_query(run_sql: str) -> str:
    """The SELECT inside dbt's `create table <name> as ( ... );`."""
    start = run_sql.index(" as (") + len(" as (")
    end = run_sql.rindex(")")
    return run_sql[start:end]


def _walk(node: dict[str, Any], out: list[OperatorTime]) -> None:
    # DuckDB 2.0's JSON profile: type, timing (own time, summed over threads), intermediate_rows.
    name = str(node.get("type") or node.get("operator_name") or "?").strip()
    extra = node.get("extra_info") or {}
    detail = "; ".join(
        f"{k}: {v}" for k, v in extra.items() if k in ("Expression", "Projections", "Conditions")
    )
    out.append(
        OperatorTime(
            name=name,
            seconds=float(node.get("timing") or node.get("operator_timing") or 0.0),
            rows=int(node.get("intermediate_rows") or node.get("operator_cardinality") or 0),
            detail=detail.replace("\n", " "),
        )
    )
    for child in node.get("children") or []:
        _walk(child, out)


def profile(warehouse: Path, run_sql: str, threads: int = 2) -> tuple[float, list[OperatorTime]]:
    """Wall seconds of the query and its operators, most expensive first."""
    query = identifiers_query(run_sql)
    # dbt qualifies names with the catalog, which DuckDB names after the file it built: attach
    # the warehouse under that name, whatever the file is called now
    named = re.search(r'"([^"]+)"\."main"\.', query)
    catalog = named.group(1) if named else warehouse.stem
    with tempfile.TemporaryDirectory() as tmp, duckdb.connect() as con:
        con.execute(f"attach '{warehouse}' as \"{catalog}\"")
        con.execute(f'use "{catalog}"')
        output = Path(tmp) / "profile.json"
        con.execute(f"set threads = {int(threads)}")
        con.execute("set enable_progress_bar = false")
        con.execute("set enable_profiling = 'json'")
        con.execute(f"set profiling_output = '{output}'")
        started = time.perf_counter()
        con.execute(f"create or replace temp table bench_profile_scratch as {query}")
        wall = time.perf_counter() - started
        con.execute("set enable_profiling = 'no_output'")
        tree = json.loads(output.read_text())
    operators: list[OperatorTime] = []
    for child in tree.get("operator") or tree.get("children") or []:
        _walk(child, operators)
    return wall, sorted(operators, key=lambda o: -o.seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("warehouse", type=Path)
    parser.add_argument("run_sql", type=Path)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--width", type=int, default=400)
    args = parser.parse_args()
    wall, operators = profile(args.warehouse, args.run_sql.read_text(), args.threads)
    total = sum(o.seconds for o in operators)
    print(f"wall {wall:.2f} s; operator time {total:.2f} s (summed over {args.threads} threads)")
    for op in operators[: args.top]:
        share = op.seconds / total if total else 0.0
        print(f"{op.seconds:7.3f} s {share:6.1%} {op.rows:>11,} rows  {op.name}")
        if op.detail:
            print(f"          {op.detail[: args.width]}")


if __name__ == "__main__":
    main()
