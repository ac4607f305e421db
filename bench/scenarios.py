"""The measured scenarios: each runs a real command as a child process and records it.

1. `dbt build` of the bench project (normalise + hash + members + diff, data tests);
2. the incremental case: everything acknowledged, ~1% of the source changed, rebuild, read diff;
3. `tiktok-sync run` against the in-process emulator with its rate limit lifted;
4. a second `tiktok-sync run` with nothing changed;
5. the pandas + hashlib baseline on the same files, and whether its hashes equal ours.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb

from bench.dbt_log import last_invocation_statements
from bench.measure import Measurement, measure
from bench.project import AUDIENCES, BIN, BenchProject
from sync.emulator import Emulator, EmulatorConfig
from tests import ledger

BASELINE_SCRIPT = Path(__file__).with_name("baseline_pandas.py")
TOKEN = "emulator-token"
ADVERTISER = "7000000000000000001"
# Calls that change members (as scripts/demo.py counts them).
MEMBERSHIP_PATHS = (
    "segment/mapping/",
    "dmp/custom_audience/file/upload/",
    "dmp/custom_audience/update/",
)
MEMBER_KEYS = "audience_key, id_type, id_hash"


def summary(values: Sequence[float]) -> dict[str, Any]:
    """Median, min and max of the runs, and the runs themselves."""
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "runs": list(values),
    }


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _record(m: Measurement, identifiers: int | None = None) -> dict[str, Any]:
    record: dict[str, Any] = {
        "wall_seconds": m.wall_seconds,
        "cpu_seconds": m.cpu_seconds,
        "peak_rss_mb": m.peak_rss_mb,
        "load_average": load_average(),
    }
    if identifiers is not None:
        record["identifiers_per_second"] = identifiers / m.wall_seconds
    return record


def summarise_runs(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Every numeric key of the runs as median/min/max."""
    keys = [k for k, v in runs[0].items() if isinstance(v, int | float) and not isinstance(v, bool)]
    out: dict[str, Any] = {k: summary([float(r[k]) for r in runs]) for k in keys}
    out["runs"] = runs
    return out


def _remove_database(path: Path) -> None:
    for candidate in (path, path.with_name(path.name + ".wal")):
        candidate.unlink(missing_ok=True)


def _copy_database(source: Path, target: Path) -> None:
    _remove_database(target)
    shutil.copy(source, target)


# --- 1. dbt build ----------------------------------------------------------------------------


def phase_seconds(project: BenchProject) -> dict[str, float]:
    """Where a dbt build spent its node time: audience models, data tests, everything else."""
    phases = {"audience_models_seconds": 0.0, "data_tests_seconds": 0.0, "other_nodes_seconds": 0.0}
    for unique_id, seconds in project.run_results().items():
        if unique_id.split(".")[-1] in AUDIENCES:
            phases["audience_models_seconds"] += seconds
        elif unique_id.startswith("test."):
            phases["data_tests_seconds"] += seconds
        else:
            phases["other_nodes_seconds"] += seconds
    return phases


def dbt_build(
    project: BenchProject, data_dir: Path, warehouse: Path, identifiers: int, *, fresh: bool = True
) -> dict[str, Any]:
    """One measured `dbt build`; a fresh warehouse unless told otherwise."""
    if fresh:
        _remove_database(warehouse)
    m = measure(
        project.dbt_build(data_dir), env=project.env(warehouse), cwd=project.project_dir
    ).check("dbt build")
    record = _record(m, identifiers)
    record.update(phase_seconds(project))
    record["dbt_overhead_seconds"] = m.wall_seconds - sum(
        record[k] for k in ("audience_models_seconds", "data_tests_seconds", "other_nodes_seconds")
    )
    record["audience_models_identifiers_per_second"] = (
        identifiers / record["audience_models_seconds"]
    )
    # the audience models split into their statements: the normalise + hash query, and
    # writing the shared member tables (dbt's log has one time per statement)
    statements = last_invocation_statements(project.root / "logs" / "dbt.log")
    record["normalise_hash_seconds"] = statements.get(
        "normalise + hash (audience create table)", 0.0
    )
    record["write_members_seconds"] = statements.get(
        "write tiktok_audience_members", 0.0
    ) + statements.get("write tiktok_rejected_identifiers", 0.0)
    if record["normalise_hash_seconds"]:
        record["normalise_hash_identifiers_per_second"] = (
            identifiers / record["normalise_hash_seconds"]
        )
    return record


