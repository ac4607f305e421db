"""Read the whole diff the way the sync job does: Arrow batches of 10,000 from the view.

    python -m bench.read_diff WAREHOUSE

Prints a JSON object of row counts per action. Run as its own process so its time and peak
RSS are measured alone (bench/measure.py).
"""

from __future__ import annotations

import argparse
import json
from collections import Counter

import duckdb


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("warehouse")
    parser.add_argument("--batch-size", type=int, default=10_000)
    args = parser.parse_args()
    counts: Counter[str] = Counter()
    with duckdb.connect(args.warehouse, read_only=True) as con:
        con.execute("set enable_progress_bar = false")
        reader = con.sql(
            "select audience_key, id_type, id_hash, action from tiktok_audience_diff"
        ).to_arrow_reader(args.batch_size)
        for batch in reader:
            for action, n in Counter(batch.column("action").to_pylist()).items():
                counts[str(action)] += n
    print(json.dumps(dict(counts)))


if __name__ == "__main__":
    main()
