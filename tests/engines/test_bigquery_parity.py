"""The project builds on BigQuery (the crucible double) twice in a row, and what it builds equals
DuckDB's row for row.

One DuckDB build is the reference. Two `dbt build`s run against one emulator (the second on what
the first left: state tables kept, audience tables replaced). Then every table the sync job or a
user reads is compared as a multiset of rows, built_at left out: each audience model's own table
(hash or rejection per value), members, rejections, counts, the diff, the audience list and
summary, and the unit-test wrapper views over the seeds (normalise_phone, normalise_identifiers).

Slow (about ten minutes here: the emulator translates every statement with sqlglot), so marked
`slow`; skipped with the reason when dbt-bigquery or the emulator is not installed
(tests/engines/bigquery.py says how to install them).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.dbt_support import PROJECT_DIR, make_dbt_project
from tests.engines import bigquery as engine

UNAVAILABLE = engine.unavailable_reason()
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(UNAVAILABLE is not None, reason=str(UNAVAILABLE)),
]

DBT = str(Path(sys.executable).with_name("dbt"))

AUDIENCE_COLUMNS = [
    "audience_key", "source_column", "id_type", "id_hash", "reason_code", "reason",
    "masked_value", "value_length", "value_fingerprint",
]  # fmt: skip
# Table or view -> the columns compared (built_at, a build time, is left out everywhere).
COMPARED: dict[str, list[str]] = {
    "tiktok_audience_members": ["audience_key", "id_type", "id_hash"],
    "tiktok_rejected_identifiers": [
        "audience_key", "source_column", "reason_code", "reason", "masked_value",
        "value_length", "value_fingerprint",
    ],
    "tiktok_identifier_counts": [
        "audience_key", "source_column", "row_count", "empty_count", "valid_count",
        "rejected_count",
    ],
    "tiktok_audience_diff": [
        "audience_key", "audience_id", "advertiser_id", "api", "id_type", "id_hash", "action",
    ],
    "tiktok_audiences": [
        "audience_key", "audience_name", "api", "mode", "configured_audience_id",
        "advertiser_id", "retention_days",
    ],
    "tiktok_audience_summary": [
        "audience_key", "audience_name", "api", "mode", "audience_id", "advertiser_id",
        "row_count", "member_count", "empty_values", "rejected_values", "pending_adds",
        "pending_removes",
    ],
    "tiktok_orphaned_audiences": [
        "audience_key", "audience_id", "advertiser_id", "api", "member_count",
        "acknowledged_count",
    ],
    "normalise_phone": [
        "case_id", "raw_value", "country_code", "e164_digits", "reason_code", "id_hash",
    ],
    "normalise_identifiers": AUDIENCE_COLUMNS,
}  # fmt: skip


@dataclass
class Builds:
    duckdb_path: Path
    bigquery: engine.BigQueryEngine
    seconds: dict[str, float] = field(default_factory=dict)


def _dbt_build(workdir: Path, label: str, extra_env: dict[str, str] | None = None) -> float:
    env = {
        **os.environ,
        "DBT_PROFILES_DIR": str(workdir),
        "DBT_TARGET_PATH": str(workdir / "target"),
        "DBT_LOG_PATH": str(workdir / "logs"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        **(extra_env or {}),
    }
    started = time.monotonic()
    proc = subprocess.run(
        [DBT, "build", "--project-dir", str(PROJECT_DIR)],
        env=env,
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    seconds = time.monotonic() - started
    if proc.returncode != 0:
        raise AssertionError(
            f"dbt build ({label}) failed ({proc.returncode}):\n"
            f"{proc.stdout[-8000:]}\n{proc.stderr[-3000:]}"
        )
    return seconds


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Builds]:
    reference = make_dbt_project(tmp_path_factory.mktemp("duckdb"))
    seconds = {"duckdb": _dbt_build(reference.workdir, "duckdb", reference.env())}
    with engine.BigQueryEngine(tmp_path_factory.mktemp("crucible")) as bigquery:
        workdir = tmp_path_factory.mktemp("bigquery")
        output = bigquery.profile_output()
        profile = {"tiktok_sync": {"target": "bigquery", "outputs": {"bigquery": output}}}
        (workdir / "profiles.yml").write_text(json.dumps(profile))  # JSON is YAML
        seconds["bigquery_first"] = _dbt_build(workdir, "bigquery, first")
        seconds["bigquery_second"] = _dbt_build(workdir, "bigquery, second")
        rounded = {k: round(v, 1) for k, v in seconds.items()}
        print(f"\ndbt build wall seconds: {json.dumps(rounded)}")
        yield Builds(reference.db_path, bigquery, seconds)


def _value(value: Any) -> Any:
    return str(value) if isinstance(value, Decimal) else value


def _rows(rows: list[tuple[Any, ...]]) -> Counter[tuple[Any, ...]]:
    return Counter(tuple(_value(v) for v in row) for row in rows)


def _duckdb_rows(builds: Builds, sql: str) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(builds.duckdb_path), read_only=True) as con:
        return con.execute(sql).fetchall()


def _compare(builds: Builds, name: str, columns: list[str]) -> tuple[int, int]:
    select = ", ".join(columns)
    expected = _rows(_duckdb_rows(builds, f"select {select} from {name}"))
    actual = _rows(builds.bigquery.query(f"select {select} from {builds.bigquery.relation(name)}"))
    missing, extra = expected - actual, actual - expected
    assert not missing and not extra, (
        f"{name}: {sum(missing.values())} DuckDB rows missing on BigQuery, e.g. "
        f"{list(missing)[:3]}; {sum(extra.values())} rows only on BigQuery, e.g. {list(extra)[:3]}"
    )
    return sum(expected.values()), sum(actual.values())


def _audience_keys(builds: Builds) -> list[str]:
    return [str(k) for (k,) in _duckdb_rows(builds, "select audience_key from tiktok_audiences")]


@pytest.mark.parametrize("name", sorted(COMPARED))
def test_table_equals_duckdb(builds: Builds, name: str) -> None:
    counts = _compare(builds, name, COMPARED[name])
    print(f"{name}: duckdb {counts[0]} rows, bigquery {counts[1]} rows")


def test_audience_tables_equal_duckdb(builds: Builds) -> None:
    keys = _audience_keys(builds)
    assert keys, "the reference build has no audience"
    for key in keys:
        counts = _compare(builds, key, AUDIENCE_COLUMNS)
        print(f"{key}: duckdb {counts[0]} rows, bigquery {counts[1]} rows")


def _state_statements(relation: Callable[[str], str], mirror: str, add_only: str) -> list[str]:
    """The same sync state on both engines: registered TikTok ids (one of a model that no
    longer exists), acknowledged members (some desired, some not, one under an old id),
    unconfirmed adds and removes. Portable SQL; hashes starting with 0 are a deterministic
    subset of the members."""
    at = "cast('2026-01-02 03:04:05' as timestamp)"
    registry = relation("tiktok_sync_audience_registry")
    members = relation("tiktok_audience_members")
    keys = "audience_key, audience_id, advertiser_id, id_type, id_hash"
    acknowledged = (
        f"{relation('tiktok_sync_acknowledged_members')} ({keys}, acknowledged_at, run_id)"
    )
    unconfirmed = f"{relation('tiktok_sync_unconfirmed_changes')} ({keys}, action, sent_at, run_id)"
    ids = {
        mirror: "7100000000000000001",
        add_only: "7100000000000000002",
        "gone": "7100000000000000003",
    }
    registered = ", ".join(
        f"('{key}', '{id_}', '42', 'streaming', '{key}', {at}, 'r1')" for key, id_ in ids.items()
    )
    statements = [
        f"insert into {registry} (audience_key, audience_id, advertiser_id, api, audience_name,"
        f" created_at, created_by_run_id) values {registered}",
        f"insert into {acknowledged} values"
        f" ('gone', '{ids['gone']}', '42', 'EMAIL_SHA256', '{'f' * 64}', {at}, 'r1')",
    ]
    for key in (mirror, add_only):
        id_ = ids[key]
        of_key = f"from {members} where audience_key = '{key}'"
        statements += [
            f"insert into {acknowledged} select audience_key, '{id_}', '42', id_type, id_hash,"
            f" {at}, 'r1' {of_key} and id_hash < '1'",
            # no longer desired; and one acknowledged under an earlier TikTok id
            f"insert into {acknowledged} values"
            f" ('{key}', '{id_}', '42', 'EMAIL_SHA256', '{'f' * 64}', {at}, 'r1'),"
            f" ('{key}', '7000000000000000009', '42', 'EMAIL_SHA256', '{'e' * 64}', {at}, 'r0')",
            # unconfirmed: a remove of an acknowledged, still desired member, and an add of a
            # member that is not desired
            f"insert into {unconfirmed} select audience_key, '{id_}', '42', id_type, id_hash,"
            f" 'remove', {at}, 'r2' {of_key} and id_hash < '01'",
            f"insert into {unconfirmed} values"
            f" ('{key}', '{id_}', '42', 'EMAIL_SHA256', '{'d' * 64}', 'add', {at}, 'r2')",
        ]
    return statements


def test_views_over_sync_state_equal_duckdb(builds: Builds) -> None:
    """The diff, the summary and the orphan list with acknowledged and unconfirmed state in
    place (the views read state at query time, so no rebuild is needed). Runs last: it
    writes the same state rows into both warehouses."""
    modes = dict(
        _duckdb_rows(builds, "select mode, min(audience_key) from tiktok_audiences group by mode")
    )
    if not {"mirror", "add_only"} <= modes.keys():
        pytest.skip(f"needs a mirror and an add_only audience; the project has {sorted(modes)}")
    mirror, add_only = str(modes["mirror"]), str(modes["add_only"])
    with duckdb.connect(str(builds.duckdb_path)) as con:
        for statement in _state_statements(lambda name: name, mirror, add_only):
            con.execute(statement)
    for statement in _state_statements(builds.bigquery.relation, mirror, add_only):
        builds.bigquery.query(statement)
    actions = _duckdb_rows(
        builds, "select action, count(*) from tiktok_audience_diff group by action"
    )
    assert {action for action, _ in actions} == {"add", "remove"}, actions
    for name in ("tiktok_audience_targets", "tiktok_audience_diff", "tiktok_audience_summary",
                 "tiktok_orphaned_audiences"):  # fmt: skip
        columns = COMPARED.get(name) or ["audience_key", "audience_id", "advertiser_id"]
        counts = _compare(builds, name, columns)
        print(f"with state, {name}: duckdb {counts[0]} rows, bigquery {counts[1]} rows")


def test_hashes_are_lowercase_hex(builds: Builds) -> None:
    """BigQuery's SHA256 returns BYTES: to_hex must have made 64 lowercase hex characters."""
    bad = builds.bigquery.query(
        "select count(*) from "
        f"{builds.bigquery.relation('tiktok_audience_members')} "
        "where not regexp_contains(id_hash, r'^([0-9a-f]{64}|[0-9a-f]{32})$')"
    )
    assert bad == [(0,)]
