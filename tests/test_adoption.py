"""A new user's dbt project, set up exactly as the README's install section says.

A throwaway project of its own (a seed and a staging model standing in for the user's tables,
their profile), `packages.yml` pointing at this checkout, the README's one line of project
config and the README's audience model, copied from the README itself. Then what the README
says to run: `dbt deps`, `dbt build`, `tiktok-sync plan`, `tiktok-sync run` (the installed
command, as a subprocess) against the emulator. The user must get their audience with exactly
its members, and nothing of the package's demo and test material: not in their warehouse, not
in their TikTok advertiser.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from sync.emulator import Emulator, EmulatorConfig
from tests.cli_support import _CLEARED_ENV, ADVERTISER, TOKEN, built_warehouse
from tests.dbt_support import DBT, PROJECT_DIR, ROOT, install_package

TIKTOK_SYNC = str(Path(sys.executable).with_name("tiktok-sync"))
README = (ROOT / "README.md").read_text()

# The user's CRM: two lapsed VIPs (one phone national with its country, one international),
# one VIP who ordered recently and one lapsed customer of low value.
CUSTOMERS = """\
customer_id,email,phone,country_code,lifetime_value,last_order_at
1,Ada.Lovelace@Example.com ,020 7946 0958,GB,2500,2020-01-15
2,grace@example.org,+1 (657) 777-0000,,1200,2021-06-01
3,recent@example.com,+33 1 42 68 53 00,,5000,2999-01-01
4,small@example.com,+49 30 901820,,10,2020-01-01
"""
EXPECTED = {
    "EMAIL_SHA256": {"ada.lovelace@example.com", "grace@example.org"},
    "PHONE_SHA256": {"442079460958", "16577770000"},
}
STAGING = "select * from {{ ref('crm_customers') }}\n"
PROFILE = """\
acme:
  target: dev
  outputs:
    dev:
      type: duckdb
      path: "{path}"
      threads: 1
"""


def readme_block(language: str, first_line: str) -> str:
    """The README's fenced `language` block that starts with `first_line`."""
    blocks = re.findall(rf"```{language}\n(.*?)```", README, flags=re.DOTALL)
    found = [b for b in blocks if b.startswith(first_line)]
    assert len(found) == 1, f"README: one ```{language} block starting {first_line!r}"
    return found[0]


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class Adopted:
    project: Path
    warehouse: Path
    emulator: Emulator
    plan: subprocess.CompletedProcess[str]
    run: subprocess.CompletedProcess[str]


def user_project(root: Path) -> Path:
    project = root / "acme_analytics"
    (project / "seeds").mkdir(parents=True)
    (project / "models" / "staging").mkdir(parents=True)
    (project / "models" / "audiences").mkdir()
    config = readme_block("yaml", "# dbt_project.yml of your dbt project")
    (project / "dbt_project.yml").write_text(
        "name: acme_analytics\nversion: '1.0.0'\nconfig-version: 2\nprofile: acme\n"
        + config.replace("your_project:", "acme_analytics:")
    )
    packages = readme_block("yaml", "# packages.yml of your dbt project")
    assert "- local: " in packages
    (project / "packages.yml").write_text(f"packages:\n  - local: {json.dumps(str(ROOT))}\n")
    (project / "profiles.yml").write_text(PROFILE.format(path=root / "acme.duckdb"))
    (project / "seeds" / "crm_customers.csv").write_text(CUSTOMERS)
    (project / "models" / "staging" / "stg_crm__customers.sql").write_text(STAGING)
    audience = readme_block("sql", "-- models/audiences/lapsed_vip_customers.sql")
    (project / "models" / "audiences" / "lapsed_vip_customers.sql").write_text(audience)
    return project


def user_env(project: Path, api_base: str) -> dict[str, str]:
    """A user's shell in their project: no DBT_* pointing at ours, the README's two exports."""
    env = {k: v for k, v in os.environ.items() if k not in _CLEARED_ENV}
    env.update(
        DBT_SEND_ANONYMOUS_USAGE_STATS="false",
        TIKTOK_ACCESS_TOKEN=TOKEN,
        TIKTOK_ADVERTISER_ID=ADVERTISER,
        TIKTOK_API_BASE=api_base,
        TIKTOK_CREDENTIALS_FILE=str(project / "no-credentials.json"),
    )
    env.pop("TIKTOK_SYNC_DUCKDB_PATH", None)
    return env


def user_runs(project: Path, env: dict[str, str], *cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=project, env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def adopted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Adopted]:
    root = tmp_path_factory.mktemp("adoption")
    project = user_project(root)
    with Emulator(EmulatorConfig(qps=0)) as emulator:
        env = user_env(project, emulator.base_url)
        install_package(project)  # dbt deps
        build = user_runs(project, env, DBT, "build")
        assert build.returncode == 0, build.stdout[-4000:]
        plan = user_runs(project, env, TIKTOK_SYNC, "plan")
        run = user_runs(project, env, TIKTOK_SYNC, "run")
        yield Adopted(project, root / "acme.duckdb", emulator, plan, run)
        assert emulator.internal_errors() == []


