"""Airflow: `dbt build`, then `tiktok-sync run --json`, once a day.

Copy this file into your DAGs folder and set DBT_PROJECT_DIR (and DBT_PROFILES_DIR if your
profiles.yml is elsewhere) in the workers' environment. Written for Airflow 3 (`airflow.sdk`); on
Airflow 2 import DAG and task from `airflow.decorators`/`airflow`, BashOperator from
`airflow.operators.bash` and AirflowFailException from `airflow.exceptions`.

`dbt_build` is a BashOperator: Airflow fails it on any non-zero exit, so the sync never reads a
half-built diff. `tiktok_sync_run` reads the sync's exit code first, then its JSON:

  0  every change applied                      -> success; the JSON goes to XCom
  1  some batches pending (TikTok unreachable,  -> AirflowException: retried after retry_delay;
     throttled, a timeout); nothing is lost       the next run sends what is pending
  2  configuration, authorisation, a guard      -> AirflowFailException: failed without retries,
     refused the run (nothing sent), an           a human must act (re-authorise, fix the model,
     audience deleted at TikTok                   or allow the removal)

The token comes from the environment (TIKTOK_ACCESS_TOKEN, TIKTOK_ADVERTISER_ID; an Airflow
connection or secrets backend can set them) or the credentials file `tiktok-sync auth` wrote;
nothing here prints it. Tested by tests/test_orchestrators.py (`make test-orchestrators`).
"""

from __future__ import annotations

import json
import os
import subprocess
from datetime import datetime, timedelta
from typing import Any

from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG, task
from airflow.sdk.exceptions import AirflowException, AirflowFailException

DBT_PROJECT_DIR = os.environ.get("DBT_PROJECT_DIR", ".")


@task(task_id="tiktok_sync_run")
def tiktok_sync_run() -> dict[str, Any]:
    """`tiktok-sync run --json` in the dbt project; its JSON object is the task's XCom."""
    # stdout holds exactly one JSON object; progress and the one-line error go to stderr,
    # which lands in the task log.
    proc = subprocess.run(
        ["tiktok-sync", "run", "--json", "--project-dir", DBT_PROJECT_DIR],
        capture_output=True,
        text=True,
        check=False,
    )
    print(proc.stderr)
    try:
        result: dict[str, Any] = json.loads(proc.stdout)
    except json.JSONDecodeError:
        result = {}
    if proc.returncode == 0:
        return result
    message = _error_message(result, proc.stderr)
    if proc.returncode == 1:
        raise AirflowException(
            f"tiktok-sync run: batches pending, the next run sends them: {message}"
        )
    raise AirflowFailException(f"tiktok-sync run needs a human (exit {proc.returncode}): {message}")


# The same function is in the Dagster example: each example is one file to copy.
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


with DAG(
    dag_id="tiktok_audience_sync",
    schedule="@daily",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    # Only one sync at a time (a second would exit 2 on the warehouse's lock anyway).
    max_active_runs=1,
    # Exit 1 leaves batches pending that the next run sends; wait a while before that run (the
    # README's "Limits": no back-to-back runs after timeouts).
    default_args={"retries": 2, "retry_delay": timedelta(minutes=15)},
) as dag:
    dbt_build = BashOperator(
        task_id="dbt_build",
        bash_command="dbt build",
        cwd=DBT_PROJECT_DIR,
        # No exit code skips the task (the default skips on 99): every failure fails it.
        skip_on_exit_code=None,
    )
    dbt_build >> tiktok_sync_run()
