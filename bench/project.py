"""A throwaway dbt project, set up as a user's, whose audiences read the generated Parquet.

It installs this repository as a package (packages.yml, `dbt deps`), as a project using
tiktok_sync does, and holds three bench audiences in `models/audiences/`. On DuckDB they read
the files of `bench.generate` through `read_parquet` on the path in var `bench_data_dir`, so one
project serves every size and generation; on Postgres (bench/engines.py) they read the same
rows, loaded into tables of schema `<target schema>_input`.

The profile sets DuckDB's `threads` and `memory_limit` explicitly (reported with the results)
and reads the database path from TIKTOK_SYNC_DUCKDB_PATH, as integration_tests/profiles.yml
does, so `tiktok-sync` finds the same warehouse. A project made with a Postgres profile output
builds there instead (its target `postgres`, chosen through DBT_TARGET).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

AUDIENCES = {
    # audience model -> (parquet file, identifier columns, meta.tiktok)
    "bench_contacts": (
        "contacts",
        ["email", "phone", "country_code"],
        {"audience_name": "Bench contacts", "api": "streaming", "mode": "mirror"},
    ),
    "bench_devices": (
        "devices",
        ["idfa", "gaid"],
        {"audience_name": "Bench app devices", "api": "streaming", "mode": "add_only"},
    ),
    "bench_hashed_emails": (
        "hashed_emails",
        ["email_sha256"],
        {"audience_name": "Bench hashed newsletter", "api": "customer_file", "mode": "mirror"},
    ),
}

_MODEL = """\
{{{{ config(meta={{'tiktok': {meta}}}) }}}}

with

{source} as (
{{%- if target.type == 'duckdb' %}}
    select * from read_parquet('{{{{ var("bench_data_dir") }}}}/{source}.parquet')
{{%- else %}}
    select * from {{{{ target.schema }}}}_input.{source}
{{%- endif %}}
),

final as (
    select {columns} from {source}
)

select * from final
"""

_PROJECT = """\
name: tiktok_sync_bench
version: "1.0.0"
config-version: 2
profile: tiktok_sync_bench
models:
  tiktok_sync_bench:
    audiences:
      +materialized: tiktok_audience
      # Deprecated and a no-op (README "Installing it"); kept here so the bench smoke test
      # proves projects that still carry the line build unchanged.
      +pre-hook: "{{ tiktok_sync.audience_dependencies() }}"
"""

_PROFILE = """\
tiktok_sync_bench:
  target: bench
  outputs:
    bench:
      type: duckdb
      path: "{{{{ env_var('TIKTOK_SYNC_DUCKDB_PATH') }}}}"
      threads: 1
      settings:
        enable_progress_bar: false
        threads: {threads}
        memory_limit: "{memory_limit}"
"""


@dataclass(frozen=True)
class BenchProject:
    """The project copy, its profile and where dbt writes target/ and logs/."""

    root: Path
    threads: int
    memory_limit: str
    target: str = "bench"

    @property
    def project_dir(self) -> Path:
        return self.root / "project"

    @property
    def profiles_dir(self) -> Path:
        return self.root / "profiles"

    def env(self, warehouse: Path) -> dict[str, str]:
        env = dict(os.environ)
        for name in ("DBT_PROFILE", "DBT_TARGET", "DBT_PROJECT_DIR", "TIKTOK_API_BASE"):
            env.pop(name, None)
        env.update(
            DBT_PROFILES_DIR=str(self.profiles_dir),
            DBT_TARGET_PATH=str(self.root / "target"),
            DBT_LOG_PATH=str(self.root / "logs"),
            DBT_SEND_ANONYMOUS_USAGE_STATS="false",
            DBT_TARGET=self.target,
            TIKTOK_SYNC_DUCKDB_PATH=str(warehouse),
        )
        return env

    def dbt_build(self, data_dir: Path) -> list[str]:
        """`dbt build` of the whole bench project; unit tests excluded.

        dbt's unit tests do not depend on the data (dbt recommends leaving them out of
        production builds), so they would only add a constant to every figure here.
        """
        return [
            str(BIN / "dbt"),
            "build",
            "--exclude-resource-type",
            "unit_test",
            "--project-dir",
            str(self.project_dir),
            "--vars",
            json.dumps({"bench_data_dir": str(data_dir)}),
        ]

    def dbt_compact(self) -> list[str]:
        """What of a `dbt build` between two runs changes what the next run reads when the data
        did not change: the compaction of the acknowledged state
        (docs/decisions/0004-compacted-acknowledged-state.md), and the views over it, which
        Postgres drops with the table it replaces (`dbt run` of the model and what follows it).
        Without it a no-change run after a first sync would lay the whole first sync over an
        empty compaction."""
        return [
            str(BIN / "dbt"),
            "run",
            "--select",
            "tiktok_sync_acknowledged_compacted+",
            "--project-dir",
            str(self.project_dir),
            "--vars",
            # parsing renders every model; no audience model is run
            json.dumps({"bench_data_dir": "unused"}),
        ]

    def run_results(self) -> dict[str, float]:
        """Seconds per node of the last dbt invocation (target/run_results.json)."""
        results = json.loads((self.root / "target" / "run_results.json").read_text())
        return {r["unique_id"]: float(r["execution_time"]) for r in results["results"]}

    def compiled_model_sql(self, model: str) -> str:
        path = self.root / "target" / "compiled" / "tiktok_sync_bench" / "models" / "audiences"
        return (path / f"{model}.sql").read_text()


def make_project(
    root: Path, *, threads: int, memory_limit: str, postgres: dict[str, Any] | None = None
) -> BenchProject:
    """Create (or re-create) the project copy and its profile under `root`; with `postgres`
    (a dbt-postgres profile output), a project that builds there."""
    project = BenchProject(root, threads, memory_limit, "bench" if postgres is None else "postgres")
    shutil.rmtree(project.project_dir, ignore_errors=True)
    target = project.project_dir
    target.mkdir(parents=True)
    (target / "dbt_project.yml").write_text(_PROJECT)
    (target / "packages.yml").write_text(f"packages:\n  - local: {json.dumps(str(ROOT))}\n")
    audiences = target / "models" / "audiences"
    audiences.mkdir(parents=True)
    for model, (source, columns, meta) in AUDIENCES.items():
        (audiences / f"{model}.sql").write_text(
            _MODEL.format(meta=repr(meta), source=source, columns=", ".join(columns))
        )
    project.profiles_dir.mkdir(parents=True, exist_ok=True)
    # No temp_directory: DuckDB spills next to the database file (<file>.tmp), and dbt-duckdb
    # sets every setting again on each new cursor, which DuckDB refuses for temp_directory once
    # it has spilled.
    profile = _PROFILE.format(threads=threads, memory_limit=memory_limit)
    if postgres is not None:
        profile += "    " + yaml.safe_dump({"postgres": postgres}).replace("\n", "\n    ")
    (project.profiles_dir / "profiles.yml").write_text(profile)
    deps = subprocess.run(
        [str(BIN / "dbt"), "deps", "--quiet", "--project-dir", str(target)],
        env=project.env(root / "unused.duckdb"),
        cwd=target,
        capture_output=True,
        text=True,
    )
    if deps.returncode != 0:
        raise RuntimeError(f"dbt deps failed in {target}: {deps.stdout}{deps.stderr}")
    return project
