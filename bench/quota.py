"""The share of TikTok's quota a first sync uses, with TikTok's round trip emulated.

    python -m bench.quota [--sizes 1M,10M] [--runs 3] [--latencies 0,300,800]
                          [--modes both|side-by-side]

The emulator enforces the Basic tier (10 requests/s) and holds every mapping request for the
latency; `tiktok-sync run` paces itself at that tier as a user's run would, once with one
mapping request in flight (`--max-in-flight 1`, how the sync sent before) and once with the
default (`--modes side-by-side`: the default only; one at a time, a 10M sync at 800 ms takes ~15
minutes a run). Each size is built once. The share of the quota: mapping requests per second
over the streaming phase (the first mapping request's arrival to the last one's answer, from the
emulator's log), over 10. Medians of `--runs` runs; writes bench/results/quota.json and prints a
Markdown table. Statements per batch: the statements that appended the mapping batches' ledger
events (those of one statement share its `event_at`) over the mapping batches sent. Throttled:
requests the emulator's rate limit refused (code 40100); they count in the share although they
applied nothing. Quota floor: the run's API requests (creates, uploads and mappings; throttled
ones left out) at 10/s, the least time any sync of these identifiers could take on the Basic
tier; the run's wall time is given as a multiple of it. Sync CPU: user + system seconds of
`tiktok-sync run` (dbt's short-lived rendering process included) per million identifiers sent.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import Any

import duckdb

from bench import scenarios
from bench.measure import measure
from bench.project import make_project
from bench.run import RESULTS_DIR, Options, data_for, machine, parse_size, size_label
from sync.emulator import Emulator, EmulatorConfig

QUOTA = 10  # requests/s, TikTok's Basic tier
MODES = {"one at a time": ["--max-in-flight", "1"], "side by side (default)": []}
# Reported as the median of a row's runs.
MEDIANS = (
    "share_of_quota",
    "requests_per_second",
    "wall_seconds",
    "quota_floor_seconds",
    "wall_over_floor",
    "cpu_seconds_per_million",
    "statements_per_batch",
    "throttled",
    "peak_rss_mb",
)


def streaming_phase(requests: list[dict[str, Any]]) -> tuple[int, float]:
    """(mapping requests, seconds from the first one's arrival to the last one's answer)."""
    mappings = [r for r in requests if str(r["path"]).endswith("/segment/mapping/")]
    if not mappings:
        return 0, 0.0
    start = min(float(r["time"]) for r in mappings)
    end = max(float(r["time"]) + float(r["duration_ms"]) / 1000 for r in mappings)
    return len(mappings), end - start


def quota_floor(requests: list[dict[str, Any]]) -> float:
    """Seconds the run's API requests take at QUOTA requests/s: those the rate limit refused
    (40100) left out, since a sync that never overran it would not have sent them."""
    api = [r for r in requests if "/open_api/" in str(r["path"]) and r.get("code") != 40100]
    return len(api) / QUOTA


def statements_per_batch(warehouse: Path) -> float:
    """Ledger statements that recorded mapping batches, per mapping batch sent."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        row = con.execute(
            "select count(distinct event || cast(event_at as varchar)), "
            "count(*) filter (where event = 'sent') "
            "from tiktok_sync_batches where kind = 'mapping'"
        ).fetchone()
    assert row is not None
    statements, batches = row
    return statements / batches if batches else 0.0


