"""Audience models run without Postgres' JIT compiler, whatever the server's setting.

Compiling the normalisers' large expressions with LLVM costs Postgres more than it saves
(macros/audience/audience_session_settings.sql), so the audience materialization turns it off
for its own transaction. Here a real server JIT-compiles every query (all three cost thresholds
at 0) and logs every plan with auto_explain (pg_stat_statements does not count the JIT of a
CREATE TABLE AS); after `dbt build` of one demo audience, the plans of the audience's statements
must show no JIT section, while other plans on the same server do (it really was on for them).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.dbt_support import PROJECT_NAME, make_dbt_project
from tests.engines.postgres import SCHEMA, PostgresServer, unavailable_reason

pytestmark = pytest.mark.postgres

AUDIENCE = "demo_high_value_customers"  # emails and phones: both normalisers
EAGER_JIT = {
    "jit": "on",
    "jit_above_cost": "0",
    "jit_inline_above_cost": "0",
    "jit_optimize_above_cost": "0",
    "shared_preload_libraries": "auto_explain",
    "auto_explain.log_min_duration": "0",
    "auto_explain.log_nested_statements": "on",
    "auto_explain.log_level": "warning",  # the server logs warnings and worse
}


def test_audience_statements_run_without_jit_on_a_server_that_jits_all(
    tmp_path: Path,
) -> None:
    reason = unavailable_reason()
    if reason is not None:
        pytest.skip(f"postgres: {reason}")
    with PostgresServer(settings=EAGER_JIT) as server:
        project = make_dbt_project(tmp_path / "dbt")
        output = server.profile_output(schema=SCHEMA)
        profile = {PROJECT_NAME: {"target": "postgres", "outputs": {"postgres": output}}}
        (project.workdir / "profiles.yml").write_text(yaml.safe_dump(profile))
        # the audience and what it reads; no tests (they read seeds this build leaves out)
        select = ["--select", f"+{AUDIENCE}", "--resource-type", "seed", "--resource-type", "model"]
        project.run("build", *select)
        assert server.workdir is not None
        log = (server.workdir / "server.log").read_text(errors="replace")

    plans = log.split("duration: ")[1:]  # one auto_explain entry each
    audience = [plan for plan in plans if AUDIENCE in plan and "e164_digits" in plan]
    assert audience, "no plan of the audience's normalising statement in the server log"
    assert any("JIT:" in plan for plan in plans), "the server JIT-compiled nothing: no proof"
    jitted = [plan[:300] for plan in audience if "JIT:" in plan]
    assert jitted == [], f"{len(jitted)} audience statements JIT-compiled: {jitted[:1]}"
