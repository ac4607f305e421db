"""A long-lived dbt process for tests that run dbt many times (the soak, hostile input).

Starting dbt costs seconds of imports and parsing each time; this process imports dbt once and
runs each command with `dbtRunner` (dbt's programmatic entry point, the same code as the `dbt`
command), so a `dbt run --select` of a few models takes about a second. Between commands it
closes dbt-duckdb's shared database handle, which otherwise keeps the warehouse file locked for
as long as the process lives, so `tiktok-sync` can open it in between.

Protocol: one JSON array of dbt arguments per line on stdin; one JSON object per line on the
original stdout: {"success": bool, "failures": ["<node>: <message>", ...], "error": str|null}.
dbt's own console output goes to stderr (the caller points it at a log file).
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any


def _close_duckdb() -> None:
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager as Manager

    with Manager._LOCK:
        environment = Manager._ENV
        Manager._ENV = None
    if environment is not None:
        environment.close()


def _failures(result: Any) -> list[str]:
    out: list[str] = []
    for item in getattr(result, "results", None) or []:
        status = str(getattr(item, "status", ""))
        if status.lower() in ("error", "fail", "runtimeerr", "runtime error"):
            node = getattr(getattr(item, "node", None), "name", "?")
            out.append(f"{node}: {getattr(item, 'message', '')}")
    return out


def main() -> None:
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # dbt prints to stdout: send it to stderr, keep stdout for the protocol
    sys.stdout = sys.stderr
    from dbt.cli.main import dbtRunner

    runner = dbtRunner()
    for line in sys.stdin:
        args = json.loads(line)
        try:
            outcome = runner.invoke(args)
            reply = {
                "success": bool(outcome.success),
                "failures": _failures(outcome.result),
                "error": None if outcome.exception is None else str(outcome.exception),
            }
        except BaseException as exc:  # report, keep serving
            reply = {"success": False, "failures": [], "error": f"{type(exc).__name__}: {exc}"}
        finally:
            _close_duckdb()
        protocol.write(json.dumps(reply) + "\n")


if __name__ == "__main__":
    main()
