"""Read the whole diff the way the sync job does: Arrow batches of 10,000 from the view.

DuckDB runs under the sync job's default memory limit, as in `tiktok-sync run`: the view's join
spills past it instead of holding every member in memory.

    python -m bench.read_diff WAREHOUSE

Prints a JSON object of row counts per action. Run as its own process so its time and peak
RSS are measured alone (bench/measure.py).
"""

from __future__ import annotations

import argparse
import json
from collections import Counter

import duckdb

from sync.settings import DEFAULT_SYNC_MEMORY_LIMIT


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("warehouse")
    parser.add_argument("--batch-size", type=int, default=10_000)
    parser.add_argument("--memory-limit", default=DEFAULT_SYNC_MEMORY_LIMIT)
    args = parser.parse_args()
    counts: Counter[str] = Counter()
    with duckdb.connect(args.warehouse, read_only=True) as con:
        con.execute("set enable_progress_bar = false")
        con.execute(f"set memory_limit = '{args.memory_limit}'")
        con.execute(f"set temp_directory = '{args.warehouse}.tmp'")
        reader = con.sql(
            "select audience_key, id_type, id_hash, action from tiktok_audience_diff"
        ).to_arrow_reader(args.batch_size)
        for batch in reader:
            for action, n in Counter(batch.column("action").to_pylist()).items():
                counts[str(action)] += n
    print(json.dumps(dict(counts)))


if __name__ == "__main__":
    main()
