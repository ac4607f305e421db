"""The literals the package writes for Redshift read back as the values meant.

Redshift reads backslash escapes in ordinary string literals, as PostgreSQL 8.0 did: its docs
double every regex backslash in SQL (https://docs.aws.amazon.com/redshift/latest/dg/REGEXP_REPLACE.html)
and its QUOTE_LITERAL doubles backslashes
(https://docs.aws.amazon.com/redshift/latest/dg/r_QUOTE_LITERAL.html). PostgreSQL reads ordinary
literals by that rule too when standard_conforming_strings is off, and a real PostgreSQL server
runs here (tests/engines/postgres.py). So dbt compiles, for a redshift target that cannot connect
(as in tests/test_dispatch_resolution.py), `string_literal(v)` and
`remove_whitespace(string_literal(v))` for hostile values, and that SQL runs on PostgreSQL with
standard_conforming_strings off and REGEXP_REPLACE given Redshift's three-argument meaning
(every match replaced). Each literal must read back as its value, and whitespace removal must
delete the six ASCII whitespace characters and the Unicode spaces (U+00A0, ...) and nothing
else (not `v`, `t`, `x` or a backslash, and not U+2028, which the normaliser rejects instead).

What this cannot show: Redshift's own lexer and regex engine, for which PostgreSQL's stand in.
Skipped, with the reason, without dbt-redshift or PostgreSQL.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.dbt_support import DBT, PROJECT_DIR, PROJECT_NAME
from tests.engines.postgres import PostgresServer, unavailable_reason
from tests.reference_normalisation import UNICODE_SPACES

REDSHIFT_MISSING = (
    "dbt-redshift is not installed (pip install -e '.[redshift]')"
    if importlib.util.find_spec("dbt.adapters.redshift") is None
    else None
)
pytestmark = [
    pytest.mark.redshift,
    pytest.mark.postgres,
    pytest.mark.skipif(REDSHIFT_MISSING is not None, reason=f"Redshift: {REDSHIFT_MISSING}"),
    pytest.mark.skipif(
        unavailable_reason() is not None, reason=f"PostgreSQL: {unavailable_reason()}"
    ),
]

CASES = [
    "plain@example.com",
    "it's",
    "ends with a backslash\\",
    "backslash quote \\'; select 1; --",
    "two backslashes \\\\ and a quote ''",
    "escape look-alikes \\t \\n \\v \\f \\r \\x0B \\013",
    "vtnfr v t n f r",
    " space\ttab\nline feed\x0bvertical tab\x0cform feed\rcarriage return ",
    "\r\n",
    "no-break\u00a0space and line\u2028separator",
    "\ufeffbom, ideographic\u3000space, thin\u2009space, zero\u200bwidth \\x{00a0} \\u00a0",
    "ünïcödé ✓",
    "$$ dollar $tag$ -- not a comment /* nor this */ ; %s %% _",
]
WHITESPACE = re.compile(f"[\t\n\x0b\x0c\r {UNICODE_SPACES}]")
TEMPLATE = """
{%- for value in var('literal_cases') %}
select {{ loop.index0 }} as case_id,
    {{ tiktok_sync.string_literal(value) }} as value_read,
    {{ tiktok_sync.remove_whitespace(tiktok_sync.string_literal(value)) }} as compact
{%- if not loop.last %}
union all
{%- endif %}
{%- endfor %}
"""
REDSHIFT_OUTPUT = {
    "type": "redshift",
    "host": "redshift.tiktok-sync.invalid",
    "port": 5439,
    "user": "nobody",
    "password": "not-a-password",
    "dbname": "dev",
    "schema": "tiktok_sync",
    "threads": 1,
}


def compile_for_redshift(workdir: Path) -> str:
    """The SQL of TEMPLATE over CASES as dbt compiles it for Redshift (nothing connects)."""
    profile = {PROJECT_NAME: {"target": "redshift", "outputs": {"redshift": REDSHIFT_OUTPUT}}}
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
            "compile",
            "--quiet",
            "--project-dir",
            str(PROJECT_DIR),
            "--no-populate-cache",
            "--no-introspect",
            "--inline",
            TEMPLATE,
            "--vars",
            json.dumps({"literal_cases": CASES}),
        ],
        env=env,
        cwd=PROJECT_DIR,
        capture_output=True,  # bytes: a carriage return in the SQL must stay one
        timeout=600,
    )
    stdout, stderr = proc.stdout.decode(), proc.stderr.decode()
    assert proc.returncode == 0, f"dbt compile failed:\n{stdout[-4000:]}\n{stderr[-2000:]}"
    return stdout


def test_redshift_literals_read_back_as_their_values(tmp_path: Path) -> None:
    import psycopg2

    sql = compile_for_redshift(tmp_path)
    # nothing in CASES needs a regex backslash, and each value's backslashes are doubled
    assert "regexp_replace(" in sql and ", 'g')" not in sql
    with PostgresServer() as server:
        connection = psycopg2.connect(**server.connection_kwargs())
        try:
            connection.autocommit = True
            with connection.cursor() as cursor:
                cursor.execute("set standard_conforming_strings = off")
                cursor.execute("set escape_string_warning = off")
                cursor.execute("create schema redshift_like")
                cursor.execute(
                    "create function redshift_like.regexp_replace(text, text, text) returns text"
                    " language sql immutable as"
                    " 'select pg_catalog.regexp_replace($1, $2, $3, ''g'')'"
                )
                # ahead of pg_catalog: the three-argument form replaces every match, as on Redshift
                cursor.execute("set search_path = redshift_like, pg_catalog")
                cursor.execute(f"select case_id, value_read, compact from ({sql}) cases")
                rows = sorted(cursor.fetchall())
        finally:
            connection.close()
    assert [row[0] for row in rows] == list(range(len(CASES)))
    for case_id, value_read, compact in rows:
        value = CASES[case_id]
        assert value_read == value, f"case {case_id}: read back {value_read!r}"
        assert compact == WHITESPACE.sub("", value), f"case {case_id}: {compact!r}"
