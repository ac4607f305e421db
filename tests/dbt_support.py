"""Run dbt for real on a throwaway DuckDB file, isolated from every other run."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# The dbt project the tests build: the demo and test material, with the repository's root
# installed as a package (packages.yml, `dbt deps`), as a user's project installs it.
PROJECT_DIR = ROOT / "integration_tests"
PROJECT_NAME = "tiktok_sync_integration_tests"
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
        env: dict[str, str] | None = None,
        timeout: float = 600,
    ) -> subprocess.CompletedProcess[str]:
        cmd = [DBT, *args, "--project-dir", str(project_dir)]
        if vars:
            cmd += ["--vars", json.dumps(vars)]
        proc = subprocess.run(
            cmd,
            env={**self.env(), **(env or {})},
            capture_output=True,
            text=True,
            cwd=project_dir,
            timeout=timeout,
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"dbt {' '.join(args)} failed ({proc.returncode}):\n"
                f"{proc.stdout[-6000:]}\n{proc.stderr[-3000:]}"
            )
        return proc


def make_dbt_project(workdir: Path) -> DbtProject:
    workdir.mkdir(parents=True, exist_ok=True)
    shutil.copy(PROJECT_DIR / "profiles.yml", workdir / "profiles.yml")
    return DbtProject(workdir)


def install_package(project_dir: Path) -> None:
    """`dbt deps` in a project whose packages.yml names the package (once per project; the
    lock keeps pytest-xdist's workers from installing it into one directory at once)."""
    project_dir.mkdir(parents=True, exist_ok=True)
    with (project_dir / ".deps.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (project_dir / "dbt_packages" / "tiktok_sync" / "dbt_project.yml").exists():
            _dbt_deps(project_dir)


def shared_build(basetemp: Path, name: str, build: Callable[[DbtProject], None]) -> DbtProject:
    """A dbt project that `build` builds once per test session, however many processes ask.

    `basetemp` is pytest's base temporary directory. pytest-xdist gives each worker one of its
    own under the session's; the build goes to that shared parent, so the workers wait for one
    build (an fcntl lock) instead of each paying for its own. Callers only read the result or
    copy it.
    """
    shared = basetemp.parent if os.environ.get("PYTEST_XDIST_WORKER") else basetemp
    project = DbtProject(shared / f"shared-{name}")
    done = project.workdir / ".built"
    shared.mkdir(parents=True, exist_ok=True)
    with (shared / f"shared-{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            if project.workdir.exists():  # a build that failed half-way in another process
                shutil.rmtree(project.workdir)
            build(make_dbt_project(project.workdir))
            done.touch()
    return project


def _dbt_deps(project_dir: Path) -> None:
    proc = subprocess.run(
        [DBT, "deps", "--quiet", "--project-dir", str(project_dir)],
        env={**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"},
        capture_output=True,
        text=True,
        cwd=project_dir,
        timeout=300,
    )
    if proc.returncode != 0:
        raise AssertionError(f"dbt deps failed in {project_dir}:\n{proc.stdout}\n{proc.stderr}")


def copy_project(destination: Path, *, demo: bool = True) -> Path:
    """A copy of the integration-test project to add models to (without the demo audiences and
    the demo's suppression list unless `demo`), installing the package from this checkout."""
    destination.mkdir(parents=True)
    config = (PROJECT_DIR / "dbt_project.yml").read_text()
    if not demo:
        # The list suppresses demo members; a project without them has no list to build.
        config = "\n".join(
            line
            for line in config.splitlines()
            if not line.startswith("  tiktok_sync_suppression:")
        )
    (destination / "dbt_project.yml").write_text(config + "\n")
    shutil.copytree(PROJECT_DIR / "seeds", destination / "seeds")
    # the project's own macros: the wrapper models over the phone corpora share one
    shutil.copytree(PROJECT_DIR / "macros", destination / "macros")
    ignore = None if demo else shutil.ignore_patterns("demo")
    shutil.copytree(PROJECT_DIR / "models", destination / "models", ignore=ignore)
    (destination / "models" / "audiences").mkdir(exist_ok=True)
    (destination / "packages.yml").write_text(f"packages:\n  - local: {json.dumps(str(ROOT))}\n")
    install_package(destination)
    return destination


class DbtWorker:
    """dbt commands for one DbtProject through one long-lived process (tests/dbt_worker.py).

    For tests that run dbt tens of times: each command costs about a second instead of five.
    Use as a context manager; `run` has the signature of `DbtProject.run` minus `check`'s
    output (dbt's console output is in `log_path`).
    """

    def __init__(self, project: DbtProject, project_dir: Path = PROJECT_DIR, **env: str) -> None:
        self.project = project
        self.project_dir = project_dir
        self.log_path = project.workdir / "dbt-worker.log"
        self._log = self.log_path.open("a")
        self._process = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("dbt_worker.py"))],
            env={**project.env(), **env},
            cwd=project_dir,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
        )

    def run(
        self, *args: str, vars: dict[str, object] | None = None, check: bool = True
    ) -> dict[str, Any]:
        command = [*args, "--project-dir", str(self.project_dir)]
        if vars:
            command += ["--vars", json.dumps(vars)]
        assert self._process.stdin is not None and self._process.stdout is not None
        self._process.stdin.write(json.dumps(command) + "\n")
        self._process.stdin.flush()
        line = self._process.stdout.readline()
        if not line:
            raise AssertionError(f"the dbt worker died; see {self.log_path}")
        reply: dict[str, Any] = json.loads(line)
        if check and not reply["success"]:
            raise AssertionError(
                f"dbt {' '.join(args)} failed: {reply}\n{self.log_path.read_text()[-4000:]}"
            )
        return reply

    def close(self) -> None:
        if self._process.stdin is not None:
            self._process.stdin.close()
        try:
            self._process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        if self._process.stdout is not None:
            self._process.stdout.close()
        self._log.close()

    def __enter__(self) -> DbtWorker:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
