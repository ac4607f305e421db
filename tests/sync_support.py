"""Real pieces for the sync tests: a dbt-built demo warehouse, the emulator, and tiktok-sync.

The warehouse is DuckDB or a real PostgreSQL server (tests/warehouses.py): dbt builds the demo
project once per test session and engine (demo_day 0) into a template, and each test gets its
own copy, so tests may sync, rebuild and write freely. The emulator runs in-process on loopback
with no rate limit and no processing delay unless a test asks. Nothing is patched: the CLI runs
through Typer's CliRunner (or a subprocess), the client speaks HTTP to the emulator, dbt runs
for real.

Tests that hold for every engine take the `engine` fixture (tests/conftest.py: one run per
engine, `@pytest.mark.engines("duckdb")` to narrow it) and pass it to `sync_env`.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner, Result

from sync.apply import RunResult, new_run_id, run
from sync.cli import app
from sync.emulator import Emulator, EmulatorConfig
from sync.engines.lease import LeaseLock
from sync.plan import build_plan
from sync.settings import TikTokSettings
from sync.tiktok import TikTokClient
from sync.warehouse import Batch, Freeze, FrozenChunk, Warehouse, utc_now
from tests.dbt_support import PROJECT_DIR, DbtProject, shared_build
from tests.warehouses import (
    DuckDBWarehouse,
    DuckDBWarehouses,
    Warehouses,
    WarehouseUnderTest,
    demo_template,
)

ADVERTISER = "7000000000000000001"  # the emulator's demo advertiser
TOKEN = "emulator-token"
API_PREFIX = "/open_api/v1.3/"
MEMBERSHIP_PATHS = frozenset(
    {"segment/mapping/", "dmp/custom_audience/file/upload/", "dmp/custom_audience/update/"}
)
WRITE_PATHS = MEMBERSHIP_PATHS | {"segment/audience/", "dmp/custom_audience/create/"}
AUDIENCES_DIR = "path:models/audiences"

# Variables the CLI reads that the developer's own shell may have set.
_CLEARED_ENV = (
    "TIKTOK_ACCESS_TOKEN",
    "TIKTOK_APP_ID",
    "TIKTOK_APP_SECRET",
    "TIKTOK_ADVERTISER_ID",
    "TIKTOK_API_BASE",
    "TIKTOK_CREDENTIALS_FILE",
    "TIKTOK_SYNC_MEMORY_LIMIT",
    "DBT_PROJECT_DIR",
    "DBT_PROFILES_DIR",
    "DBT_TARGET",
    "DBT_PROFILE",
)

Members = dict[str, dict[str, set[str]]]  # audience_key -> id_type -> hashes


def demo_day1_members(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`tiktok_audience_members` as `dbt run` writes it at demo_day 1, as Parquet; once per
    session (and once for all pytest-xdist workers).

    For tests that change the audiences between runs several times: `SyncEnv.use_members` puts
    these rows (or the template's day-0 ones) in place, which is what `env.rebuild(1)` does to
    the tables the sync job reads, without paying for a dbt run each time. Built on DuckDB
    for every engine: the members are equal row for row on each (tests/engines/).
    """
    template = demo_template(tmp_path_factory)

    def build(project: DbtProject) -> None:
        shutil.copy(template.db_path, project.db_path)
        project.run("run", "--select", AUDIENCES_DIR, vars={"demo_day": 1})
        with duckdb.connect(str(project.db_path)) as con:
            con.execute(f"attach '{template.db_path}' as day0 (read_only)")
            for day, table in (("0", "day0.main"), ("1", "main")):
                con.execute(
                    f"copy (select * from {table}.tiktok_audience_members) "
                    f"to '{project.workdir}/members_day{day}.parquet'"
                )

    return shared_build(tmp_path_factory.getbasetemp(), "day1", build).workdir


