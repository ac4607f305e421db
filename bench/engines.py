"""DuckDB and PostgreSQL side by side, in one invocation on one machine.

    python -m bench.engines [--build-runs 5] [--sync-size 1M] [--sync-runs 3]
                            [--skip-build] [--skip-sync] [--workdir DIR] [--output FILE]

1. **The demo's `dbt build`** (integration_tests/: seeds, the three demo audiences, the sync
   models, data and unit tests, as `make build` runs it) into a fresh warehouse, DuckDB and
   Postgres in turn, `--build-runs` times each; split with dbt's run_results.json.
2. **A first `tiktok-sync run` of `--sync-size` identifiers and a no-change run after it** on
   each engine, against a fresh in-process emulator of the same configuration each time (the
   bench's generated data, built by `dbt build` on each engine first), `--sync-runs` times each.

PostgreSQL is a real, throwaway server (tests/engines/postgres.py) with pg_stat_statements
loaded. Every measured command is its own process (bench/measure.py: wall, CPU, peak RSS).
Postgres' share of the work runs in the server, so its CPU is measured too: the CPU of the
server's backends, read from the postmaster's children times in /proc (a backend's time is
added there when it exits, which a command's backends do when it ends). The sync's statements
are counted inside the sync process (bench/counted.py); on Postgres, pg_stat_statements also
says how many reached the server (FETCHes and transaction control included) and where the
server's time went.

Writes bench/results/engines.json (gitignored) and prints the tables of bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from bench.measure import measure
from bench.project import AUDIENCES, BIN, BenchProject, make_project
from bench.run import Options, data_for, machine, parse_size, size_label
from bench.scenarios import _request_stats, load_average
from sync.emulator import Emulator, EmulatorConfig
from tests.dbt_support import PROJECT_DIR, install_package
from tests.engines.postgres import PostgresServer, unavailable_reason

ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = ROOT / "bench" / "results"
TOKEN = "emulator-token"
ADVERTISER = "7000000000000000001"
SCHEMA = "tiktok_sync"
INPUT_SCHEMA = f"{SCHEMA}_input"  # where the generated rows go on Postgres (bench/project.py)
PROFILE = "tiktok_sync_integration_tests"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# --- the Postgres server ------------------------------------------------------------------------


class Server:
    """The throwaway server, with what the bench reads from it."""

    def __init__(self) -> None:
        self.pg = PostgresServer(
            settings={
                "shared_preload_libraries": "pg_stat_statements",
                "pg_stat_statements.track": "all",
                "pg_stat_statements.max": "10000",
            }
        )

    def __enter__(self) -> Server:
        self.pg.start()
        self.pg.query("create extension if not exists pg_stat_statements")
        return self

    def __exit__(self, *exc: object) -> None:
        self.pg.stop()

    def output(self, dbname: str) -> dict[str, Any]:
        """A dbt profile output for database `dbname`."""
        return {**self.pg.profile_output(schema=SCHEMA), "dbname": dbname}

    def recreate(self, dbname: str, template: str | None = None) -> None:
        self.pg.query(f'drop database if exists "{dbname}" with (force)')
        suffix = f' template "{template}"' if template else ""
        self.pg.query(f'create database "{dbname}"{suffix}')

    def drop(self, dbname: str) -> None:
        self.pg.query(f'drop database if exists "{dbname}" with (force)')

    def backend_cpu_seconds(self) -> float:
        """CPU of the server's exited backends so far (the postmaster's children times), once
        every other session than ours has ended (a command's sessions end shortly after it)."""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            (others,) = self.pg.query(
                "select count(*) from pg_stat_activity "
                "where backend_type = 'client backend' and pid <> pg_backend_pid()"
            )[0]
            if not others:
                break
            time.sleep(0.05)
        assert self.pg._process is not None
        fields = Path(f"/proc/{self.pg._process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        # after the ")" of the command name: state is field 3; utime, stime, cutime, cstime are
        # fields 14-17 (proc(5)), so indexes 11-14 here
        return sum(int(v) for v in fields[11:15]) / CLOCK_TICKS

    def reset_statements(self) -> None:
        self.pg.query("select pg_stat_statements_reset()")

    def statements(self, dbname: str) -> list[dict[str, Any]]:
        """What reached database `dbname` since the last reset: one row per statement shape."""
        rows = self.pg.query(
            "select calls, total_exec_time, rows, query from pg_stat_statements s "
            "inner join pg_database d on d.oid = s.dbid where d.datname = %s "
            "order by total_exec_time desc",
            (dbname,),
        )
        return [
            {"calls": int(c), "ms": float(t), "rows": int(r), "query": " ".join(str(q).split())}
            for c, t, r, q in rows
        ]


