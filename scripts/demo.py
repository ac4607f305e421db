"""`make demo`: the whole flow on demo data, on this machine, with no credentials.

1. dbt builds the demo warehouse (DuckDB) as of demo day 0 and prints, per audience, its
   members, rejected identifiers and pending adds/removes.
2. A local TikTok emulator starts on a free loopback port (`sync.emulator`), unless TikTok
   credentials are set (TIKTOK_ACCESS_TOKEN and TIKTOK_ADVERTISER_ID): then the demo talks to
   the real TikTok API under that advertiser, as the README shows.
3. `tiktok-sync run` creates the audiences and sends every member.
4. dbt rebuilds as of demo day 1 (a few customers join, churn or change), `tiktok-sync plan`
   shows the diff, and a second `tiktok-sync run` sends only those changes.

With the emulator the demo uses its own warehouse, .demo/tiktok_sync.duckdb, and starts it
afresh each time: the emulator forgets its audiences when it stops, and audience ids recorded
against a previous emulator must not reach the next one (nor a real warehouse's state be lost).
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]
# The demo audiences live in the integration-test project, which installs the root as a package.
PROJECT_DIR = ROOT / "integration_tests"
BIN = Path(sys.executable).parent
DBT = str(BIN / "dbt")
TIKTOK_SYNC = str(BIN / "tiktok-sync")
DEMO_DIR = ROOT / ".demo"
# Calls that change members: segment mappings, customer-file uploads and updates.
MEMBERSHIP_PATHS = (
    "segment/mapping/",
    "dmp/custom_audience/file/upload/",
    "dmp/custom_audience/update/",
)


def real_tiktok() -> bool:
    return bool(os.environ.get("TIKTOK_ACCESS_TOKEN") and os.environ.get("TIKTOK_ADVERTISER_ID"))


def warehouse_path() -> Path:
    return Path(os.environ.get("TIKTOK_SYNC_DUCKDB_PATH", ROOT / "tiktok_sync.duckdb"))


def dbt_build(demo_day: int) -> None:
    print(f"\n== dbt build (demo_day={demo_day})", flush=True)
    cmd = [DBT, "build", "--vars", f"{{demo_day: {demo_day}}}", "--quiet"]
    proc = subprocess.run(cmd, cwd=PROJECT_DIR)
    if proc.returncode != 0:
        sys.exit(f"dbt build failed (exit {proc.returncode}); see integration_tests/logs/dbt.log")


def query(sql: str, params: list[object] | None = None) -> list[tuple[object, ...]]:
    with duckdb.connect(str(warehouse_path()), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def print_table(
    title: str, header: tuple[str, ...], rows: list[tuple[object, ...]], text_columns: int
) -> None:
    """The first `text_columns` columns left-aligned, the counts after them right-aligned."""
    table = [header, *[tuple(f"{v:,}" if isinstance(v, int) else str(v) for v in r) for r in rows]]
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    print(f"\n{title}")
    for row in table:
        cells = [
            v.ljust(w) if j < text_columns else v.rjust(w)
            for j, (v, w) in enumerate(zip(row, widths, strict=True))
        ]
        print("  " + "  ".join(cells))


def print_summary(title: str) -> None:
    rows = query(
        "select audience_key, api, mode, member_count, rejected_values, empty_values, "
        "pending_adds, pending_removes from tiktok_audience_summary order by audience_key"
    )
    header = ("audience", "api", "mode", "members", "rejected", "empty", "to add", "to remove")
    print_table(title, header, rows, text_columns=3)


def tiktok_sync(command: str, api_base: str | None) -> None:
    """Run `tiktok-sync <command>` as a user would, and show what it prints."""
    cmd = [TIKTOK_SYNC, command]
    if api_base:
        cmd += ["--api-base", api_base]
    print(f"\n== tiktok-sync {command}", flush=True)
    proc = subprocess.run(cmd, cwd=PROJECT_DIR, capture_output=True, text=True)
    print(proc.stdout.rstrip())
    if proc.returncode != 0:
        print(proc.stderr.rstrip(), file=sys.stderr)
        sys.exit(f"tiktok-sync {command} exited {proc.returncode}")


def membership_requests(requests: list[dict[str, object]]) -> int:
    """Membership calls TikTok accepted (code 0); throttled attempts that were retried are not."""
    paths = [str(r["path"]).split("/open_api/v1.3/")[-1] for r in requests if r["code"] == 0]
    return sum(1 for p in paths if p in MEMBERSHIP_PATHS)


def print_runs(first_requests: int | None, second_requests: int | None) -> None:
    runs = [
        str(run_id)
        for (run_id,) in query(
            "select run_id from tiktok_sync_run_history group by run_id order by min(started_at)"
        )
    ][-2:]
    rows = query(
        "select summary.audience_key, summary.member_count, "
        "sum(case when history.run_id = ? then adds_sent + removes_sent end), "
        "sum(case when history.run_id = ? then adds_sent end), "
        "sum(case when history.run_id = ? then removes_sent end) "
        "from tiktok_audience_summary as summary "
        "inner join tiktok_sync_run_history as history "
        "on history.audience_key = summary.audience_key "
        "group by all order by 1",
        [runs[0], runs[1], runs[1]],
    )
    print_table(
        "Only the changes went out the second time:",
        ("audience", "members", "first run sent", "second run added", "second run removed"),
        rows,
        text_columns=1,
    )
    members = sum(int(str(r[1])) for r in rows)
    first = sum(int(str(r[2])) for r in rows)
    second = sum(int(str(r[3])) + int(str(r[4])) for r in rows)
    print(
        f"  First run: {first:,} identifiers; second run: {second:,}, "
        f"{second / members:.1%} of the {members:,} members."
    )
    if first_requests is not None and second_requests is not None:
        print(
            f"  Membership requests TikTok accepted: {first_requests} and {second_requests} "
            "(batches go per audience, identifier type and direction, up to 10,000 each)."
        )


def main() -> None:
    # dbt and tiktok-sync read the integration-test project's profile unless told otherwise.
    os.environ.setdefault("DBT_PROFILES_DIR", str(PROJECT_DIR))
    use_emulator = not real_tiktok()
    if use_emulator:
        shutil.rmtree(DEMO_DIR, ignore_errors=True)
        DEMO_DIR.mkdir()
        os.environ["TIKTOK_SYNC_DUCKDB_PATH"] = str(DEMO_DIR / "tiktok_sync.duckdb")
        os.environ["TIKTOK_ACCESS_TOKEN"] = "emulator-token"
        os.environ["TIKTOK_ADVERTISER_ID"] = "7000000000000000001"
        # Only the emulator's token is used: no credentials file of the user's is read.
        os.environ["TIKTOK_CREDENTIALS_FILE"] = str(DEMO_DIR / "no-credentials.json")
        from sync.settings import load_warehouse

        if load_warehouse(PROJECT_DIR).path.resolve() != warehouse_path().resolve():
            sys.exit(
                "your dbt profile does not read TIKTOK_SYNC_DUCKDB_PATH; the demo needs a "
                "throwaway warehouse for the emulator (see integration_tests/profiles.yml)"
            )
    else:
        print(
            "TIKTOK_ACCESS_TOKEN and TIKTOK_ADVERTISER_ID are set: this demo talks to the real "
            "TikTok API and creates the demo audiences under advertiser "
            f"{os.environ['TIKTOK_ADVERTISER_ID']}."
        )

    dbt_build(demo_day=0)
    print_summary("Audiences after the demo_day=0 build:")
    emulator = None
    api_base = None
    if use_emulator:
        from sync.emulator import Emulator, EmulatorConfig

        emulator = Emulator(EmulatorConfig.default())
        api_base = emulator.start()
        print(f"\nNo TikTok credentials are set: a local TikTok emulator listens on {api_base}")
    try:
        tiktok_sync("run", api_base)
        first = membership_requests(emulator.requests()) if emulator else None
        dbt_build(demo_day=1)
        tiktok_sync("plan", api_base)
        if emulator:
            emulator.clear_requests()
        tiktok_sync("run", api_base)
        print_runs(first, membership_requests(emulator.requests()) if emulator else None)
    finally:
        if emulator:
            emulator.stop()
    print(
        f"\nThe warehouse is {warehouse_path()}; look at tiktok_audience_summary, "
        "tiktok_audience_diff (empty now: everything is acknowledged), "
        "tiktok_sync_acknowledged_members, tiktok_sync_audience_registry, "
        "tiktok_sync_run_history and tiktok_rejected_identifiers."
    )
    print_next_steps(use_emulator)


def demo_command(command: str) -> str:
    """`tiktok-sync <command>` on the demo's warehouse, runnable from any directory."""
    env = {
        "DBT_PROJECT_DIR": PROJECT_DIR,
        "DBT_PROFILES_DIR": Path(os.environ["DBT_PROFILES_DIR"]).resolve(),
        "TIKTOK_SYNC_DUCKDB_PATH": warehouse_path().resolve(),
        # plan names the advertiser of each audience; the emulator's, or yours.
        "TIKTOK_ADVERTISER_ID": os.environ["TIKTOK_ADVERTISER_ID"],
    }
    assigned = " ".join(f"{name}={shlex.quote(str(value))}" for name, value in env.items())
    return f"{assigned} {shlex.quote(TIKTOK_SYNC)} {command}"


def print_next_steps(use_emulator: bool) -> None:
    print(f"\nWhat a run would send now (nothing; needs no token):\n  {demo_command('plan')}")
    if use_emulator:
        print(
            "`tiktok-sync audiences` asks TikTok for each audience's size: the demo's emulator "
            "has stopped and forgotten its audiences, so it answers only after a demo against "
            "real TikTok (TIKTOK_ACCESS_TOKEN and TIKTOK_ADVERTISER_ID set)."
        )
    else:
        print(f"Each audience's size in TikTok:\n  {demo_command('audiences')}")


if __name__ == "__main__":
    main()
