"""Build the project on DuckDB and, twice, on Snowflake (the fakesnow double); compare row for row.

    .venv/bin/python -m tests.engines.snowflake_compare [--workdir DIR] [--threads N]

Prints the wall time of each `dbt build`, the rows per compared relation on each side and every
difference; exits 1 on a failed build or any difference. Compared: each audience model's table,
the member, rejection and count tables, the diff and the two unit-test wrapper views; `built_at`
is left out (it is the build's time). Values are compared as Python values after one
normalisation: Snowflake's NUMBER arrives as an int or a Decimal and DuckDB's BIGINT as an int.
"""

from __future__ import annotations

import argparse
import collections
import decimal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import duckdb
import yaml

# Run as a file, this folder would come first on sys.path and snowflake.py here would shadow the
# `snowflake` package (the connector): put the project root there instead.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.dbt_support import PROJECT_NAME, DbtProject, make_dbt_project  # noqa: E402
from tests.engines import snowflake  # noqa: E402

AUDIENCES = ("demo_high_value_customers", "demo_mobile_app_users", "demo_newsletter_subscribers")
RELATIONS = (
    *AUDIENCES,
    "tiktok_audience_members",
    "tiktok_rejected_identifiers",
    "tiktok_identifier_counts",
    "tiktok_audience_diff",
    "normalise_phone",
    "normalise_identifiers",
)
LEFT_OUT = {"built_at"}
# Differences that come from neither engine nor our SQL, compared after the stated rewrite of the
# DuckDB side and counted in the output. phone_corpus.csv holds a value with CR LF inside quotes:
# dbt-duckdb loads seeds with DuckDB's COPY, which keeps the CR, while every other adapter loads
# them through dbt-core's agate reader, which opens the file without newline='' so Python turns
# the CR LF into LF. The hash agrees (whitespace is deleted); only the raw value differs.
SEED_LOADER_CRLF = ("normalise_phone", "raw_value")

Rows = collections.Counter[tuple[Any, ...]]


def normalise(value: Any) -> Any:
    if isinstance(value, decimal.Decimal) and value == value.to_integral_value():
        return int(value)
    return value


def table(rows: list[tuple[Any, ...]]) -> Rows:
    return collections.Counter(tuple(normalise(v) for v in row) for row in rows)


def as_agate_loads_it(columns: dict[str, list[str]], rows: dict[str, Rows]) -> int:
    """Apply SEED_LOADER_CRLF to the DuckDB side; return how many rows it changed."""
    relation, column = SEED_LOADER_CRLF
    at = columns[relation].index(column)
    changed: Rows = collections.Counter()
    count = 0
    for row, n in rows[relation].items():
        value = row[at]
        if isinstance(value, str) and "\r\n" in value:
            row = (*row[:at], value.replace("\r\n", "\n"), *row[at + 1 :])
            count += n
        changed[row] += n
    rows[relation] = changed
    return count


def duckdb_side(db_path: Path) -> tuple[dict[str, list[str]], dict[str, Rows]]:
    """The columns (lower case, in DuckDB's order) and rows of every compared relation."""
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        columns: dict[str, list[str]] = {}
        rows: dict[str, Rows] = {}
        for relation in RELATIONS:
            names = [
                name
                for (name,) in con.execute(
                    "select column_name from information_schema.columns "
                    "where table_name = ? order by ordinal_position",
                    [relation],
                ).fetchall()
                if name.lower() not in LEFT_OUT
            ]
            columns[relation] = names
            rows[relation] = table(
                con.execute(f"select {', '.join(names)} from {relation}").fetchall()
            )
        return columns, rows
    finally:
        con.close()


def snowflake_side(
    engine: snowflake.SnowflakeEngine, columns: dict[str, list[str]]
) -> dict[str, Rows]:
    # Unquoted names: Snowflake upper-cases them, and so does the double.
    return {
        relation: table(engine.query(f"select {', '.join(names)} from {relation}"))
        for relation, names in columns.items()
    }


def compare(expected: dict[str, Rows], actual: dict[str, Rows]) -> list[str]:
    problems = []
    for relation in RELATIONS:
        want, got = expected[relation], actual[relation]
        print(f"  {relation:32} duckdb {sum(want.values()):6}  snowflake {sum(got.values()):6}")
        missing, extra = want - got, got - want
        for label, diff in (("only on duckdb", missing), ("only on snowflake", extra)):
            for row, count in list(diff.items())[:5]:
                problems.append(f"{relation}: {label} x{count}: {row}")
            if len(diff) > 5:
                problems.append(f"{relation}: {label}: {len(diff) - 5} more rows")
    return problems


def timed_build(project: DbtProject, label: str) -> float:
    start = time.monotonic()
    project.run("build")
    elapsed = time.monotonic() - start
    print(f"{label}: dbt build OK in {elapsed:.1f} s", flush=True)
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    if reason := snowflake.unavailable_reason():
        print(f"SKIP: {reason}")
        return 0

    with tempfile.TemporaryDirectory(prefix="compare-snowflake-", dir=args.workdir) as tmp:
        work = Path(tmp)
        reference = make_dbt_project(work / "duckdb")
        timed_build(reference, "duckdb build 1")
        timed_build(reference, "duckdb build 2")
        columns, expected = duckdb_side(reference.db_path)
        crlf = as_agate_loads_it(columns, expected)
        print(
            f"{'.'.join(SEED_LOADER_CRLF)}: {crlf} DuckDB row(s) compared with CR LF as LF "
            "(dbt's agate seed loader; see SEED_LOADER_CRLF)"
        )

        with snowflake.start(work) as engine:
            project = make_dbt_project(work / "snowflake")
            profile = {
                "target": "snowflake",
                "outputs": {"snowflake": engine.profile_output(threads=args.threads)},
            }
            # The profile integration_tests/dbt_project.yml names (it is the project's name).
            (project.workdir / "profiles.yml").write_text(yaml.safe_dump({PROJECT_NAME: profile}))
            timed_build(project, "snowflake (fakesnow) build 1")
            timed_build(project, "snowflake (fakesnow) build 2")
            actual = snowflake_side(engine, columns)

    problems = compare(expected, actual)
    for problem in problems:
        print(problem)
    print("row for row: " + ("DIFFERENT" if problems else "identical"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
