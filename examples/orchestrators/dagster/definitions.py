"""Dagster: your dbt project as assets (dagster-dbt), and the TikTok sync as one asset after them.

Copy this file into your Dagster code location and set DBT_PROJECT_DIR (and DBT_PROFILES_DIR if
your profiles.yml is elsewhere). `dbt build` runs as dagster-dbt's assets; `tiktok_custom_audiences`
then runs `tiktok-sync run --json` (which reads the diff the build left in the warehouse) and
turns its exit code into the asset's outcome:

  0  every change applied                      -> materialized, with the run's counts as metadata
  1  some batches pending (TikTok unreachable,  -> failure that may be retried: the next run sends
     throttled, a timeout); nothing is lost       what is pending (RetryPolicy below)
  2  configuration, authorisation, a guard      -> failure that is not retried: a human must act
     refused the run (nothing sent), an           (re-authorise, fix the model, or allow the
     audience deleted at TikTok                   removal); retrying would change nothing

The token comes from the environment (TIKTOK_ACCESS_TOKEN, TIKTOK_ADVERTISER_ID) or the
credentials file `tiktok-sync auth` wrote; nothing here prints it. Tested by
tests/test_orchestrators.py (`make test-orchestrators`).
"""

# No `from __future__ import annotations`: Dagster reads the `context` annotation at definition.
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DbtCliResource, DbtProject, dbt_assets

dbt_project = DbtProject(
    project_dir=Path(os.environ.get("DBT_PROJECT_DIR", ".")).resolve(),
    profiles_dir=os.environ.get("DBT_PROFILES_DIR"),
    target_path=Path(os.environ.get("DBT_TARGET_PATH", "target")),
)
# Under `dagster dev` this runs `dbt parse` for the manifest; deployed, build it beforehand
# (`dbt parse`, or dagster-dbt's `dagster-dbt project prepare-and-package`).
dbt_project.prepare_if_dev()


@dbt_assets(manifest=dbt_project.manifest_path)
def dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource):
    yield from dbt.cli(["build"], context=context).stream()


@dg.asset(
    deps=[dbt_models],
    # Exit 1 leaves batches pending that the next run sends; wait a while before that run (the
    # README's "Limits": no back-to-back runs after timeouts).
    retry_policy=dg.RetryPolicy(max_retries=2, delay=15 * 60),
)
def tiktok_custom_audiences(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    """TikTok Custom Audiences in step with the audience models (`tiktok-sync run`)."""
    command = ["tiktok-sync", "run", "--json", "--project-dir", str(dbt_project.project_dir)]
    if dbt_project.profiles_dir is not None:
        command += ["--profiles-dir", str(dbt_project.profiles_dir)]
    # stdout holds exactly one JSON object; progress and the one-line error go to stderr.
    proc = subprocess.run(command, capture_output=True, text=True, check=False)
    context.log.info(proc.stderr)
    result = _read_json(proc.stdout)
    if proc.returncode == 0:
        return dg.MaterializeResult(metadata=_summary(result))
    message = _error_message(result, proc.stderr)
    if proc.returncode == 1:
        raise dg.Failure(
            description=f"tiktok-sync run: batches pending, the next run sends them: {message}",
            metadata=_summary(result),
            allow_retries=True,
        )
    raise dg.Failure(
        description=f"tiktok-sync run needs a human (exit {proc.returncode}): {message}",
        metadata=_summary(result),
        allow_retries=False,
    )


def _read_json(stdout: str) -> dict[str, Any]:
    """The run's JSON object; {} when there is none (a crash before it was printed)."""
    try:
        result = json.loads(stdout)
    except json.JSONDecodeError:
        return {}
    if not isinstance(result, dict):
        return {}
    # This file reads schema_version 1; a later version may have renamed what it reads.
    if result.get("schema_version", 1) != 1:
        raise dg.Failure(f"tiktok-sync prints schema_version {result['schema_version']}, not 1")
    return result


# The same function is in the Airflow example: each example is one file to copy.
def _error_message(result: dict[str, Any], stderr: str) -> str:
    """What went wrong: the JSON error, the failed audiences' errors, or stderr's last line."""
    if isinstance(result.get("error"), dict):
        return str(result["error"]["message"])
    failed = [
        f"{audience['audience_key']}: {audience['error']['message']}"
        for audience in result.get("audiences", [])
        if audience.get("error")
    ]
    lines = stderr.strip().splitlines()
    return "; ".join(failed) or (lines[-1] if lines else "no output")


def _summary(result: dict[str, Any]) -> dict[str, Any]:
    """Metadata Dagster shows for the materialization: the run and each audience's counts."""
    metadata: dict[str, Any] = {"run_id": result.get("run_id"), "status": result.get("status")}
    for audience in result.get("audiences", []):
        metadata[audience["audience_key"]] = dg.MetadataValue.json(
            {
                key: audience.get(key)
                for key in (
                    "status",
                    "adds_sent",
                    "removes_sent",
                    "adds_pending",
                    "removes_pending",
                )
            }
        )
    return metadata


defs = dg.Definitions(
    assets=[dbt_models, tiktok_custom_audiences],
    resources={"dbt": DbtCliResource(project_dir=dbt_project)},
)
