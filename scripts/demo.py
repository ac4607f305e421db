"""`make demo`: the whole flow on demo data, on this machine, with no credentials.

1. dbt builds the demo warehouse (DuckDB) as of demo day 0 and prints, per
   audience, its members, rejected identifiers and pending adds/removes.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb

PROJECT_DIR = Path(__file__).resolve().parents[1]
DBT = str(Path(sys.executable).with_name("dbt"))


def warehouse_path() -> Path:
    return Path(os.environ.get("TIKTOK_SYNC_DUCKDB_PATH", PROJECT_DIR / "tiktok_sync.duckdb"))


def dbt_build(demo_day: int) -> None:
    print(f"\n== dbt build (demo_day={demo_day})", flush=True)
    cmd = [DBT, "build", "--vars", f"{{demo_day: {demo_day}}}", "--quiet"]
    proc = subprocess.run(cmd, cwd=PROJECT_DIR)
    if proc.returncode != 0:
        sys.exit(f"dbt build failed (exit {proc.returncode}); see logs/dbt.log")


def print_summary(title: str) -> None:
    with duckdb.connect(str(warehouse_path()), read_only=True) as con:
        rows = con.execute(
            "select audience_key, api, mode, member_count, rejected_values, empty_values, "
            "pending_adds, pending_removes from tiktok_audience_summary order by audience_key"
        ).fetchall()
    header = ("audience", "api", "mode", "members", "rejected", "empty", "to add", "to remove")
    table = [header, *[tuple(str(v) for v in row) for row in rows]]
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    print(f"\n{title}")
    for i, row in enumerate(table):
        print("  " + "  ".join(v.rjust(w) if i and j > 2 else v.ljust(w)
                                for j, (v, w) in enumerate(zip(row, widths, strict=True))))


def main() -> None:
    dbt_build(demo_day=0)
    print_summary("Audiences after the demo_day=0 build:")
    print(
        f"\nThe warehouse is {warehouse_path()}; look at tiktok_audience_summary, "
        "tiktok_audience_diff, tiktok_audience_members and tiktok_rejected_identifiers."
    )


if __name__ == "__main__":
    main()
