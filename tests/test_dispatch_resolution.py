"""On Redshift and Databricks, every dispatched macro resolves to the implementation we mean.

Neither warehouse runs here. dbt-redshift declares postgres as its parent adapter and
dbt-databricks declares spark, so `adapter.dispatch(..., 'tiktok_sync')` gives Redshift the
postgres__ SQL (run on a real PostgreSQL server by tests/engines/test_postgres_parity.py) and
Databricks the spark__ SQL (run on a real local Spark), unless the package has a redshift__ or
databricks__ of its own where the engine differs. This test pins which one each engine gets.

dbt compiles the integration project for a `redshift` and a `databricks` target whose hosts
cannot exist (`.invalid`, RFC 2606) with `--no-populate-cache` (no listing of schemas before
the run) and `--no-introspect` (a model that queried the warehouse while compiling would fail):
compiling renders SQL and opens nothing, and the test also finds no connection opening in dbt's
log. The Databricks target names a SQL warehouse, for which dbt-databricks does not ask the
cluster for its runtime version. Then:

- `integration_tests/analyses/dispatch_resolution.sql` lists what each dispatched macro
  resolved to; it must equal EXPECTED, which names every dispatched macro of the package, so a
  new one (or a new postgres__/spark__ that a child adapter would now inherit) fails here until
  its Redshift and Databricks implementation is chosen on purpose;
- the compiled SQL of the normaliser wrapper models (integration_tests/models/
  unit_test_wrappers/) must carry each implementation's spelling: what would run.

Each adapter is skipped, with the reason, where it is not installed
(`pip install -e '.[redshift]'`, `'.[databricks]'`; `make test-redshift-databricks` installs both
in a venv of their own). About 20-30 s per adapter.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.dbt_support import DBT, PROJECT_DIR, PROJECT_NAME, ROOT
from tests.reference_normalisation import UNICODE_SPACES

# Profile outputs that dbt can compile with and nothing can connect to.
OUTPUTS: dict[str, dict[str, object]] = {
    "redshift": {
        "type": "redshift",
        "host": "redshift.tiktok-sync.invalid",
        "port": 5439,
        "user": "nobody",
        "password": "not-a-password",
        "dbname": "dev",
        "schema": "tiktok_sync",
        "threads": 1,
    },
    "databricks": {
        "type": "databricks",
        "host": "dbc-tiktok-sync.cloud.databricks.invalid",
        # a SQL warehouse: dbt-databricks queries the runtime version of clusters only
        "http_path": "/sql/1.0/warehouses/0000000000000000",
        "token": "not-a-token",
        "catalog": "main",
        "schema": "tiktok_sync",
        "threads": 1,
    },
}

# What each dispatched macro must resolve to. redshift__ / databricks__ entries are where
# the engine differs from its parent (the macro's comment says why, with the engine's docs);
# postgres__ / spark__ entries run the parent's tested SQL; default__ is what Postgres and
# Spark themselves run where they have no implementation of their own.
EXPECTED: dict[str, dict[str, str]] = {
    "redshift": {
        "audience_session_settings": "redshift__audience_session_settings",  # no jit setting
        "check_sync_lock": "redshift__check_sync_lock",  # no advisory locks: the lease
        "create_sync_table_indexes": "redshift__create_sync_table_indexes",  # no indexes
        "email_identifiers_select": "default__email_identifiers_select",
        "email_rejection_reason": "default__email_rejection_reason",
        "has_non_whitespace": "default__has_non_whitespace",
        "hash_rejection_reason": "default__hash_rejection_reason",
        "is_hex_hash": "default__is_hex_hash",
        "long_string_column_type": "redshift__long_string_column_type",  # TEXT is 256 bytes
        "maid_rejection_reason": "default__maid_rejection_reason",
        "maid_shaped_select": "default__maid_shaped_select",
        "normalize_email": "default__normalize_email",
        "optimisation_fence": "redshift__optimisation_fence",  # no OFFSET 0
        "phone_normalised_select": "default__phone_normalised_select",
        "regex_cache_order": "redshift__regex_cache_order",  # a subquery's ORDER BY orders nothing
        "regex_full_match": "postgres__regex_full_match",
        "regex_literal": "redshift__regex_literal",  # backslashes escape in literals
        "regex_replace_all": "redshift__regex_replace_all",  # 4th argument is a position
        "remove_whitespace": "default__remove_whitespace",
        "replace_audience_slice": "default__replace_audience_slice",
        "replace_audience_table": "default__replace_audience_table",
        "sha256_hex": "redshift__sha256_hex",  # SHA2(), no sha256()/encode()
        "string_cast_type": "redshift__string_cast_type",  # VARCHAR keeps the length
        "string_literal": "redshift__string_literal",  # backslashes escape in literals
        "sync_table_options": "default__sync_table_options",
        "upsert_audience_setting": "default__upsert_audience_setting",
    },
    "databricks": {
        "audience_session_settings": "default__audience_session_settings",
        "check_sync_lock": "default__check_sync_lock",
        "create_sync_table_indexes": "default__create_sync_table_indexes",
        "email_identifiers_select": "default__email_identifiers_select",
        "email_rejection_reason": "default__email_rejection_reason",
        "has_non_whitespace": "default__has_non_whitespace",
        "hash_rejection_reason": "default__hash_rejection_reason",
        "is_hex_hash": "default__is_hex_hash",
        "long_string_column_type": "default__long_string_column_type",
        "maid_rejection_reason": "default__maid_rejection_reason",
        "maid_shaped_select": "default__maid_shaped_select",
        "normalize_email": "default__normalize_email",
        "optimisation_fence": "default__optimisation_fence",
        "phone_normalised_select": "default__phone_normalised_select",
        "regex_cache_order": "default__regex_cache_order",
        "regex_full_match": "spark__regex_full_match",
        "regex_literal": "spark__regex_literal",
        "regex_replace_all": "default__regex_replace_all",
        "remove_whitespace": "spark__remove_whitespace",
        "replace_audience_slice": "databricks__replace_audience_slice",  # no transaction
        "replace_audience_table": "databricks__replace_audience_table",  # no renames
        "sha256_hex": "spark__sha256_hex",
        "string_cast_type": "default__string_cast_type",
        "string_literal": "spark__string_literal",
        # Spark's shared tables are partitioned by audience: harmless on Delta, which
        # replaces slices with MERGE all the same
        "sync_table_options": "spark__sync_table_options",
        "upsert_audience_setting": "databricks__upsert_audience_setting",  # MERGE
    },
}

# The characters remove_whitespace deletes, as a bracket expression: the six ASCII
# whitespace characters and the Unicode spaces.
WHITESPACE_CLASS = f"[\t\n\x0b\x0c\r {UNICODE_SPACES}]"

# What the compiled normaliser wrappers must (and must not) contain on each engine, per
# dispatched macro: the spelling of the implementation EXPECTED names.
FINGERPRINTS: dict[str, dict[str, tuple[list[str], list[str]]]] = {
    "redshift": {
        # SHA2 to hex text, lower-cased; PostgreSQL's sha256/convert_to/encode do not exist
        "sha256_hex": (["lower(sha2("], ["encode(", "convert_to(", "sha256("]),
        # three arguments: a fourth would be the start position, not postgres__'s 'g'
        "regex_replace_all": (["regexp_replace("], [", 'g')"]),
        # whitespace as the characters themselves, and no backslash anywhere: Redshift
        # would read one as an escape in the literal
        "regex_literal": ([f"'{WHITESPACE_CLASS}'"], ["\\"]),
        "regex_full_match": ([" ~ '^("], ["regexp_like(", " rlike "]),
        "optimisation_fence": ([], ["offset 0"]),
        "regex_cache_order": ([], ["order by calling_code"]),
        "string_cast_type": (["cast(email as varchar)", "cast(raw_value as varchar)"], []),
    },
    "databricks": {
        "sha256_hex": (["sha2("], ["encode(", "lower(sha2("]),
        # Spark reads backslash escapes in literals: every regex backslash doubled
        # the Unicode spaces as Java's code point escapes, never as the characters
        "regex_literal": (["'[\\\\t\\\\n\\\\x0B\\\\f\\\\r \\\\x{00a0}\\\\x{1680}"], ["\u00a0"]),
        # Java's \v is a class of vertical whitespace: the vertical tab as \x0B
        "remove_whitespace": (["\\\\x0B"], ["\\\\v"]),
        "regex_full_match": ([" rlike '\\\\A("], [" ~ '", "regexp_like("]),
        "regex_replace_all": (["regexp_replace("], [", 'g')"]),
        "optimisation_fence": ([], ["offset 0"]),
        "regex_cache_order": ([], ["order by calling_code"]),
        "string_cast_type": (["cast(email as string)"], []),
    },
}

WRAPPERS = ["normalise_identifiers", "normalise_phone"]
PIP_EXTRA = {
    "redshift": "pip install -e '.[redshift]'",
    "databricks": "pip install -e '.[databricks]'",
}


def dispatched_macros() -> set[str]:
    """Every macro the package dispatches, read from its source."""
    pattern = re.compile(r"adapter\.dispatch\(\s*'(\w+)'\s*,\s*'tiktok_sync'\s*\)")
    names: set[str] = set()
    for path in (ROOT / "macros").rglob("*.sql"):
        names.update(pattern.findall(path.read_text()))
    return names


@dataclass
class Compiled:
    adapter: str
    resolution: dict[str, str]
    wrappers: dict[str, str]
    opened_connections: int


def _read(path: Path) -> str:
    """The file as written: no newline translation (a carriage return stays one)."""
    with path.open(newline="") as file:
        return file.read()


def _adapter_missing(adapter: str) -> str | None:
    if importlib.util.find_spec(f"dbt.adapters.{adapter}") is None:
        return f"dbt-{adapter} is not installed ({PIP_EXTRA[adapter]})"
    return None


@pytest.fixture(
    scope="module",
    params=[
        pytest.param("databricks", marks=pytest.mark.databricks),
        pytest.param("redshift", marks=pytest.mark.redshift),
    ],
)
def compiled(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Compiled]:
    adapter: str = request.param
    missing = _adapter_missing(adapter)
    if missing is not None:
        pytest.skip(missing)
    workdir = tmp_path_factory.mktemp(f"dispatch-{adapter}")
    profile = {PROJECT_NAME: {"target": adapter, "outputs": {adapter: OUTPUTS[adapter]}}}
    (workdir / "profiles.yml").write_text(yaml.safe_dump(profile))
    env = {
        **os.environ,
        "DBT_PROFILES_DIR": str(workdir),
        "DBT_TARGET_PATH": str(workdir / "target"),
        "DBT_LOG_PATH": str(workdir / "logs"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    proc = subprocess.run(
        [
            DBT,
            "--log-format-file",
            "json",
            "--log-level-file",
            "debug",
            "compile",
            "--project-dir",
            str(PROJECT_DIR),
            "--target",
            adapter,
            "--no-populate-cache",
            "--no-introspect",
            "--select",
            "unit_test_wrappers",
            "dispatch_resolution",
        ],
        env=env,
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, (
        f"dbt compile --target {adapter} failed ({proc.returncode}):\n"
        f"{proc.stdout[-6000:]}\n{proc.stderr[-3000:]}"
    )
    compiled_dir = workdir / "target" / "compiled" / PROJECT_NAME
    analysis = _read(compiled_dir / "analyses" / "dispatch_resolution.sql")
    resolution = dict(
        re.findall(r"select '(\w+)' as dispatched_macro, '(\w+)' as implementation", analysis)
    )
    wrappers = {
        name: _read(compiled_dir / "models" / "unit_test_wrappers" / f"{name}.sql")
        for name in WRAPPERS
    }
    events = [
        json.loads(line)
        for line in (workdir / "logs" / "dbt.log").read_text().splitlines()
        if line.startswith("{")
    ]
    opened = sum(1 for event in events if event["info"]["name"] == "NewConnectionOpening")
    yield Compiled(adapter, resolution, wrappers, opened)


def test_nothing_connects_to_the_warehouse(compiled: Compiled) -> None:
    assert compiled.opened_connections == 0


def test_every_dispatched_macro_is_listed_for_both_engines() -> None:
    """A dispatched macro without an expected implementation fails here, not silently."""
    names = dispatched_macros()
    for adapter, expected in EXPECTED.items():
        assert set(expected) == names, (
            f"{adapter}: add {sorted(names - set(expected))}, remove "
            f"{sorted(set(expected) - names)} in EXPECTED"
        )


def test_each_dispatched_macro_resolves_to_the_intended_implementation(compiled: Compiled) -> None:
    adapter = compiled.adapter
    # every dispatched macro has a default__ (the analysis lists those), so both lists agree
    assert set(compiled.resolution) == dispatched_macros()
    wrong = {
        name: f"{compiled.resolution.get(name)} (expected {implementation})"
        for name, implementation in EXPECTED[adapter].items()
        if compiled.resolution.get(name) != implementation
    }
    assert not wrong, f"{adapter}: dispatch resolved differently: {wrong}"


def test_the_compiled_normalisers_carry_each_implementation(compiled: Compiled) -> None:
    adapter = compiled.adapter
    sql = "\n".join(compiled.wrappers.values())
    problems = []
    for macro, (present, absent) in FINGERPRINTS[adapter].items():
        problems += [f"{macro}: no {text!r}" for text in present if text not in sql]
        problems += [f"{macro}: has {text!r}" for text in absent if text in sql]
    assert not problems, f"{adapter}:\n" + "\n".join(problems)
