"""The results as the Markdown table of bench/README.md, targets judged.

python -m bench.report [bench/results/latest.json]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

TARGET_SIZE = "10M"  # the targets (bench/README.md) are stated for 10M identifiers


def _rate(value: float) -> str:
    if value >= 1_000_000:
        return f"{value / 1_000_000:.2f}M/s"
    return f"{value / 1_000:.0f}k/s"


def _s(stat: dict[str, Any]) -> tuple[str, str]:
    return f"{stat['median']:.2f} s", f"{stat['min']:.2f}-{stat['max']:.2f}"


def _mb(stat: dict[str, Any]) -> str:
    return f"{stat['median']:,.0f} MB"


def _verdict(ok: bool | None) -> str:
    return "—" if ok is None else ("met" if ok else "**missed**")


def rows_for(label: str, size: dict[str, Any], results: dict[str, Any]) -> list[list[str]]:
    at_target = label == TARGET_SIZE
    n = size["identifiers"]
    rows: list[list[str]] = []
    build = size["build"]
    median, spread = _s(build["wall_seconds"])
    rows.append(
        [
            "dbt build, whole (normalise, hash, members, diff, data tests)",
            label,
            median,
            spread,
            _rate(build["identifiers_per_second"]["median"]),
            _mb(build["peak_rss_mb"]),
            "RSS < 2 GB" if at_target else "",
            _verdict(build["peak_rss_mb"]["max"] < 2048 if at_target else None),
        ]
    )
    audience = build["audience_models_seconds"]
    if "normalise_hash_seconds" in build:
        query = build["normalise_hash_seconds"]
        median, spread = _s(query)
        rate = n / query["median"]
        rows.append(
            [
                "... of which the normalise + hash queries (audience create table)",
                label,
                median,
                spread,
                _rate(rate),
                "",
                ">= 3M ids/s" if at_target else "",
                _verdict(rate >= 3_000_000 if at_target else None),
            ]
        )
        median, spread = _s(build["write_members_seconds"])
        rows.append(["... writing members and rejections", label, median, spread, "", "", "", ""])
    median, spread = _s(audience)
    rows.append(
        [
            "... audience models in all (normalise, hash, write, commit)",
            label,
            median,
            spread,
            _rate(n / audience["median"]),
            "",
            "" if "normalise_hash_seconds" in build else ">= 3M ids/s" if at_target else "",
            ""
            if "normalise_hash_seconds" in build
            else _verdict(n / audience["median"] >= 3_000_000 if at_target else None),
        ]
    )
    for key, title in (
        ("data_tests_seconds", "... data tests (members and state tables)"),
        ("dbt_overhead_seconds", "... dbt start-up, parsing, other nodes"),
    ):
        stat = dict(build[key])
        if key == "dbt_overhead_seconds":
            stat = {
                k: build[key][k] + build["other_nodes_seconds"][k] for k in ("median", "min", "max")
            }
        median, spread = _s(stat)
        rows.append([title, label, median, spread, "", "", "", ""])
    if "baseline" in size:
        base = size["baseline"]
        median, spread = _s(base["wall_seconds"])
        rows.append(
            [
                "pandas + hashlib baseline (normalise, hash, diff, write)",
                label,
                median,
                spread,
                _rate(base["identifiers_per_second"]["median"]),
                _mb(base["peak_rss_mb"]),
                "",
                "",
            ]
        )
        speedup = base["wall_seconds"]["median"] / build["wall_seconds"]["median"]
        ours = build.get("normalise_hash_seconds", audience)
        inner = base["normalise_hash_seconds"]["median"] / ours["median"]
        memory = build["peak_rss_mb"]["median"] / base["peak_rss_mb"]["median"]
        rows.append(
            [
                "vs baseline: speed-up (its time / ours) of the whole build; of normalise"
                " + hash; memory (ours / its)",
                label,
                f"{speedup:.1f}x",
                f"{inner:.1f}x",
                "",
                f"{memory:.2f}x",
                ">= 5x faster" if at_target else "",
                _verdict(speedup >= 5 if at_target else None),
            ]
        )
        hashes = size["hashes"]
        rows.append(
            [
                "same members (hashes) as the baseline",
                label,
                "yes" if hashes["equal"] else "**no**",
                f"{hashes['rows']:,} members",
                "",
                "",
                "equal",
                _verdict(hashes["equal"]),
            ]
        )
    if "incremental" in size:
        inc = size["incremental"]
        median, spread = _s(inc["wall_seconds"])
        rows.append(
            [
                "incremental: 1% changed, dbt build against acknowledged state",
                label,
                median,
                spread,
                _rate(inc["identifiers_per_second"]["median"]),
                _mb(inc["peak_rss_mb"]),
                "",
                "",
            ]
        )
        median, spread = _s(inc["diff_read_seconds"])
        rows.append(
            [
                f"... then read the diff ({inc['adds']['median']:,.0f} adds, "
                f"{inc['removes']['median']:,.0f} removes)",
                label,
                median,
                spread,
                "",
                _mb(inc["diff_read_peak_rss_mb"]),
                "",
                "",
            ]
        )
        if "baseline_incremental" in size:
            base = size["baseline_incremental"]
            median, spread = _s(base["wall_seconds"])
            same = size["incremental_diff"]["equal"]
            rows.append(
                [
                    "... pandas baseline, same change (diff "
                    + ("equal" if same else "**differs**")
                    + ")",
                    label,
                    median,
                    spread,
                    "",
                    _mb(base["peak_rss_mb"]),
                    "",
                    "",
                ]
            )
    if "sync" in size:
        sync = size["sync"]
        median, spread = _s(sync["wall_seconds"])
        rows.append(
            [
                f"tiktok-sync run, everything ({sync['identifiers_sent']['median']:,.0f} ids, "
                f"{sync['requests']['median']:,.0f} requests, "
                f"{sync['bytes_sent']['median'] / 1e6:,.0f} MB sent)",
                label,
                median,
                spread,
                _rate(sync["identifiers_per_second"]["median"]),
                _mb(sync["peak_rss_mb"]),
                "RSS < 400 MB" if at_target else "",
                _verdict(sync["peak_rss_mb"]["max"] < 400 if at_target else None),
            ]
        )
        own = sync["own_cpu_identifiers_per_second"]["median"]
        rows.append(
            [
                "... its own CPU time (ids per CPU-second of the sync process)",
                label,
                f"{sync['cpu_seconds']['median']:.2f} s",
                f"{sync['cpu_seconds']['min']:.2f}-{sync['cpu_seconds']['max']:.2f}",
                _rate(own),
                "",
                ">= 200k ids/s" if at_target else "",
                _verdict(own >= 200_000 if at_target else None),
            ]
        )
        no_change = size["no_change"]
        median, spread = _s(no_change["wall_seconds"])
        requests = int(no_change["membership_requests"]["max"])
        rows.append(
            [
                "no-change run (membership requests)",
                label,
                median,
                spread,
                f"{requests} requests",
                _mb(no_change["peak_rss_mb"]),
                "0 requests",
                _verdict(requests == 0),
            ]
        )
        if "compaction_seconds" in no_change:  # results written before the compaction lack it
            median, spread = _s(no_change["compaction_seconds"])
            rows.append(
                [
                    "... before it: `dbt run` of the compaction of the acknowledged state",
                    label,
                    median,
                    spread,
                    "",
                    "",
                    "",
                    "",
                ]
            )
    return rows


def markdown(results: dict[str, Any]) -> str:
    header = ["Measurement", "Size", "Median", "Min-max", "Rate", "Peak RSS", "Target", "Verdict"]
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
    ]
    for label, size in results["sizes"].items():
        for row in rows_for(label, size, results):
            lines.append("| " + " | ".join(row) + " |")
    m = results["machine"]
    s = results["settings"]
    runs = ", ".join(
        f"{label}: {n} runs" for label, n in zip(results["sizes"], s["runs"], strict=False)
    )
    lines += [
        "",
        f"Machine: {m['nproc']} cores ({m['cpu']}), {m['ram_gb']} GB RAM; Python {m['python']}, "
        f"DuckDB {m['duckdb']}, dbt-core {m['dbt-core']}, dbt-duckdb {m['dbt-duckdb']}, "
        f"pandas {m['pandas']}, Polars {m['polars']}. DuckDB threads {s['duckdb_threads']}, "
        f"memory_limit {s['duckdb_memory_limit']}, dbt threads {s['dbt_threads']}. {runs}. "
        f"Load average at start {results['load_average_at_start']}"
        + (
            f", at end {results['load_average_at_end']}."
            if "load_average_at_end" in results
            else "."
        ),
        f"Commit {m.get('commit', '?')}"
        + (
            f" with uncommitted changes to {', '.join(m['uncommitted_changes'])}. "
            if m.get("uncommitted_changes")
            else ". "
        )
        + "Identifiers per size: "
        + ", ".join(f"{k}: {v['identifiers']:,}" for k, v in results["sizes"].items())
        + f". Started {results['started_at']}; `{results['command']}`.",
    ]
    return "\n".join(lines)


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / "results/latest.json"
    print(markdown(json.loads(path.read_text())))


if __name__ == "__main__":
    main()