@dataclass
class SyncEnv:
    """One test's warehouse copy, the emulator, and ways to drive and inspect both.

    `warehouse` defaults to the DuckDB file of `project`.
    """

    project: DbtProject
    emulator: Emulator
    runner: CliRunner = field(default_factory=CliRunner)
    warehouse: WarehouseUnderTest = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.warehouse is None:
            self.warehouse = DuckDBWarehouse(self.project.workdir)

    @property
    def engine(self) -> str:
        return self.warehouse.engine

    @property
    def db_path(self) -> Path:
        """The DuckDB file (DuckDB-only tests)."""
        assert isinstance(self.warehouse, DuckDBWarehouse), f"no file on {self.engine}"
        return self.warehouse.db_path

    # --- driving -------------------------------------------------------------------------

    def env(self, **overrides: str | None) -> dict[str, str | None]:
        env: dict[str, str | None] = dict.fromkeys(_CLEARED_ENV)
        env.update(
            DBT_PROFILES_DIR=str(self.project.workdir),
            **self.warehouse.env(),
            TIKTOK_ACCESS_TOKEN=TOKEN,
            TIKTOK_ADVERTISER_ID=ADVERTISER,
            TIKTOK_API_BASE=self.emulator.base_url,
            # No developer's credentials file is ever read.
            TIKTOK_CREDENTIALS_FILE=str(self.project.workdir / "no-credentials.json"),
        )
        env.update(overrides)
        return env

    def cli(self, *args: str, env: Mapping[str, str | None] | None = None) -> Result:
        """`tiktok-sync <args> --project-dir <the project>`, in-process."""
        self.warehouse.settle()
        command = [*args, "--project-dir", str(PROJECT_DIR)]
        if args and args[0] == "run":
            command += ["--requests-per-second", "1000", "--requests-per-minute", "1000000"]
        return self.runner.invoke(app, command, env=self.env(**(env or {})))

    def rebuild(self, demo_day: int) -> None:
        """What a `dbt build` changes for the sync job: the audience models' member slices."""
        self.project.run("run", "--select", AUDIENCES_DIR, vars={"demo_day": demo_day})

    def use_members(self, members_dir: Path, demo_day: int) -> None:
        """The desired members of `demo_day` (0 or 1) from `demo_day1_members`, as a rebuild."""
        rows = pq.read_table(members_dir / f"members_day{demo_day}.parquet")
        self.warehouse.replace_rows("tiktok_audience_members", rows)

    def run_engine(
        self,
        client: TikTokClient,
        audiences: Sequence[str] | None = None,
        processing_wait: float = 5.0,
        max_in_flight: int | None = None,
        **plan_options: Any,
    ) -> RunResult:
        """The library's `run` with a client the test configured (retries, batch size)."""
        self.warehouse.settle()
        settings = self.warehouse.settings()
        tiktok = TikTokSettings(
            api_base=self.emulator.base_url, advertiser_id=ADVERTISER, access_token=TOKEN
        )
        with Warehouse.open(settings) as warehouse:
            plan = build_plan(warehouse, tiktok, audiences, **plan_options)
            return run(
                plan,
                client,
                warehouse,
                run_id=new_run_id(),
                processing_wait=processing_wait,
                max_in_flight=max_in_flight,
            )

    def outlive_killed_runs(self) -> None:
        """After a run was killed: on engines whose lock is a lease (sync/engines/lease.py), the
        killed run's lease blocks the next run until it expires, `lease_ttl` (10 minutes) later,
        as designed. This process's later runs read the lease clock past that moment (until the
        test ends); the lease the killed run left is as it left it."""
        later = LeaseLock.lease_ttl + timedelta(minutes=1)
        LeaseLock.lease_clock = staticmethod(lambda: utc_now() + later)  # type: ignore[assignment]

    def client(self, **options: Any) -> TikTokClient:
        """A client for this emulator; tests shorten retries so faults cost little time."""
        defaults: dict[str, Any] = {"requests_per_second": None, "backoff_base": 0.01}
        return TikTokClient(TOKEN, base_url=self.emulator.base_url, **{**defaults, **options})

    # --- inspecting ----------------------------------------------------------------------

    def query(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        """One statement on the test's warehouse (`?` placeholders; SQL both engines read)."""
        return self.warehouse.query(sql, params)

    def _grouped(self, sql: str) -> Members:
        out: Members = {}
        for key, id_type, id_hash in self.query(sql):
            out.setdefault(str(key), {}).setdefault(str(id_type), set()).add(str(id_hash))
        return out

    def desired(self) -> Members:
        return self._grouped(
            "select audience_key, id_type, id_hash from tiktok_audience_desired_members"
        )

    def acknowledged(self) -> Members:
        """State rows for each audience's current TikTok id."""
        return self._grouped(
            "select state.audience_key, state.id_type, state.id_hash "
            "from tiktok_sync_acknowledged_members as state "
            "inner join tiktok_audience_targets as targets "
            "on state.audience_key = targets.audience_key "
            "and state.audience_id = targets.audience_id"
        )

    def registry(self) -> dict[str, str | None]:
        rows = self.query("select audience_key, audience_id from tiktok_sync_audience_registry")
        return {str(k): (None if v is None else str(v)) for k, v in rows}

    def tiktok(self) -> Members:
        """What the emulator holds for every registered audience, in the warehouse's id types."""
        out: Members = {}
        for key, audience_id in self.registry().items():
            if audience_id is None:
                continue
            members = self.emulator.members(audience_id)
            # The segment API names Android ids AAID, the warehouse GAID (docs/tiktok-api.md §4.2).
            out[key] = {
                id_type.replace("AAID_", "GAID_"): hashes
                for id_type, hashes in members.items()
                if hashes
            }
        return out

    def unconfirmed(self) -> int:
        """Rows of changes sent without an answer yet (tiktok_sync_unconfirmed_changes)."""
        return int(self.query("select count(*) from tiktok_sync_unconfirmed_changes")[0][0])

    def assert_converged(self) -> None:
        """TikTok holds exactly the desired members (add_only: at least them), the state says
        exactly what TikTok holds, nothing is pending or unconfirmed, each audience exists once."""
        tiktok, desired, modes = self.tiktok(), self.desired(), self.modes()
        for key, mode in modes.items():
            held = {(t, h) for t, hs in tiktok.get(key, {}).items() for h in hs}
            wanted = {(t, h) for t, hs in desired.get(key, {}).items() for h in hs}
            if mode == "mirror":
                assert held == wanted, (
                    f"{key}: {len(wanted - held)} missing, {len(held - wanted)} extra"
                )
            else:
                assert wanted <= held, f"{key}: {len(wanted - held)} missing"
        assert tiktok == self.acknowledged()
        assert self.pending() == {}
        assert self.unconfirmed() == 0
        names = [a["name"] for a in self.emulator.audiences()]
        assert sorted(names) == sorted(set(names)), f"an audience was created twice: {names}"
        assert {a["audience_id"] for a in self.emulator.audiences()} == set(
            self.registry().values()
        )

    def modes(self) -> dict[str, str]:
        return {
            str(k): str(m) for k, m in self.query("select audience_key, mode from tiktok_audiences")
        }

    def pending(self) -> dict[str, int]:
        rows = self.query(
            "select audience_key, count(*) from tiktok_audience_diff group by audience_key"
        )
        return {str(k): int(n) for k, n in rows}

    def api_requests(self) -> list[dict[str, Any]]:
        """The emulator's request log, each with `endpoint`: the path after /open_api/v1.3/."""
        requests = self.emulator.requests()
        for entry in requests:
            entry["endpoint"] = str(entry["path"]).removeprefix(API_PREFIX)
        return requests

    def membership_requests(self) -> list[dict[str, Any]]:
        return [r for r in self.api_requests() if r["endpoint"] in MEMBERSHIP_PATHS]

    def mapped_hashes(self, action: str) -> set[tuple[str, str]]:
        """(audience_id, hash) of every /segment/mapping/ entry TikTok answered with code 0."""
        sent: set[tuple[str, str]] = set()
        for entry in self.api_requests():
            body = entry["body"]
            if entry["endpoint"] != "segment/mapping/" or entry["code"] != 0:
                continue
            if body.get("action") != action:
                continue
            for row in body["batch_data"]:
                for item in row:
                    for audience_id in item["audience_ids"]:
                        sent.add((audience_id, item["id"]))
        return sent

    def history(self) -> list[dict[str, Any]]:
        return self.warehouse.dicts("select * from tiktok_sync_run_history order by started_at")


def mapping_batch(
    warehouse: Warehouse, freeze: Freeze, chunk: FrozenChunk, audience_id: str, advertiser_id: str
) -> Batch:
    """The ledger's batch for one frozen chunk sent as a streaming audience's mapping request."""
    return warehouse.batch(
        freeze,
        chunk.batch_no,
        kind="mapping",
        audience_id=audience_id,
        advertiser_id=advertiser_id,
        api="streaming",
        identifier_count=len(chunk.hashes),
    )


@contextmanager
def warehouse_held_by_another_process(path: Path) -> Iterator[None]:
    """A DuckDB connection to `path` in another process (as a running dbt build holds it)."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys; c = duckdb.connect(sys.argv[1]); print('held', flush=True); "
            "sys.stdin.read()",
            str(path),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        yield
    finally:
        holder.communicate("", timeout=10)


@contextmanager
def sync_env(
    engine: Warehouses | pytest.TempPathFactory, workdir: Path, **emulator_config: Any
) -> Iterator[SyncEnv]:
    """A fresh copy of the demo warehouse (demo_day 0, nothing synced) and a running emulator.

    For a test module's fixture: `with sync_env(engine, tmp_path) as env: yield env`, with the
    `engine` fixture (every engine), or `tmp_path_factory` (DuckDB).
    """
    warehouses = engine if isinstance(engine, Warehouses) else DuckDBWarehouses(engine)
    config = EmulatorConfig(**{"qps": 0, **emulator_config})
    with warehouses.demo(workdir) as warehouse, Emulator(config) as emulator:
        clock = LeaseLock.__dict__["lease_clock"]
        try:
            yield SyncEnv(warehouse.project, emulator, warehouse=warehouse)
        finally:
            LeaseLock.lease_clock = clock
        assert emulator.internal_errors() == []
