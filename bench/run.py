"""`make bench`: every scenario at every size, medians of several runs, a Markdown table.

    python -m bench.run [--sizes 1M,10M] [--runs 5,3] [--incremental-sizes 10M]
                        [--threads 2] [--memory-limit 1500MB] [--skip-sync] [--workdir DIR]

Writes bench/results/latest.json (gitignored) and prints the table that bench/README.md holds.
Generated data is kept in the work directory and reused while its manifest matches, so a
second run skips generation; warehouses and baseline outputs are rebuilt every time.
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from bench import scenarios
from bench.generate import Manifest, generate
from bench.project import BIN, make_project
from bench.report import markdown

RESULTS_DIR = Path(__file__).resolve().parent / "results"


@dataclass(frozen=True)
class Options:
    sizes: list[int]
    runs: list[int]
    incremental_sizes: list[int]
    threads: int = 2
    memory_limit: str = "1500MB"
    sync: bool = True
    baseline: bool = True
    seed: int = 6
    workdir: Path = RESULTS_DIR / "work"
    output: Path = RESULTS_DIR / "latest.json"
    log: Any = field(default=print, repr=False)


def parse_size(text: str) -> int:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([kKmM]?)", text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 100k, 1M, 10M)")
    factor = {"": 1, "k": 1_000, "m": 1_000_000}[match.group(2).lower()]
    return int(float(match.group(1)) * factor)


def size_label(n: int) -> str:
    if n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n % 1_000 == 0:
        return f"{n // 1_000}k"
    return str(n)


def machine() -> dict[str, Any]:
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kb = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal")
    )
    nproc = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    versions = {
        name: metadata.version(name)
        for name in ("duckdb", "dbt-core", "dbt-duckdb", "polars", "pyarrow", "pandas")
    }
    root = Path(__file__).resolve().parents[1]
    git = ["git", "-C", str(root)]
    commit = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run([*git, "status", "--porcelain"], capture_output=True, text=True)
    return {
        # what was measured: the checkout's commit, and whether files differed from it
        "commit": commit.stdout.strip(),
        "uncommitted_changes": [line[3:] for line in dirty.stdout.splitlines()],
        "nproc": int(nproc),
        "cpu": cpu,
        "ram_gb": round(mem_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        **versions,
    }


def data_for(options: Options, identifiers: int, generation: int) -> tuple[Path, Manifest]:
    """The generated files for a size and generation, reused when already there."""
    directory = options.workdir / "data" / f"{size_label(identifiers)}-gen{generation}"
    manifest_path = directory / "manifest.json"
    if manifest_path.exists():
        known = json.loads(manifest_path.read_text())
        if known.get("seed") == options.seed and known.get("generation") == generation:
            return directory, Manifest(**known)
    shutil.rmtree(directory, ignore_errors=True)
    options.log(f"  generating {size_label(identifiers)} identifiers, generation {generation}")
    return directory, generate(
        directory, identifiers, seed=options.seed, generation=generation, threads=options.threads
    )


def run_size(options: Options, identifiers: int, runs: int) -> dict[str, Any]:
    label = size_label(identifiers)
    log = options.log
    root = options.workdir / label
    root.mkdir(parents=True, exist_ok=True)
    project = make_project(root, threads=options.threads, memory_limit=options.memory_limit)
    data, manifest = data_for(options, identifiers, 0)
    n = manifest.identifiers
    result: dict[str, Any] = {
        "nominal": identifiers,
        "identifiers": n,
        "manifest": asdict(manifest),
    }
    built = root / "built.duckdb"

    log(f"[{label}] dbt build x{runs}")
    builds = []
    for i in range(runs):
        builds.append(scenarios.dbt_build(project, data, built, n))
        log(f"  run {i + 1}: {builds[-1]['wall_seconds']:.1f} s")
    result["build"] = scenarios.summarise_runs(builds)

    if options.baseline:
        log(f"[{label}] pandas baseline x{runs}")
        out = root / "baseline-gen0"
        records = []
        for i in range(runs):
            records.append(scenarios.baseline(data, out, n))
            log(f"  run {i + 1}: {records[-1]['wall_seconds']:.1f} s")
        result["baseline"] = scenarios.summarise_runs(records)
        result["hashes"] = scenarios.compare_members(built, out / "members.parquet")
        result["initial_diff"] = scenarios.compare_diff(built, out / "diff.parquet")
        log(f"  same members as ours: {result['hashes']['equal']}")

    if identifiers in options.incremental_sizes:
        changed, changed_manifest = data_for(options, identifiers, 1)
        log(f"[{label}] incremental (1% changed) x{runs}")
        records = []
        for i in range(runs):
            records.append(
                scenarios.incremental(
                    project,
                    built,
                    changed,
                    root / "incremental.duckdb",
                    changed_manifest.identifiers,
                )
            )
            log(f"  run {i + 1}: build {records[-1]['wall_seconds']:.1f} s")
        result["incremental"] = scenarios.summarise_runs(records)
        if options.baseline:
            log(f"[{label}] pandas baseline, incremental x{runs}")
            out = root / "baseline-gen1"
            acknowledged = root / "baseline-gen0" / "members.parquet"
            base = [
                scenarios.baseline(changed, out, changed_manifest.identifiers, acknowledged)
                for _ in range(runs)
            ]
            result["baseline_incremental"] = scenarios.summarise_runs(base)
            result["incremental_diff"] = scenarios.compare_diff(
                root / "incremental.duckdb", out / "diff.parquet"
            )
            log(f"  same diff as ours: {result['incremental_diff']['equal']}")

    if options.sync:
        log(f"[{label}] tiktok-sync run + no-change run x{runs}")
        records = []
        for i in range(runs):
            records.append(scenarios.sync_run(project, built, root / "sync.duckdb"))
            log(
                f"  run {i + 1}: {records[-1]['wall_seconds']:.1f} s, "
                f"no-change {records[-1]['no_change']['wall_seconds']:.1f} s"
            )
        no_change = [r.pop("no_change") for r in records]
        result["sync"] = scenarios.summarise_runs(records)
        result["no_change"] = scenarios.summarise_runs(no_change)
    return result


def run(options: Options) -> dict[str, Any]:
    options.workdir.mkdir(parents=True, exist_ok=True)
    started = time.time()
    results: dict[str, Any] = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join(["python -m bench.run", *sys.argv[1:]]),
        "machine": machine(),
        "settings": {
            "duckdb_threads": options.threads,
            "duckdb_memory_limit": options.memory_limit,
            "dbt_threads": 1,
            "sizes": options.sizes,
            "runs": options.runs,
            "incremental_sizes": options.incremental_sizes,
            "seed": options.seed,
        },
        "load_average_at_start": scenarios.load_average(),
        "sizes": {},
    }
    for identifiers, runs in zip(options.sizes, options.runs, strict=True):
        results["sizes"][size_label(identifiers)] = run_size(options, identifiers, runs)
        _write(options.output, results)
    results["load_average_at_end"] = scenarios.load_average()
    results["elapsed_seconds"] = time.time() - started
    _write(options.output, results)
    return results


def _write(path: Path, results: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1M,10M", help="identifier counts, e.g. 100k,1M,10M")
    parser.add_argument("--runs", default="5,3", help="runs per size (one number: every size)")
    parser.add_argument("--incremental-sizes", default="10M", help="sizes with the 1%% case")
    parser.add_argument("--threads", type=int, default=2, help="DuckDB threads")
    parser.add_argument("--memory-limit", default="1500MB", help="DuckDB memory_limit")
    parser.add_argument("--skip-sync", action="store_true")
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--workdir", type=Path, default=RESULTS_DIR / "work")
    parser.add_argument("--output", type=Path, default=RESULTS_DIR / "latest.json")
    args = parser.parse_args(argv)
    sizes = [parse_size(s) for s in args.sizes.split(",")]
    runs = [int(r) for r in args.runs.split(",")]
    if len(runs) == 1:
        runs = runs * len(sizes)
    if len(runs) != len(sizes):
        parser.error("--runs needs one number, or one per size")
    incremental = [parse_size(s) for s in args.incremental_sizes.split(",") if s.strip()]
    if not (BIN / "tiktok-sync").exists():
        parser.error(f"{BIN / 'tiktok-sync'} is missing; install the project (make venv)")
    options = Options(
        sizes=sizes,
        runs=runs,
        incremental_sizes=incremental,
        threads=args.threads,
        memory_limit=args.memory_limit,
        sync=not args.skip_sync,
        baseline=not args.skip_baseline,
        workdir=args.workdir,
        output=args.output,
    )
    results = run(options)
    print()
    print(markdown(results))
    print(f"\nResults: {options.output}")


if __name__ == "__main__":
    main()
