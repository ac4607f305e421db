"""The phone normaliser on PostgreSQL: numbers of many regions against numbers of one.

    python -m bench.postgres_phones [--rows 20000] [--runs 3]

Postgres keeps only the 32 most recently used compiled regular expressions per backend, and the
phone normaliser's last step chooses one of ~300 constant patterns by calling code
(macros/cross_engine/regex_cache_order.sql). This runs the normaliser as dbt compiles it for
Postgres (the `normalise_phone_crm` wrapper model of integration_tests/) over two tables of the
same size drawn from the CRM phone corpus: its numbers of every region (80 regions), and its
numbers of one region (GB), each with the server's JIT compiler on (its default) and off; and
the many regions once more without the ORDER BYs that regex_cache_order() adds (what the SQL
was before them). Medians of `--runs` runs of `select count(*)` over the model's SQL, on a real,
throwaway server (tests/engines/postgres.py). Prints a Markdown table and writes
bench/results/postgres_phones.json.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import random
import re
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from bench.run import RESULTS_DIR, machine
from bench.scenarios import load_average
from tests.dbt_support import PROJECT_DIR, PROJECT_NAME, DbtProject, install_package
from tests.engines.postgres import PostgresServer

CORPUS = PROJECT_DIR / "seeds" / "test_corpora" / "phone_corpus_crm.csv"
MODEL = "normalise_phone_crm"
SEED = "phone_corpus_crm"
ONE_REGION = "GB"
# what regex_cache_order() writes: a line of its own
ORDER = re.compile(r"^[ \t]*order by [^\n]*$", re.MULTILINE)
# (numbers, JIT, the SQL as compiled or without ORDER)
CASES = (
    ("many regions", "on", "as compiled"),
    ("many regions", "off", "as compiled"),
    ("one region", "on", "as compiled"),
    ("one region", "off", "as compiled"),
    ("many regions", "off", "without its ORDER BYs"),
)


def samples(rows: int) -> dict[str, list[dict[str, str]]]:
    """`rows` numbers drawn from the corpus: of every region, and of ONE_REGION only."""
    with CORPUS.open(newline="", encoding="utf-8") as fh:
        corpus = list(csv.DictReader(fh))
    draw = random.Random(7)
    one = [r for r in corpus if r["country_code"] == ONE_REGION]
    return {
        "many regions": [draw.choice(corpus) for _ in range(rows)],
        "one region": [draw.choice(one) for _ in range(rows)],
    }


def compiled_sql(server: PostgresServer, workdir: Path) -> str:
    """The wrapper model's SELECT as dbt compiles it for Postgres (its lookup model built)."""
    profile = {PROJECT_NAME: {"target": "pg", "outputs": {"pg": server.profile_output("bench")}}}
    (workdir / "profiles.yml").write_text(yaml.safe_dump(profile))
    install_package(PROJECT_DIR)
    project = DbtProject(workdir)  # its profile, target and log directories
    project.run("run", "--select", "country_calling_codes")
    project.run("compile", "--select", MODEL)
    return next((workdir / "target" / "compiled").rglob(f"{MODEL}.sql")).read_text()


def load(cursor: Any, table: str, rows: list[dict[str, str]]) -> None:
    cursor.execute(
        f"create table bench.{table} (case_id int, raw_value text, raw_value_escaped text, "
        "country_code text, style text)"
    )
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for i, row in enumerate(rows):
        writer.writerow([i, row["raw_value"], None, row["country_code"] or None, row["style"]])
    buffer.seek(0)
    cursor.copy_expert(f"copy bench.{table} from stdin with (format csv)", buffer)
    cursor.execute(f"analyze bench.{table}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    import psycopg2

    seconds: dict[tuple[str, str, str], list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp, PostgresServer() as server:
        sql = compiled_sql(server, Path(tmp))
        seed = re.search(rf'"[^"]+"\."[^"]+"\."{SEED}"', sql)
        assert seed is not None, f"{MODEL} does not read {SEED}"
        assert ORDER.search(sql), f"{MODEL} has no ORDER BY of regex_cache_order()"
        connection = psycopg2.connect(**server.connection_kwargs())
        connection.autocommit = True
        cursor = connection.cursor()
        cursor.execute("create schema if not exists bench")  # dbt made it
        tables = {}
        for i, (data, rows) in enumerate(samples(args.rows).items()):
            tables[data] = f"sample_{i}"
            load(cursor, tables[data], rows)
        for _ in range(args.runs):
            for case in CASES:
                data, jit, variant = case
                query = sql.replace(seed.group(0), f"bench.{tables[data]}")
                if variant != "as compiled":
                    query = ORDER.sub("", query)
                cursor.execute(f"set jit = {jit}")
                started = time.perf_counter()
                cursor.execute(f"select count(*), count(e164_digits) from ({query}) as n")
                cursor.fetchone()
                seconds.setdefault(case, []).append(time.perf_counter() - started)
        connection.close()

    medians = {case: statistics.median(values) for case, values in seconds.items()}
    print(f"{args.rows:,} numbers, medians of {args.runs}; load average {load_average()}\n")
    print("| numbers | JIT | SQL | seconds |")
    print("|---|---|---|---|")
    for case in CASES:
        print(f"| {case[0]} | {case[1]} | {case[2]} | {medians[case]:.2f} |")
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / "postgres_phones.json").write_text(
        json.dumps(
            {
                "machine": machine(),
                "rows": args.rows,
                "runs": args.runs,
                "seconds": {" / ".join(case): v for case, v in seconds.items()},
                "load_average_after": load_average(),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