# --- 1. the demo's dbt build -------------------------------------------------------------------


def _dbt_env(workdir: Path, profiles_dir: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DBT_TARGET", "DBT_PROFILE", "DBT_TARGET_PATH")
    }
    env.update(
        DBT_PROFILES_DIR=str(profiles_dir),
        DBT_TARGET_PATH=str(workdir / "target"),
        DBT_LOG_PATH=str(workdir / "logs"),
        DBT_SEND_ANONYMOUS_USAGE_STATS="false",
        **extra,
    )
    return env


def _phases(target_dir: Path, wall: float) -> dict[str, float]:
    """Seconds per kind of node of the last dbt invocation, and the rest (start-up, parsing)."""
    results = json.loads((target_dir / "run_results.json").read_text())["results"]
    phases = {"seeds": 0.0, "unit_tests": 0.0, "data_tests": 0.0, "models": 0.0, "hooks": 0.0}
    for result in results:
        kind = result["unique_id"].split(".")[0]
        key = {"seed": "seeds", "unit_test": "unit_tests", "test": "data_tests"}.get(kind)
        key = key or ("models" if kind == "model" else "hooks")
        phases[key] += float(result["execution_time"])
    phases["start_up_and_rest"] = wall - sum(phases.values())
    return {f"{k}_seconds": v for k, v in phases.items()}


def demo_build(engine: str, workdir: Path, server: Server | None) -> dict[str, Any]:
    """One `dbt build` of integration_tests/ into a fresh warehouse of `engine`."""
    run_dir = workdir / f"demo-{engine}"
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    if engine == "duckdb":
        profiles_dir = PROJECT_DIR
        env = _dbt_env(run_dir, profiles_dir, TIKTOK_SYNC_DUCKDB_PATH=str(run_dir / "demo.duckdb"))
    else:
        assert server is not None
        server.recreate("demo_build")
        profiles_dir = run_dir
        profile = {
            PROFILE: {"target": "postgres", "outputs": {"postgres": server.output("demo_build")}}
        }
        (run_dir / "profiles.yml").write_text(json.dumps(profile))
        env = _dbt_env(run_dir, profiles_dir)
    cpu_before = server.backend_cpu_seconds() if server and engine == "postgres" else 0.0
    m = measure(
        [str(BIN / "dbt"), "build", "--project-dir", str(PROJECT_DIR)], env=env, cwd=PROJECT_DIR
    ).check(f"dbt build of the demo on {engine}")
    record: dict[str, Any] = {
        "wall_seconds": m.wall_seconds,
        "cpu_seconds": m.cpu_seconds,
        "peak_rss_mb": m.peak_rss_mb,
        "load_average": load_average(),
        **_phases(run_dir / "target", m.wall_seconds),
    }
    if engine == "postgres":
        assert server is not None
        record["server_cpu_seconds"] = server.backend_cpu_seconds() - cpu_before
        server.drop("demo_build")
    else:
        record["server_cpu_seconds"] = 0.0
    return record


# --- 2. the sync at scale ----------------------------------------------------------------------


def load_inputs(server: Server, dbname: str, data_dir: Path) -> None:
    """The generated Parquet files as tables of INPUT_SCHEMA, through COPY."""
    import psycopg2

    connection = psycopg2.connect(**server.pg.connection_kwargs(dbname))
    with connection, connection.cursor() as cursor:
        cursor.execute(f"create schema if not exists {INPUT_SCHEMA}")
        for source, _, _ in AUDIENCES.values():
            table = pq.read_table(data_dir / f"{source}.parquet")
            columns = ", ".join(
                f"{f.name} {'bigint' if str(f.type) == 'int64' else 'text'}" for f in table.schema
            )
            cursor.execute(f"create table {INPUT_SCHEMA}.{source} ({columns})")
            with tempfile.TemporaryFile() as buffer:
                pa_csv.write_csv(table, buffer)
                buffer.seek(0)
                cursor.copy_expert(
                    f"copy {INPUT_SCHEMA}.{source} from stdin with (format csv, header true)",
                    buffer,
                )
        cursor.execute("analyze")
    connection.close()


