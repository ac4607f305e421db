"""The orchestrator examples (examples/orchestrators/, README "Running it from an orchestrator")
run for real: the README's cron line, Dagster's definitions and sync asset, Airflow's DAG.

Marked `orchestrators`: `make test-orchestrators` installs Dagster, dagster-dbt and Airflow into
a venv of their own (their pins would fight the project's dev dependencies) and runs these.
Each example calls the `tiktok-sync` CLI of this venv as a subprocess, against the emulator
and a copy of the demo warehouse dbt built (tests/sync_support.py).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from sync.emulator import Emulator, EmulatorConfig
from tests.dbt_support import PROJECT_DIR, ROOT, make_dbt_project
from tests.sync_support import SyncEnv, sync_env
from tests.warehouses import demo_template

pytestmark = pytest.mark.orchestrators

EXAMPLES = ROOT / "examples" / "orchestrators"
REVOKED_TOKEN = "revoked-token"  # known to nobody: TikTok answers 40105


def _set_env(monkeypatch: pytest.MonkeyPatch, env: dict[str, str | None]) -> None:
    for name, value in env.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    # The examples call `dbt` and `tiktok-sync` by name, as from an activated venv.
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")


@pytest.fixture
def env(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[SyncEnv]:
    """A copy of the built demo warehouse and the emulator, in this process' environment, as
    an orchestrator's worker would have them; the manifest is the one dbt wrote building it."""
    with sync_env(tmp_path_factory, tmp_path) as env:
        manifest_dir = demo_template(tmp_path_factory).workdir / "target"
        _set_env(
            monkeypatch,
            env.env(DBT_PROJECT_DIR=str(PROJECT_DIR), DBT_TARGET_PATH=str(manifest_dir)),
        )
        yield env


