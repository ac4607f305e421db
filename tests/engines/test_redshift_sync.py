"""The Redshift engine's own behaviour, on the Redshift double (tests/engines/redshift.py): a real
PostgreSQL server that dbt-redshift's adapter reaches through redshift_connector. The Warehouse
API on a dbt-redshift build of the project is test_sync_contract.py's "redshift" target.

Runs in `make test-redshift-databricks` (dbt-redshift is installed in that venv only).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import closing
from typing import Any

import pytest

from sync.engines import open_engine
from sync.engines.dbt_target import DbtTarget, render_target
from sync.errors import ConfigError, WarehouseError
from sync.settings import WarehouseSettings
from tests.engines import redshift

pytestmark = pytest.mark.redshift

SECRET = "a-password-that-must-never-show"


@pytest.fixture(scope="module")
def double() -> Iterator[redshift.RedshiftDouble]:
    if reason := redshift.unavailable_reason():
        pytest.skip(reason)
    with redshift.start() as started:
        started.read_literals_as_redshift()
        yield started


def settings_for(output: dict[str, Any]) -> WarehouseSettings:
    target = render_target(dict(output), "profile", "prod")
    return WarehouseSettings("redshift", None, target.schema, "profile", "prod", dbt_target=target)


def test_a_redshift_target_without_the_engine_module_names_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "sync.engines.redshift", None)  # import fails
    settings = WarehouseSettings(
        "redshift",
        None,
        "tiktok_sync",
        "profile",
        "prod",
        dbt_target=DbtTarget("redshift", "dev", "tiktok_sync", None),
    )

    with pytest.raises(ConfigError) as missing:
        open_engine(settings, read_only=False)

    assert "is a Redshift warehouse" in str(missing.value)
    assert "pip install 'tiktok-audience-sync[redshift]'" in str(missing.value)


def test_wrong_credentials_are_one_line_naming_redshift_without_the_password(
    double: redshift.RedshiftDouble,
) -> None:
    output = {**double.profile_output(password=SECRET), "user": "nobody_here"}

    with pytest.raises(WarehouseError) as refused:
        open_engine(settings_for(output), read_only=False)

    message = str(refused.value)
    assert refused.value.exit_code == 2 and "\n" not in message
    assert "redshift warehouse" in message and 'role "nobody_here" does not exist' in message
    assert "check the profile's credentials" in message
    assert SECRET not in message and "{'S'" not in message


def test_a_driver_error_is_the_server_message_not_the_drivers_dict(
    double: redshift.RedshiftDouble,
) -> None:
    engine = open_engine(settings_for(double.profile_output()), read_only=False)
    try:
        with pytest.raises(engine.driver_errors) as raised:
            engine.fetch("select * from no_such_relation_here")
        error = engine.error(raised.value, "reading the void")
    finally:
        engine.close()

    assert str(error) == (
        'Redshift failed while reading the void: relation "no_such_relation_here" does not '
        "exist; run `dbt build` with this project and profile, and check the user may read the "
        "schema"
    )


def test_a_stream_reads_through_a_cursor_a_bounded_number_of_rows_at_a_time(
    double: redshift.RedshiftDouble,
) -> None:
    engine = open_engine(settings_for(double.profile_output()), read_only=True)
    try:
        stream = engine.stream(
            "select n, 'member-' || n as id_hash from generate_series(1, ?) as n order by n",
            [2_500],
            1_000,
        )
        with closing(stream):
            first = next(stream)
            # Between two batches the reader's session waits in its transaction, its last
            # statement a FETCH of 1,000 rows from the declared cursor: the server holds the
            # rest of the result, not this process.
            reader = double.query(
                "select state, query from pg_stat_activity "
                "where query like 'fetch forward%' and pid <> pg_backend_pid()"
            )
            rest = list(stream)
        still_open = double.query(
            "select count(*) from pg_stat_activity where state = 'idle in transaction'"
        )
    finally:
        engine.close()

    assert [len(b) for b in [first, *rest]] == [1_000, 1_000, 500]
    assert first.schema.names == ["n", "id_hash"]
    assert first.column("id_hash")[0].as_py() == "member-1"
    assert rest[-1].column("n")[-1].as_py() == 2_500
    assert len(reader) == 1 and reader[0][0] == "idle in transaction"
    assert reader[0][1].startswith("fetch forward 1000 from tiktok_sync_")
    assert still_open == [(0,)]  # the stream's transaction ended with it


def test_values_are_bound_never_read_as_redshift_literals(
    double: redshift.RedshiftDouble,
) -> None:
    # The double reads literals as Redshift does (backslash escapes, standard_conforming_strings
    # off): a value pasted into the SQL would lose its backslash.
    value = "it's \\ 'processing' 100% ?"
    engine = open_engine(settings_for(double.profile_output()), read_only=False)
    try:
        assert engine.fetch("select cast(? as varchar), '\\\\'", [value]) == [(value, "\\")]
    finally:
        engine.close()