def test_the_readme_install_steps_sync_exactly_the_users_audience(adopted: Adopted) -> None:
    assert adopted.plan.returncode == 0, adopted.plan.stdout + adopted.plan.stderr
    assert "lapsed_vip_customers" in adopted.plan.stdout
    assert adopted.run.returncode == 0, adopted.run.stdout + adopted.run.stderr
    audiences = adopted.emulator.audiences(ADVERTISER)
    assert [a["name"] for a in audiences] == ["Lapsed VIPs"], audiences
    members = adopted.emulator.members(str(audiences[0]["audience_id"]))
    expected = {t: {sha256(v) for v in values} for t, values in EXPECTED.items()}
    assert {t: h for t, h in members.items() if h} == expected


def test_none_of_the_demo_or_test_material_reaches_the_users_warehouse(adopted: Adopted) -> None:
    with duckdb.connect(str(adopted.warehouse), read_only=True) as con:
        relations = {
            r[0] for r in con.sql("select table_name from information_schema.tables").fetchall()
        }
    ours = {p.stem for p in PROJECT_DIR.glob("models/**/*.sql")}
    ours |= {p.stem for p in PROJECT_DIR.glob("seeds/**/*.csv")}
    assert ours and not relations & ours, relations & ours
    users = {"crm_customers", "stg_crm__customers", "lapsed_vip_customers"}
    assert users <= relations
    # Besides the user's own, only the package's tables and views, all named tiktok_*.
    assert {r for r in relations - users if not r.startswith("tiktok_")} == set()


def run_on_a_copy(adopted: Adopted, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """`dbt run` of the staging model in a copy of the user's project, with the models the test
    wrote under tmp_path/acme_analytics, on a copy of the built warehouse (where the run would
    succeed but for the package's checks)."""
    project = tmp_path / "acme_analytics"
    shutil.copytree(adopted.project, project, symlinks=True, dirs_exist_ok=True)
    shutil.copy(adopted.warehouse, tmp_path / "copy.duckdb")
    (project / "profiles.yml").write_text(PROFILE.format(path=tmp_path / "copy.duckdb"))
    env = user_env(project, "http://127.0.0.1:9/")
    return user_runs(project, env, DBT, "run", "--select", "stg_crm__customers")


def test_a_model_with_tiktok_settings_that_is_no_audience_fails_the_build(
    adopted: Adopted, tmp_path: Path
) -> None:
    marketing = tmp_path / "acme_analytics" / "models" / "marketing"
    marketing.mkdir(parents=True)
    (marketing / "vip_emails.sql").write_text(
        "{{ config(meta={'tiktok': {'audience_name': 'VIPs'}}) }}\n"
        "select email from {{ ref('stg_crm__customers') }}\n"
    )
    proc = run_on_a_copy(adopted, tmp_path)
    assert proc.returncode != 0, proc.stdout[-3000:]
    assert "'vip_emails' (models/marketing/vip_emails.sql, materialized 'view')" in proc.stdout
    assert "materialized='tiktok_audience'" in proc.stdout


def test_two_models_in_one_tiktok_audience_fail_the_build_naming_both(
    adopted: Adopted, tmp_path: Path
) -> None:
    audiences = tmp_path / "acme_analytics" / "models" / "audiences"
    audiences.mkdir(parents=True)
    emails = "select email from {{ ref('stg_crm__customers') }}\n"
    # The README's audience's name again, as a second streaming audience of the same advertiser.
    (audiences / "lapsed_vips_again.sql").write_text(
        "{{ config(meta={'tiktok': {'audience_name': 'Lapsed VIPs'}}) }}\n" + emails
    )
    # Two models configured into one existing TikTok audience.
    for model in ("vip_emails", "vip_emails_too"):
        (audiences / f"{model}.sql").write_text(
            "{{ config(meta={'tiktok': {'audience_id': '7000000000000000001'}}) }}\n" + emails
        )
    # A customer-file audience may share a streaming one's name: TikTok keeps them apart by type.
    (audiences / "lapsed_vips_file.sql").write_text(
        "{{ config(meta={'tiktok': {'audience_name': 'VIP file', 'api': 'customer_file'}}) }}\n"
        + emails
    )
    (audiences / "vip_file_streaming.sql").write_text(
        "{{ config(meta={'tiktok': {'audience_name': 'VIP file'}}) }}\n" + emails
    )

    proc = run_on_a_copy(adopted, tmp_path)

    assert proc.returncode != 0, proc.stdout[-3000:]
    output = " ".join(proc.stdout.split())  # dbt wraps long messages
    assert "models vip_emails, vip_emails_too all set meta.tiktok.audience_id" in output
    assert (
        "models lapsed_vip_customers, lapsed_vips_again would all create the streaming "
        "audience named 'Lapsed VIPs'" in output
    )
    assert "VIP file" not in output
    assert "a distinct meta.tiktok.audience_name" in output


def test_the_command_the_demo_prints_plans_on_the_demo_warehouse(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import demo
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    warehouse = built_warehouse(tmp_path_factory)
    copy = tmp_path / "demo.duckdb"
    shutil.copy(warehouse.db_path, copy)
    monkeypatch.setenv("DBT_PROFILES_DIR", str(warehouse.workdir))
    monkeypatch.setenv("TIKTOK_SYNC_DUCKDB_PATH", str(copy))
    monkeypatch.setenv("TIKTOK_ADVERTISER_ID", ADVERTISER)  # as the demo sets it
    command = demo.demo_command("plan")
    # Only what the printed command sets: none of the variables it names, nor a token.
    named = (*_CLEARED_ENV, "TIKTOK_SYNC_DUCKDB_PATH")
    env = {k: v for k, v in os.environ.items() if k not in named}
    proc = subprocess.run(
        command, shell=True, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "demo_high_value_customers" in proc.stdout