def _load(path: Path) -> ModuleType:
    """Import an example file as its orchestrator does: a module read from a path."""
    spec = importlib.util.spec_from_file_location(f"example_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- cron / CI ---------------------------------------------------------------------------------


def _readme_cron_line() -> str:
    lines = (ROOT / "README.md").read_text().splitlines()
    found = [line.strip() for line in lines if line.strip().startswith("dbt build && tiktok-sync")]
    assert len(found) == 1, f"the README's cron line: {found}"
    return found[0]


def test_the_readmes_cron_line_builds_and_syncs(tmp_path: Path) -> None:
    """The README's line, run by a shell as cron would, on a warehouse nothing was built in."""
    project = make_dbt_project(tmp_path / "dbt")
    with Emulator(EmulatorConfig(qps=0)) as emulator:
        synced = SyncEnv(project, emulator)
        environment = {
            key: value
            for key, value in {**project.env(), **synced.env()}.items()
            if value is not None
        }
        environment.update(
            DBT_PROJECT_DIR=str(PROJECT_DIR),
            PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        )
        proc = subprocess.run(
            ["sh", "-c", _readme_cron_line()],
            cwd=tmp_path,
            env=environment,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        result = json.loads((tmp_path / "run.json").read_text())
        assert result["status"] == "success"
        assert {a["audience_key"] for a in result["audiences"]} == set(synced.desired())
        synced.assert_converged()


# --- Dagster -----------------------------------------------------------------------------------


def _dagster_definitions() -> tuple[Any, ModuleType]:
    dg = pytest.importorskip("dagster")
    pytest.importorskip("dagster_dbt")
    return dg, _load(EXAMPLES / "dagster" / "definitions.py")


def _materialize_sync(dg: Any, example: ModuleType) -> Any:
    """The sync asset alone, in-process; the dbt assets upstream are taken as built."""
    return dg.materialize(
        [example.dbt_models, example.tiktok_custom_audiences],
        selection=[example.tiktok_custom_audiences.key],
        resources=example.defs.resources,
        raise_on_error=False,
    )


def test_dagster_definitions_load_with_the_sync_after_the_dbt_models(env: SyncEnv) -> None:
    dg, example = _dagster_definitions()
    dg.Definitions.validate_loadable(example.defs)
    graph = example.defs.resolve_asset_graph()
    parents = graph.get(example.tiktok_custom_audiences.key).parent_keys
    # The diff the sync reads, and the audience models it is built from.
    assert {"tiktok_audience_diff", *env.desired()} <= {key.to_user_string() for key in parents}


def test_the_dagster_sync_asset_materializes_and_tiktok_holds_the_sqls_members(
    env: SyncEnv,
) -> None:
    dg, example = _dagster_definitions()
    result = _materialize_sync(dg, example)
    assert result.success
    (materialization,) = result.asset_materializations_for_node("tiktok_custom_audiences")
    metadata = {key: value.value for key, value in materialization.metadata.items()}
    assert metadata["status"] == "success"
    desired = env.desired()
    for key, members in desired.items():
        assert metadata[key]["adds_sent"] == sum(len(hashes) for hashes in members.values())
    env.assert_converged()


def test_a_refused_token_fails_the_dagster_asset_once_with_the_message(
    env: SyncEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIKTOK_ACCESS_TOKEN", REVOKED_TOKEN)
    dg, example = _dagster_definitions()
    result = _materialize_sync(dg, example)
    assert not result.success
    (failure,) = [event for event in result.all_events if event.is_step_failure]
    description = failure.step_failure_data.user_failure_data.description
    assert description.startswith("tiktok-sync run needs a human (exit 2): ")
    assert "40105" in description and "re-authorise" in description, description
    # Exit 2 is not retried: one attempt, nothing sent.
    assert len([event for event in result.all_events if event.is_step_start]) == 1
    assert env.membership_requests() == []


# --- Airflow -----------------------------------------------------------------------------------


def _airflow_dag() -> ModuleType:
    pytest.importorskip("airflow")
    return _load(EXAMPLES / "airflow" / "tiktok_audience_sync.py")


def test_the_airflow_dag_builds_then_syncs_and_fails_on_a_failed_build(
    env: SyncEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    example = _airflow_dag()
    from airflow.providers.standard.operators.bash import BashOperator
    from airflow.sdk.exceptions import AirflowException

    dag = example.dag
    assert set(dag.task_ids) == {"dbt_build", "tiktok_sync_run"}
    build = dag.get_task("dbt_build")
    assert isinstance(build, BashOperator)
    assert build.bash_command == "dbt build" and build.cwd == str(PROJECT_DIR)
    assert build.downstream_task_ids == {"tiktok_sync_run"}
    assert not build.skip_on_exit_code
    assert build.retries == dag.get_task("tiktok_sync_run").retries == 2
    # A dbt build that fails (here: a profile that names no target) fails the task.
    monkeypatch.setenv("DBT_TARGET", "no_such_target")
    with pytest.raises(AirflowException, match="exit code"):
        build.execute(context={})


def test_the_airflow_sync_task_returns_the_runs_json(env: SyncEnv) -> None:
    example = _airflow_dag()
    result = example.tiktok_sync_run.function()
    assert result["status"] == "success"
    assert {a["audience_key"] for a in result["audiences"]} == set(env.desired())
    env.assert_converged()


def test_the_airflow_sync_task_retries_pending_batches_and_fails_fast_on_a_refused_token(
    env: SyncEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    example = _airflow_dag()
    from airflow.sdk.exceptions import AirflowException, AirflowFailException

    # TikTok applies part of one batch and says so (20001): it stays pending, exit 1.
    env.emulator.set_faults([{"kind": "partial", "path": "segment/mapping/", "count": 1}])
    with pytest.raises(AirflowException, match="batches pending") as pending:
        example.tiktok_sync_run.function()
    assert not isinstance(pending.value, AirflowFailException)  # Airflow retries it
    assert env.unconfirmed() > 0

    monkeypatch.setenv("TIKTOK_ACCESS_TOKEN", REVOKED_TOKEN)
    with pytest.raises(AirflowFailException, match=r"needs a human \(exit 2\): .*40105"):
        example.tiktok_sync_run.function()