def build_warehouses(
    workdir: Path, data_dir: Path, identifiers: int, server: Server
) -> tuple[BenchProject, Path, BenchProject, dict[str, Any]]:
    """The bench project built once on each engine: a DuckDB file, and database `sync_built`
    (the template every Postgres sync run copies)."""
    duckdb_project = make_project(workdir / "duckdb", threads=2, memory_limit="1500MB")
    built = workdir / "duckdb" / "built.duckdb"
    built.unlink(missing_ok=True)
    duck = measure(
        duckdb_project.dbt_build(data_dir),
        env=duckdb_project.env(built),
        cwd=duckdb_project.project_dir,
    ).check("dbt build on DuckDB")

    server.recreate("sync_built")
    load_inputs(server, "sync_built", data_dir)
    postgres_project = make_project(
        workdir / "postgres", threads=2, memory_limit="1500MB", postgres=server.output("sync_built")
    )
    before = server.backend_cpu_seconds()
    pg = measure(
        postgres_project.dbt_build(data_dir),
        env=postgres_project.env(workdir / "unused.duckdb"),
        cwd=postgres_project.project_dir,
    ).check("dbt build on Postgres")
    server_cpu = server.backend_cpu_seconds() - before
    builds = {
        "identifiers": identifiers,
        "duckdb": {"wall_seconds": duck.wall_seconds, "cpu_seconds": duck.cpu_seconds},
        "postgres": {
            "wall_seconds": pg.wall_seconds,
            "cpu_seconds": pg.cpu_seconds,
            "server_cpu_seconds": server_cpu,
        },
    }
    return duckdb_project, built, postgres_project, builds


def _sync_command(project: BenchProject, api_base: str, report: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "bench.counted",
        str(report),
        "--",
        "run",
        "--project-dir",
        str(project.project_dir),
        "--api-base",
        api_base,
        "--requests-per-second",
        "1000000",
        "--json",
    ]


def _one_sync(
    engine: str,
    project: BenchProject,
    env: dict[str, str],
    server: Server | None,
    dbname: str | None,
    workdir: Path,
) -> dict[str, Any]:
    """A first sync and a no-change run, each measured, on a fresh emulator."""
    emulator = Emulator(EmulatorConfig(qps=0, processing_seconds=0, mapping_batch_limit=10_000))
    api_base = emulator.start()
    records: dict[str, Any] = {}
    try:
        for kind in ("first", "no_change"):
            report = workdir / f"statements-{engine}-{kind}.json"
            report.unlink(missing_ok=True)
            compaction = None
            if kind == "no_change":
                compaction = measure(project.dbt_compact(), env=env, cwd=project.project_dir)
                compaction.check(f"dbt run of the compaction on {engine}")
            if server is not None:
                cpu_before = server.backend_cpu_seconds()
                server.reset_statements()
            m = measure(
                _sync_command(project, api_base, report), env=env, cwd=project.project_dir
            ).check(f"tiktok-sync run ({kind}) on {engine}")
            output = json.loads(m.stdout)
            sent = sum(a["adds_sent"] + a["removes_sent"] for a in output["audiences"])
            counts = json.loads(report.read_text())
            record: dict[str, Any] = {
                "wall_seconds": m.wall_seconds,
                "cpu_seconds": m.cpu_seconds,
                "peak_rss_mb": m.peak_rss_mb,
                "load_average": load_average(),
                "status": output["status"],
                "identifiers_sent": sent,
                "statements": sum(counts.values()),
                "statements_by_method": counts,
                **_request_stats(emulator.requests()),
            }
            record.pop("requests_per_path")
            if compaction is not None:
                record["compaction_seconds"] = compaction.wall_seconds
            if server is not None and dbname is not None:
                record["server_cpu_seconds"] = server.backend_cpu_seconds() - cpu_before
                shapes = server.statements(dbname)
                record["server_statements"] = sum(s["calls"] for s in shapes)
                record["server_top_statements"] = shapes[:12]
            else:
                record["server_cpu_seconds"] = 0.0
            records[kind] = record
            emulator.clear_requests()
        records["tiktok_members"] = sum(
            len(hashes)
            for audience in emulator.audiences()
            for hashes in emulator.members(audience["audience_id"]).values()
        )
    finally:
        emulator.stop()
    return records