def one_sync(
    project: Any, built: Path, warehouse: Path, latency: float, mode: list[str]
) -> dict[str, Any]:
    scenarios._copy_database(built, warehouse)
    config = EmulatorConfig(
        qps=QUOTA, latency={"segment/mapping/": {"fixed": latency}} if latency else {}
    )
    emulator = Emulator(config)
    api_base = emulator.start()
    try:
        command = [
            *scenarios._sync_command(project, api_base)[:-3],  # without the lifted pace
            "--requests-per-second",
            str(QUOTA),
            "--json",
            *mode,
        ]
        run = measure(command, env=scenarios._sync_env(project, warehouse), cwd=project.project_dir)
        run.check("tiktok-sync run")
        audiences = json.loads(run.stdout)["audiences"]
        sent = sum(a["adds_sent"] + a["removes_sent"] for a in audiences)
        log = emulator.requests()  # a copy of the whole log: taken once
        requests, seconds = streaming_phase(log)
        throttled = sum(1 for r in log if r.get("code") == 40100)
        floor = quota_floor(log)
        statements = statements_per_batch(warehouse)
    finally:
        emulator.stop()
        scenarios._remove_database(warehouse)
    per_second = requests / seconds if seconds else 0.0
    return {
        "wall_seconds": run.wall_seconds,
        "mapping_requests": requests,
        "streaming_seconds": seconds,
        "requests_per_second": per_second,
        "share_of_quota": per_second / QUOTA,
        "throttled": throttled,
        "quota_floor_seconds": floor,
        "wall_over_floor": run.wall_seconds / floor if floor else 0.0,
        "identifiers_sent": sent,
        "cpu_seconds_per_million": run.cpu_seconds / sent * 1e6 if sent else 0.0,
        "statements_per_batch": statements,
        "peak_rss_mb": run.peak_rss_mb,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", "--size", default="1M", help="identifiers, comma-separated")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--latencies", default="0,300,800", help="milliseconds")
    parser.add_argument("--modes", choices=("both", "side-by-side"), default="both")
    parser.add_argument("--output", type=Path, default=RESULTS_DIR / "quota.json")
    args = parser.parse_args(argv)
    sizes = [parse_size(s) for s in args.sizes.split(",")]
    modes = MODES if args.modes == "both" else {k: v for k, v in MODES.items() if v == []}
    results: dict[str, Any] = {
        "machine": machine(),
        "load_average_at_start": scenarios.load_average(),
        "sizes": [size_label(s) for s in sizes],
        "rows": [],
    }
    for size in sizes:
        options = Options(sizes=[size], runs=[args.runs], incremental_sizes=[])
        label = size_label(size)
        root = options.workdir / label
        root.mkdir(parents=True, exist_ok=True)
        project = make_project(root, threads=options.threads, memory_limit=options.memory_limit)
        data, manifest = data_for(options, size, 0)
        built = root / "built.duckdb"
        print(f"[{label}] dbt build")
        scenarios.dbt_build(project, data, built, manifest.identifiers)
        for latency_ms in (int(x) for x in args.latencies.split(",")):
            for mode, flags in modes.items():
                runs = [
                    one_sync(project, built, root / "quota.duckdb", latency_ms / 1000, flags)
                    for _ in range(args.runs)
                ]
                row = {
                    "size": label,
                    "latency_ms": latency_ms,
                    "mode": mode,
                    "runs": runs,
                    **{key: statistics.median(r[key] for r in runs) for key in MEDIANS},
                }
                results["rows"].append(row)
                print(
                    f"  {label}, {latency_ms} ms, {mode}: {row['share_of_quota']:.2f} of the "
                    f"quota, {row['requests_per_second']:.1f} requests/s, run "
                    f"{row['wall_seconds']:.1f} s ({row['wall_over_floor']:.2f}x the quota "
                    f"floor), {row['statements_per_batch']:.2f} ledger statements per batch"
                )
    results["load_average_at_end"] = scenarios.load_average()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print(table(results))


def table(results: dict[str, Any]) -> str:
    lines = [
        f"| Size | Latency | Sending | Share of the {QUOTA}/s quota | Requests/s | Run wall time "
        "| Quota floor | Wall / floor | Sync CPU per 1M identifiers | Ledger statements per batch "
        "| Throttled (40100) | Peak RSS |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in results["rows"]:
        lines.append(
            f"| {row['size']} | {row['latency_ms']} ms | "
            f"{row['mode']} | {row['share_of_quota']:.2f} | "
            f"{row['requests_per_second']:.1f} | {row['wall_seconds']:.1f} s | "
            f"{row.get('quota_floor_seconds', 0):.1f} s | {row.get('wall_over_floor', 0):.2f}x | "
            f"{row.get('cpu_seconds_per_million', 0):.1f} s | "
            f"{row.get('statements_per_batch', 0):.2f} | {row.get('throttled', 0):g} | "
            f"{row.get('peak_rss_mb', 0):.0f} MB |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