# --- 5. the baseline ----------------------------------------------------------------------------


def baseline(
    data_dir: Path, out_dir: Path, identifiers: int, acknowledged: Path | None = None
) -> dict[str, Any]:
    cmd = [sys.executable, str(BASELINE_SCRIPT), str(data_dir), str(out_dir)]
    if acknowledged is not None:
        cmd += ["--acknowledged", str(acknowledged)]
    m = measure(cmd).check("pandas baseline")
    record = _record(m, identifiers)
    printed = json.loads(m.stdout.strip().splitlines()[-1])
    record["normalise_hash_seconds"] = printed["seconds"]["normalise_hash"]
    record["diff_seconds"] = printed["seconds"]["diff"]
    return record


def compare_members(warehouse: Path, baseline_members: Path) -> dict[str, Any]:
    """Our tiktok_audience_members against the baseline's, per (audience, id type)."""
    ours = f"select {MEMBER_KEYS} from tiktok_audience_members"
    theirs = f"select {MEMBER_KEYS} from read_parquet('{baseline_members}')"
    return _compare(warehouse, ours, theirs)


def compare_diff(warehouse: Path, baseline_diff: Path) -> dict[str, Any]:
    """Our tiktok_audience_diff against the baseline's diff, add and remove."""
    ours = f"select {MEMBER_KEYS}, action from tiktok_audience_diff"
    theirs = f"select {MEMBER_KEYS}, action from read_parquet('{baseline_diff}')"
    return _compare(warehouse, ours, theirs)


def _compare(warehouse: Path, ours: str, theirs: str) -> dict[str, Any]:
    with duckdb.connect(str(warehouse), read_only=True) as con:

        def grouped(sql: str) -> dict[str, int]:
            rows = con.execute(
                f"select audience_key || ' ' || id_type, count(*) from ({sql}) group by 1"
            ).fetchall()
            return {str(k): int(n) for k, n in rows}

        ours_counts = grouped(ours)
        only_ours = grouped(f"{ours} except all {theirs}")
        only_theirs = grouped(f"{theirs} except all {ours}")
    return {
        "equal": not only_ours and not only_theirs,
        "rows": sum(ours_counts.values()),
        "per_type": ours_counts,
        "only_ours": only_ours,
        "only_baseline": only_theirs,
    }


# --- 2. incremental ------------------------------------------------------------------------------


def acknowledge_everything(warehouse: Path) -> int:
    """Pretend TikTok took every member: registry events and acknowledged batches in the
    ledger, as tests/test_warehouse_build.py does; the sync job appends the same when it runs.
    """
    with duckdb.connect(str(warehouse)) as con:
        keys = con.execute("select audience_key, api from tiktok_audiences order by 1").fetchall()
        for n, (key, api) in enumerate(keys, start=1):
            ledger.register(con.execute, str(key), f"100{n}", ADVERTISER, str(api), run_id="bench")
        ledger.acknowledge(
            con.execute,
            "select m.audience_key, r.audience_id, r.advertiser_id, m.id_type, m.id_hash "
            "from tiktok_audience_members m "
            "join tiktok_sync_audience_registry r using (audience_key)",
            run_id="bench",
        )
        row = con.execute("select count(*) from tiktok_sync_acknowledged_members").fetchone()
        con.execute("checkpoint")
    assert row is not None
    return int(row[0])


def read_diff(warehouse: Path) -> tuple[dict[str, Any], dict[str, int]]:
    m = measure([sys.executable, "-m", "bench.read_diff", str(warehouse)]).check("diff read")
    counts = {str(k): int(v) for k, v in json.loads(m.stdout).items()}
    record = _record(m)
    record["rows"] = sum(counts.values())
    return record, counts


def incremental(
    project: BenchProject,
    built: Path,
    changed_data: Path,
    warehouse: Path,
    identifiers: int,
) -> dict[str, Any]:
    """Acknowledge the built warehouse, rebuild on the changed files, read the diff."""
    _copy_database(built, warehouse)
    acknowledged = acknowledge_everything(warehouse)
    record = dbt_build(project, changed_data, warehouse, identifiers, fresh=False)
    diff_record, counts = read_diff(warehouse)
    record["acknowledged_before"] = acknowledged
    record["diff_read_seconds"] = diff_record["wall_seconds"]
    record["diff_read_peak_rss_mb"] = diff_record["peak_rss_mb"]
    record["build_and_diff_seconds"] = record["wall_seconds"] + diff_record["wall_seconds"]
    record["adds"] = counts.get("add", 0)
    record["removes"] = counts.get("remove", 0)
    return record


