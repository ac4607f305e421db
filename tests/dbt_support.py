"""Run dbt for real on a throwaway DuckDB file, isolated from every other run."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[1]
DBT = str(Path(sys.executable).with_name("dbt"))


@dataclass
class DbtProject:
    """One isolated dbt invocation context: own DuckDB file, target and log dirs."""

    workdir: Path

    @property
    def db_path(self) -> Path:
        return self.workdir / "warehouse.duckdb"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            DBT_PROFILES_DIR=str(self.workdir),
            DBT_TARGET_PATH=str(self.workdir / "target"),
            DBT_LOG_PATH=str(self.workdir / "logs"),
            DBT_SEND_ANONYMOUS_USAGE_STATS="false",
            TIKTOK_SYNC_DUCKDB_PATH=str(self.db_path),
        )
        return env

    def run(
        self,
        *args: str,
        vars: dict[str, object] | None = None,
        check: bool = True,
        project_dir: Path = PROJECT_DIR,
    ) -> subprocess.CompletedProcess[str]:
        cmd = [DBT, *args, "--project-dir", str(project_dir)]
        if vars:
            cmd += ["--vars", json.dumps(vars)]
        proc = subprocess.run(
            cmd, env=self.env(), capture_output=True, text=True, cwd=project_dir, timeout=600
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"dbt {' '.join(args)} failed ({proc.returncode}):\n"
                f"{proc.stdout[-6000:]}\n{proc.stderr[-3000:]}"
            )
        return proc


def make_dbt_project(workdir: Path) -> DbtProject:
    workdir.mkdir(parents=True, exist_ok=True)
    shutil.copy(PROJECT_DIR / "profiles.example.yml", workdir / "profiles.yml")
    return DbtProject(workdir)