def sync_runs(
    workdir: Path,
    duckdb_project: BenchProject,
    built: Path,
    postgres_project: BenchProject,
    server: Server,
    runs: int,
    log: Callable[[str], None],
) -> dict[str, list[dict[str, Any]]]:
    results: dict[str, list[dict[str, Any]]] = {"duckdb": [], "postgres": []}
    for i in range(runs):
        order = ["duckdb", "postgres"] if i % 2 == 0 else ["postgres", "duckdb"]
        for engine in order:
            if engine == "duckdb":
                warehouse = workdir / "duckdb" / "sync.duckdb"
                shutil.copy(built, warehouse)
                env = _sync_env(duckdb_project.env(warehouse), warehouse)
                record = _one_sync(engine, duckdb_project, env, None, None, workdir)
                warehouse.unlink(missing_ok=True)
            else:
                server.recreate("sync_run", template="sync_built")
                output = server.output("sync_run")
                make_project(
                    workdir / "postgres", threads=2, memory_limit="1500MB", postgres=output
                )
                env = _sync_env(postgres_project.env(workdir / "unused.duckdb"), workdir)
                record = _one_sync(engine, postgres_project, env, server, "sync_run", workdir)
                server.drop("sync_run")
            results[engine].append(record)
            first, again = record["first"], record["no_change"]
            log(
                f"  {engine}: first {first['wall_seconds']:.1f} s "
                f"(cpu {first['cpu_seconds']:.1f} + server {first['server_cpu_seconds']:.1f}), "
                f"no-change {again['wall_seconds']:.1f} s"
            )
    return results


def _sync_env(env: dict[str, str], near: Path) -> dict[str, str]:
    return {
        **env,
        # `python -m bench.counted` from the dbt project's directory
        "PYTHONPATH": str(ROOT),
        "TIKTOK_ACCESS_TOKEN": TOKEN,
        "TIKTOK_ADVERTISER_ID": ADVERTISER,
        "TIKTOK_CREDENTIALS_FILE": str(near.parent / "no-credentials.json"),
    }


# --- the report -----------------------------------------------------------------------------


def _values(records: list[dict[str, Any]], key: str, kind: str | None = None) -> list[float]:
    return [float((r[kind] if kind else r)[key]) for r in records]


def _cell(values: list[float], unit: str) -> str:
    def fmt(v: float) -> str:
        return {"s": f"{v:.1f} s", "MB": f"{v:,.0f} MB"}.get(unit, f"{v:,.0f}")

    spread = f"{min(values):.1f}-{max(values):.1f}" if unit == "s" else ""
    return f"{fmt(statistics.median(values))}" + (f" ({spread})" if spread else "")


def _row(title: str, duck: list[float], pg: list[float], unit: str) -> str:
    d, p = statistics.median(duck), statistics.median(pg)
    ratio = f"{p / d:.2f}x" if d > 0.05 else ""
    return f"| {title} | {_cell(duck, unit)} | {_cell(pg, unit)} | {ratio} |"


BUILD_ROWS = (
    ("wall_seconds", "wall time"),
    ("seeds_seconds", "... seeds"),
    ("unit_tests_seconds", "... unit tests"),
    ("data_tests_seconds", "... data tests"),
    ("models_seconds", "... models (audiences, sync models, unit-test wrappers)"),
    ("hooks_seconds", "... on-run-start hook"),
    ("start_up_and_rest_seconds", "... dbt start-up, parsing, the rest"),
    ("cpu_seconds", "CPU of dbt"),
    ("server_cpu_seconds", "CPU of the Postgres server"),
)
SYNC_ROWS = (
    ("wall_seconds", "wall time", "s"),
    ("cpu_seconds", "CPU of the sync process", "s"),
    ("server_cpu_seconds", "CPU of the Postgres server", "s"),
    ("peak_rss_mb", "peak RSS of the sync", "MB"),
    ("statements", "SQL statements the sync sent", ""),
)


