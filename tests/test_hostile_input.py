"""Hostile input: what a careless or malicious audience model, config or command line can hold.

The promise (README "Guarantees", "Nothing invalid sent"): every value is either normalised to a
valid hash or rejected with a reason; nothing malformed reaches TikTok, no SQL is injected anywhere,
and the user sees a one-line reason, never a traceback. A throwaway copy of the project holds
audiences over a corpus of quotes and SQL metacharacters, NUL bytes, 10,000-character strings, emoji
and right-to-left text, homoglyphs and full-width characters, mixed-case and wrong-length hashes,
and audience names that try SQL and Jinja injection; dbt builds it for real (its data tests on the
member tables included), and `tiktok-sync run` syncs it to the emulator, whose request log shows
every identifier TikTok received.

Invalid UTF-8 cannot be stored in DuckDB text (the engine refuses it at the source), so the
corpus carries it as a BLOB column, which the build must refuse naming the model.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from sync.emulator import Emulator, EmulatorConfig
from sync.engines.duckdb import DuckDBEngine
from sync.settings import WarehouseSettings
from tests.dbt_support import DbtProject, DbtWorker, copy_project, make_dbt_project
from tests.sync_support import SyncEnv

# Raw values for the identifier columns, as SQL expressions (so NUL and long strings can be
# written). Each is hashed only if it normalises to a valid identifier, else rejected.
CORPUS: dict[str, list[str]] = {
    "email": [
        "'o''brien@example.com'",  # a quote inside the local part is valid: hashed
        "'x@example.com''; drop table tiktok_audience_members; --'",
        "''' or ''1''=''1'",
        "'\"; delete from tiktok_sync_acknowledged_members; --@example.com'",
        "'a' || chr(0) || 'b@example.com'",  # NUL byte
        "repeat('a', 10000) || '@example.com'",
        "'😀@example.com'",
        "'שלום@example.com'",  # right-to-left script
        "chr(8238) || 'moc.elpmaxe@abc'",  # U+202E right-to-left override
        "'\u0430dmin@example.com'",  # Cyrillic a
        "'admin' || chr(8490) || '@example.com'",  # Kelvin sign, lower-cases to k elsewhere
        "'\uff41\uff44\uff4d\uff49\uff4e\uff20example\uff0ecom'",  # full width
        "'{' || '{ 7 * 7 }' || '}@example.com'",  # Jinja as data, never rendered
        "'%_\\@example.com'",
        "' Valid.Person@Example.COM '",  # the control: valid, normalised
    ],
    "phone": [
        "'+44 7400 900123; drop table x'",
        "'+44' || chr(0) || '7400900124'",
        "repeat('9', 10000)",
        "'📞+44 7400 900125'",
        "'\uff0b\uff14\uff14 \uff17\uff17\uff10\uff10 900126'",  # full-width + and digits
        "'+44 7400 9OO127'",  # letter O for zero
        "'+44 (0) 7400 900128'",  # the control: valid (07700 900xxx is no number)
    ],
    "email_sha256": [
        "upper(sha256('mixed.case@example.com'))",  # mixed case: valid, lower-cased
        "left(sha256('short@example.com'), 63)",  # wrong length
        "sha256('long@example.com') || 'a'",
        "md5('md5@example.com')",  # an MD5 where a SHA-256 belongs
        "'g' || right(sha256('nothex@example.com'), 63)",  # not hex
        "sha256('')",  # the hash of nothing
        "repeat('f', 10000)",
        "left(sha256('nul@example.com'), 32) || chr(0) || right(sha256('nul@example.com'), 31)",
        "'\uff46' || right(sha256('fullwidth@example.com'), 63)",
    ],
    "idfa": [
        "'5F3A2B18-9C4D-4E7F-B8E2-17D3A1E69B25'",  # the control: valid, lower-cased
        "'00000000-0000-0000-0000-000000000000'",  # limited ad tracking
        "'5f3a2b18-9c4d-4e7f-b8e2-17d3a1e69b2'",  # one digit short
        "'5f3a2b18-9c4d-4e7f-b8e2-17d3a1e69b25'' or 1=1'",
        "'\uff15f3a2b18-9c4d-4e7f-b8e2-17d3a1e69b26'",
    ],
    "idfa_md5": [
        "upper(md5('device'))",
        "left(md5('device2'), 31)",
        "sha256('device3')",
    ],
}
VALID = {"email": 2, "phone": 1, "email_sha256": 1, "idfa": 1, "idfa_md5": 1}

# Audience names TikTok must receive exactly as written: model -> (meta as written in the
# model file, the name TikTok must get).
NAMES_ACCEPTED = {
    "hostile_names_quote": (
        """{'audience_name': "O'Brien; drop table tiktok_sync_audience_registry; --"}""",
        "O'Brien; drop table tiktok_sync_audience_registry; --",
    ),
    "hostile_names_dquote": (
        """{'audience_name': 'VIP "Gold"); delete from tiktok_audiences; --'}""",
        'VIP "Gold"); delete from tiktok_audiences; --',
    ),
    "hostile_names_jinja": (
        """{'audience_name': '{{ 7 * 7 }} {% raw %}'}""",
        "{{ 7 * 7 }} {% raw %}",
    ),
    "hostile_names_unicode": (
        "{'audience_name': 'VIP \U0001f600 \u05e9\u05dc\u05d5\u05dd \uff36\uff29\uff30'}",
        "VIP \U0001f600 \u05e9\u05dc\u05d5\u05dd \uff36\uff29\uff30",
    ),
}
# Settings the build must refuse, naming the model: model -> (meta as written, message).
NAMES_REFUSED = {
    "hostile_name_newline": ("{'audience_name': 'VIP\nsecond line'}", "control characters"),
    "hostile_name_nul": ("{'audience_name': 'VIP\x00'}", "control characters"),
    "hostile_name_rtl_long": ("{'audience_name': '\u202e" + "x" * 70 + "'}", "allow at most 70"),
    "hostile_name_cf_long": (
        "{'audience_name': '" + "y" * 129 + "', 'api': 'customer_file'}",
        "allow at most 128",
    ),
    "hostile_advertiser": (
        "{'advertiser_id': '7000000000000000001 or 1=1'}",
        "must be TikTok's numeric id",
    ),
    "hostile_audience_id": (
        "{'audience_id': \"1'); drop table tiktok_sync_audience_registry; --\"}",
        "must be TikTok's numeric id",
    ),
    "hostile_retention": (
        "{'retention_days': '30; drop table x', 'api': 'customer_file'}",
        "retention_days must be a whole number",
    ),
}


def _values(expressions: list[str]) -> str:
    return "\nunion all\n".join(f"select {e} as value" for e in expressions)


def _model(meta: str, sql: str) -> str:
    return f"{{{{ config(meta={{'tiktok': {meta}}}) }}}}\n\n{sql}\n"


def hostile_project(destination: Path) -> Path:
    copy_project(destination, demo=False)
    audiences = destination / "models" / "audiences"
    # One audience per identifier column over the corpus; the values are data, never SQL.
    for column, expressions in CORPUS.items():
        sql = f"select value as {column} from ({_values(expressions)}) as corpus"
        if column == "phone":
            sql = f"select value as phone, 'GB' as country_code from ({_values(expressions)}) c"
        (audiences / f"hostile_{column}.sql").write_text(_model("{}", sql))
    # Bytes that are not UTF-8 cannot be text in DuckDB; as a BLOB they arrive escaped
    # (\\xFF) and fail every identifier rule.
    blob = "select '\\xff\\xfe@example.com'::blob as email union all select 'ok@example.com'::blob"
    (audiences / "hostile_blob.sql").write_text(_model("{}", blob))
    # Valid audiences whose names try SQL and Jinja injection, or are not ASCII.
    for key, (meta, _) in NAMES_ACCEPTED.items():
        sql = "select 'someone.else@example.com' as email"
        (audiences / f"{key}.sql").write_text(_model(meta, sql))
    # A model file name with a quote: the audience key is quoted in every statement.
    (audiences / "o'brien_fans.sql").write_text(_model("{}", "select 'fan@example.com' as email"))
    return destination


def refused_project(built_project: Path, destination: Path) -> Path:
    """The hostile project plus one model per setting the build must refuse."""
    shutil.copytree(built_project, destination, symlinks=True)
    for key, (meta, _) in NAMES_REFUSED.items():
        sql = "select 'refused@example.com' as email"
        (destination / "models" / "audiences" / f"{key}.sql").write_text(_model(meta, sql))
    return destination


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DbtProject, Path]]:
    """The hostile project built by dbt (seeds, models, data tests) once for the module."""
    root = tmp_path_factory.mktemp("hostile")
    project_dir = hostile_project(root / "project")
    project = make_dbt_project(root / "dbt")
    with DbtWorker(project, project_dir) as dbt:
        dbt.run(
            "build",
            "--select",
            "path:models/audiences",
            "tiktok_sync.sync",
            "source:tiktok_sync_outputs",
            "source:tiktok_sync_state",
            "--exclude-resource-type",
            "unit_test",
        )
    yield project, project_dir


@pytest.fixture
def env(built: tuple[DbtProject, Path], tmp_path: Path) -> Iterator[SyncEnv]:
    project, _ = built
    workdir = tmp_path / "dbt"
    workdir.mkdir()
    shutil.copy(project.workdir / "profiles.yml", workdir / "profiles.yml")
    shutil.copy(project.db_path, workdir / "warehouse.duckdb")
    with Emulator(EmulatorConfig(qps=0)) as emulator:
        yield SyncEnv(DbtProject(workdir), emulator)
        assert emulator.internal_errors() == []


HEX = {32: re.compile(r"[0-9a-f]{32}"), 64: re.compile(r"[0-9a-f]{64}")}


def _rows(env: SyncEnv, sql: str) -> list[tuple[Any, ...]]:
    return env.query(sql)


def test_every_hostile_value_is_hashed_validly_or_rejected_with_a_reason(env: SyncEnv) -> None:
    for column, expressions in CORPUS.items():
        key = f"hostile_{column}"
        members = _rows(
            env,
            f"select id_type, id_hash from tiktok_audience_members where audience_key = '{key}'",
        )
        rejected = _rows(
            env,
            "select reason_code, reason, masked_value, value_length from "
            f"tiktok_rejected_identifiers where audience_key = '{key}'",
        )
        assert len(members) == VALID[column], (column, members)
        assert len(members) + len(rejected) == len(expressions), column
        for id_type, id_hash in members:
            assert HEX[32 if id_type.endswith("_MD5") else 64].fullmatch(id_hash), (column, id_hash)
        for reason_code, reason, masked, length in rejected:
            assert reason_code and reason, column
            # Only the first and last character of the raw value are kept.
            assert len(masked) <= 5 and "***" in masked and length >= 1
    reasons = {
        str(r)
        for (r,) in _rows(env, "select distinct reason_code from tiktok_rejected_identifiers")
    }
    # The long values were rejected for their length, not truncated into a hash.
    assert {"email_too_long", "email_non_ascii", "hash_wrong_length", "hash_not_hex"} <= reasons
    blob = _rows(
        env,
        "select reason_code from tiktok_rejected_identifiers where audience_key = 'hostile_blob'",
    )
    assert blob == [("email_invalid_format",)]  # the bytes that are not UTF-8
    assert _rows(
        env, "select count(*) from tiktok_audience_members where audience_key = 'hostile_blob'"
    ) == [(1,)]
    # No injected statement ran: every table is there, every audience is listed.
    tables = {str(t) for (t,) in _rows(env, "select table_name from information_schema.tables")}
    assert {
        "tiktok_audiences",
        "tiktok_audience_members",
        "tiktok_sync_audience_registry",
    } <= tables
    assert len(_rows(env, "select * from tiktok_audiences")) == AUDIENCES


AUDIENCES = len(CORPUS) + len(NAMES_ACCEPTED) + 2  # + hostile_blob and o'brien_fans


def test_nothing_malformed_reaches_tiktok_and_names_arrive_verbatim(env: SyncEnv) -> None:
    result = env.cli("run", "--force")  # the corpus audiences are tiny: allow the small creates

    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    sent = 0
    for entry in env.api_requests():
        assert entry["code"] == 0, entry  # TikTok refused nothing: nothing malformed got there
        body = entry["body"]
        if entry["endpoint"] == "segment/mapping/":
            schema = body["id_schema"][0]
            for row in body["batch_data"]:
                for item in row:
                    sent += 1
                    length = 32 if schema.endswith("_MD5") else 64
                    assert HEX[length].fullmatch(item["id"]), item["id"]
    assert sent == len(_rows(env, "select * from tiktok_audience_members"))
    names = {a["name"] for a in env.emulator.audiences()}
    assert len(names) == AUDIENCES
    assert {name for _, name in NAMES_ACCEPTED.values()} <= names
    assert "o'brien_fans" in names
    assert env.registry()["o'brien_fans"] is not None
    env.assert_converged()


@pytest.fixture(scope="module")
def refused(
    built: tuple[DbtProject, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DbtWorker]:
    project, project_dir = built
    root = tmp_path_factory.mktemp("hostile-refused")
    copy = refused_project(project_dir, root / "project")
    workdir = DbtProject(root / "dbt")
    workdir.workdir.mkdir()
    shutil.copy(project.workdir / "profiles.yml", workdir.workdir / "profiles.yml")
    shutil.copy(project.db_path, workdir.db_path)
    with DbtWorker(workdir, copy) as dbt:
        yield dbt


@pytest.mark.parametrize("model", sorted(NAMES_REFUSED))
def test_a_hostile_audience_setting_fails_the_build_naming_model_and_fix(
    refused: DbtWorker, model: str
) -> None:
    _, message = NAMES_REFUSED[model]

    reply = refused.run("run", "--select", model, check=False)

    assert not reply["success"]
    output = " ".join(reply["failures"]) + str(reply["error"])
    assert model in output and message in output, reply
    assert "Traceback" not in output


def test_a_hostile_dbt_var_fails_the_build_naming_the_var(refused: DbtWorker) -> None:
    country = "GB'; drop table tiktok_audience_members; --"

    reply = refused.run(
        "run",
        "--select",
        "hostile_phone",
        vars={"tiktok_sync_default_phone_country": country},
        check=False,
    )

    assert not reply["success"]
    output = " ".join(reply["failures"]) + str(reply["error"])
    assert "tiktok_sync_default_phone_country must be an ISO-3166 alpha-2 code" in output, reply


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--audience", "x' or '1'='1"], "unknown audience"),
        (["--audience", "hostile_email; drop table tiktok_audiences"], "unknown audience"),
        (["--advertiser-id", "7000000000000000001; drop table x"], "numeric id"),
        (["--max-removal-share", "NaN"], "max-removal-share"),
    ],
)
def test_hostile_command_line_values_are_refused_in_one_line(
    env: SyncEnv, args: list[str], message: str
) -> None:
    for command in ("plan", "run"):
        result = env.cli(command, *args)
        assert result.exit_code == 2, result.output
        assert message in result.output
        assert "Traceback" not in result.output
    assert env.api_requests() == []
    assert len(_rows(env, "select * from tiktok_audiences")) == AUDIENCES


def test_a_hostile_schema_name_is_quoted_not_executed() -> None:
    hostile = WarehouseSettings("duckdb", Path("x.duckdb"), 'main"; drop table t; --', "p", "t")
    with duckdb.connect() as con:
        quoted = DuckDBEngine(con, hostile).relation("tiktok_audience_members")
    assert quoted == '"main""; drop table t; --"."tiktok_audience_members"'
    with duckdb.connect() as con:
        con.execute('create schema "main""; drop table t; --"')
        con.execute(f"create table {quoted} (id_hash varchar)")
        con.execute("create table t (x int)")
        con.execute(f"select * from {quoted}")
        assert con.execute("select count(*) from t").fetchall() == [(0,)]