# --- 3 and 4. the sync job ------------------------------------------------------------------------


def _request_stats(requests: list[dict[str, Any]]) -> dict[str, Any]:
    paths = Counter(str(r["path"]).split("/open_api/v1.3/")[-1] for r in requests)
    membership = [
        r for r in requests if str(r["path"]).split("/open_api/v1.3/")[-1] in MEMBERSHIP_PATHS
    ]
    return {
        "requests": len(requests),
        "membership_requests": len(membership),
        "failed_requests": sum(1 for r in requests if r.get("code") not in (0, None)),
        "bytes_sent": sum(int(r.get("body_bytes") or 0) for r in requests),
        "requests_per_path": dict(paths),
    }


def _sync_command(project: BenchProject, api_base: str) -> list[str]:
    return [
        str(BIN / "tiktok-sync"),
        "run",
        "--project-dir",
        str(project.project_dir),
        "--api-base",
        api_base,
        # the emulator's limit is lifted (qps=0); pacing ours would only measure the pacing
        "--requests-per-second",
        "1000000",
        "--json",
    ]


def _sync_env(project: BenchProject, warehouse: Path) -> dict[str, str]:
    env = project.env(warehouse)
    env.update(
        TIKTOK_ACCESS_TOKEN=TOKEN,
        TIKTOK_ADVERTISER_ID=ADVERTISER,
        TIKTOK_CREDENTIALS_FILE=str(warehouse.with_name("no-credentials.json")),
    )
    return env


def sync_run(project: BenchProject, built: Path, warehouse: Path) -> dict[str, Any]:
    """A first sync of everything, then a second run with nothing changed, on a fresh emulator."""
    _copy_database(built, warehouse)
    emulator = Emulator(EmulatorConfig(qps=0, processing_seconds=0, mapping_batch_limit=10_000))
    api_base = emulator.start()
    try:
        cmd, env = _sync_command(project, api_base), _sync_env(project, warehouse)
        first = measure(cmd, env=env, cwd=project.project_dir).check("tiktok-sync run")
        result = json.loads(first.stdout)
        sent = sum(a["adds_sent"] + a["removes_sent"] for a in result["audiences"])
        record = _record(first, sent)
        record["identifiers_sent"] = sent
        record["own_cpu_identifiers_per_second"] = sent / first.cpu_seconds
        record.update(_request_stats(emulator.requests()))
        record["status"] = result["status"]
        record["tiktok_matches_warehouse"] = _tiktok_matches(emulator, warehouse, result)
        emulator.clear_requests()

        compaction = measure(project.dbt_compact(), env=env, cwd=project.project_dir)
        compaction.check("dbt run of the compaction")
        second = measure(cmd, env=env, cwd=project.project_dir).check("no-change run")
        stats = _request_stats(emulator.requests())
        no_change = _record(second)
        no_change["compaction_seconds"] = compaction.wall_seconds
        no_change["membership_requests"] = stats["membership_requests"]
        no_change["requests"] = stats["requests"]
        no_change["identifiers_sent"] = sum(
            a["adds_sent"] + a["removes_sent"] for a in json.loads(second.stdout)["audiences"]
        )
        record["no_change"] = no_change
    finally:
        emulator.stop()
        _remove_database(warehouse)
    return record


def _tiktok_matches(emulator: Emulator, warehouse: Path, result: dict[str, Any]) -> bool:
    """Whether every audience in the emulator holds as many members per type as the warehouse.

    Counts, not hash sets: at 10M the sets would cost the runner gigabytes. The hashes
    themselves are checked against the baseline; here it is that all of them arrived.
    """
    with duckdb.connect(str(warehouse), read_only=True) as con:
        for audience in result["audiences"]:
            rows = con.execute(
                "select id_type, count(*) from tiktok_audience_members "
                "where audience_key = ? group by 1",
                [audience["audience_key"]],
            ).fetchall()
            expected = {str(t): int(n) for t, n in rows}
            held = {
                # TikTok's segment API calls GAID "AAID" (README, identifier columns)
                t.replace("AAID_", "GAID_"): len(h)
                for t, h in emulator.members(audience["audience_id"]).items()
                if h
            }
            if held != expected:
                return False
    return True