def markdown(results: dict[str, Any]) -> str:
    lines: list[str] = []
    builds = results.get("demo_build")
    if builds:
        duck, pg = builds["duckdb"], builds["postgres"]
        lines += [
            f"The demo's `dbt build`: medians of {len(duck)} runs each (min-max)",
            "",
            "| | DuckDB | Postgres | Postgres / DuckDB |",
            "|---|---|---|---|",
        ]
        for key, title in BUILD_ROWS:
            lines.append(_row(title, _values(duck, key), _values(pg, key), "s"))
        lines += [
            _row("peak RSS of dbt", _values(duck, "peak_rss_mb"), _values(pg, "peak_rss_mb"), "MB"),
            "",
        ]
    sync = results.get("sync")
    if sync:
        duck, pg = sync["duckdb"], sync["postgres"]
        lines += [
            f"`tiktok-sync run` at {results['sync_size']}: medians of {len(duck)} runs each "
            "(min-max); a first sync of everything, then a run with nothing to send",
            "",
            "| | DuckDB | Postgres | Postgres / DuckDB |",
            "|---|---|---|---|",
        ]
        for kind, name in (("first", "first sync"), ("no_change", "no-change run")):
            for key, title, unit in SYNC_ROWS:
                lines.append(
                    _row(f"{name}: {title}", _values(duck, key, kind), _values(pg, key, kind), unit)
                )
            sent = statistics.median(_values(duck, "identifiers_sent", kind))
            if sent:
                per = [
                    [10_000 * r[kind]["statements"] / r[kind]["identifiers_sent"] for r in records]
                    for records in (duck, pg)
                ]
                d, p = statistics.median(per[0]), statistics.median(per[1])
                lines.append(
                    f"| {name}: statements per 10,000 identifiers ({sent:,.0f} sent) | "
                    f"{d:.1f} | {p:.1f} | |"
                )
        lines.append(
            _row(
                "before the no-change run: `dbt run` of the compaction, wall time",
                _values(duck, "compaction_seconds", "no_change"),
                _values(pg, "compaction_seconds", "no_change"),
                "s",
            )
        )
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build-runs", type=int, default=5)
    parser.add_argument("--sync-size", default="1M")
    parser.add_argument("--sync-runs", type=int, default=3)
    parser.add_argument("--skip-build", action="store_true")
    parser.add_argument("--skip-sync", action="store_true")
    parser.add_argument("--workdir", type=Path, default=RESULTS_DIR / "work")
    parser.add_argument("--output", type=Path, default=RESULTS_DIR / "engines.json")
    args = parser.parse_args(argv)
    reason = unavailable_reason()
    if reason is not None:
        parser.error(f"PostgreSQL cannot run here: {reason}")
    workdir = args.workdir / "engines"
    workdir.mkdir(parents=True, exist_ok=True)
    install_package(PROJECT_DIR)
    results: dict[str, Any] = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join(["python -m bench.engines", *sys.argv[1:]]),
        "machine": machine(),
        "load_average_at_start": load_average(),
    }

    def write() -> None:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(results, indent=2) + "\n")

    with Server() as server:
        results["postgres_version"] = server.pg.query("show server_version")[0][0]
        if not args.skip_build:
            print(f"demo dbt build x{args.build_runs} per engine", flush=True)
            builds: dict[str, list[dict[str, Any]]] = {"duckdb": [], "postgres": []}
            for i in range(args.build_runs):
                for engine in ["duckdb", "postgres"] if i % 2 == 0 else ["postgres", "duckdb"]:
                    record = demo_build(engine, workdir, server)
                    builds[engine].append(record)
                    print(f"  {engine}: {record['wall_seconds']:.1f} s", flush=True)
            results["demo_build"] = builds
            write()
        if not args.skip_sync:
            identifiers = parse_size(args.sync_size)
            options = Options(
                sizes=[identifiers], runs=[1], incremental_sizes=[], workdir=args.workdir
            )
            data_dir, manifest = data_for(options, identifiers, 0)
            print(f"building {size_label(identifiers)} on both engines", flush=True)
            duckdb_project, built, postgres_project, warehouse_builds = build_warehouses(
                workdir, data_dir, manifest.identifiers, server
            )
            results["sync_size"] = size_label(identifiers)
            results["sync_builds"] = warehouse_builds
            print(f"tiktok-sync x{args.sync_runs} per engine", flush=True)
            results["sync"] = sync_runs(
                workdir,
                duckdb_project,
                built,
                postgres_project,
                server,
                args.sync_runs,
                lambda text: print(text, flush=True),
            )
            write()
    results["load_average_at_end"] = load_average()
    write()
    print()
    print(markdown(results))
    print(f"Results: {args.output}")


if __name__ == "__main__":
    main()
