"""The Databricks engine without Databricks: dbt-databricks opens its handle from a profile, the
connector's own Cursor prepares every statement, and a stand-in answers instead of a workspace.

No workspace is reachable here. `databricks.sql.connect` (what dbt-databricks' handle calls) is
replaced by a connection whose cursors are the connector's real `Cursor` over a stand-in backend:
the statement and the typed native parameters the connector would send are recorded, and the
answers are Arrow tables through the connector's `fetchall_arrow` / `fetchmany_arrow`. What
Databricks itself would do with the SQL is not tested here; the same SQL runs on a local Spark in
test_sync_contract.py (its "spark-lease" target takes the lease, as Databricks does).

Runs in `make test-redshift-databricks` (dbt-databricks needs dbt-spark<1.11, so a venv of its
own, without pyspark).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pyarrow as pa
import pytest

from sync.engines import open_engine
from sync.engines.dbt_target import DbtTarget, render_target
from sync.errors import ConfigError, WarehouseError
from sync.settings import WarehouseSettings

pytestmark = pytest.mark.databricks

SECRET = "dapi-token-that-must-never-show"
OUTPUT = {
    "type": "databricks",
    "host": "dbc-0000.cloud.databricks.com",
    "http_path": "/sql/1.0/warehouses/abc123",
    "token": SECRET,
    "catalog": "main",
    "schema": "tiktok_sync",
    "threads": 1,
}

Answer = Callable[[str, list[Any]], pa.Table]


def test_a_databricks_target_without_the_adapter_names_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import dbt.adapters.factory

    def not_installed(name: str) -> None:
        raise ImportError(f"No module named 'dbt.adapters.{name}'")

    monkeypatch.setattr(dbt.adapters.factory, "load_plugin", not_installed)

    with pytest.raises(ConfigError) as missing:
        render_target(dict(OUTPUT), "profile", "prod")

    assert "dbt-databricks adapter is not installed" in str(missing.value)
    assert "pip install 'tiktok-audience-sync[databricks]'" in str(missing.value)


def test_a_databricks_target_without_the_engine_module_names_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "sync.engines.databricks", None)  # import fails
    settings = WarehouseSettings(
        "databricks",
        None,
        "tiktok_sync",
        "profile",
        "prod",
        dbt_target=DbtTarget("databricks", "main", "tiktok_sync", None),
    )

    with pytest.raises(ConfigError, match=r"\[databricks\]"):
        open_engine(settings, read_only=False)


# --- the stand-in workspace ---------------------------------------------------------------------


@dataclass
class Workspace:
    """Answers statements; records what the connector sent."""

    answer: Answer
    sent: list[tuple[str, list[Any]]] = field(default_factory=list)
    connected: list[dict[str, Any]] = field(default_factory=list)

    def connect(self, **kwargs: Any) -> FakeConnection:
        self.connected.append(kwargs)
        return FakeConnection(self, kwargs.get("use_inline_params", False))


class FakeResultSet:
    is_staging_operation = False
    num_modified_rows = None

    def __init__(self, table: pa.Table) -> None:
        self._table = table
        self._at = 0

    def fetchmany_arrow(self, size: int) -> pa.Table:
        part = self._table.slice(self._at, size)
        self._at += part.num_rows
        return part

    def fetchall_arrow(self) -> pa.Table:
        return self.fetchmany_arrow(self._table.num_rows)

    def close(self) -> None:
        pass


class FakeBackend:
    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace

    def execute_command(self, *, operation: str, parameters: list[Any], **_: Any) -> Any:
        values = [_value(p) for p in parameters]
        types = [p.type for p in parameters]
        self.workspace.sent.append((operation, list(zip(types, values, strict=True))))
        return FakeResultSet(self.workspace.answer(operation, values))


def _value(parameter: Any) -> Any:
    """A TSparkParameter's value as the server would read it (None for a NULL)."""
    value = getattr(parameter, "value", None)
    return None if value is None else value.stringValue


class FakeConnection:
    """What Cursor reads of the connector's Connection."""

    lz4_compression = False
    use_cloud_fetch = True
    staging_allowed_local_path = None

    def __init__(self, workspace: Workspace, use_inline_params: Any) -> None:
        self.use_inline_params = use_inline_params
        self.session = SimpleNamespace(session_id="session", host="dbc-0000", close=lambda: None)
        self.backend = FakeBackend(workspace)
        self.open = True

    def cursor(self, **_: Any) -> Any:
        from databricks.sql.client import Cursor

        return Cursor(self, self.backend)  # type: ignore[arg-type]

    def get_session_id_hex(self) -> str:
        return "0000"

    def close(self) -> None:
        self.open = False


@pytest.fixture
def workspace(monkeypatch: pytest.MonkeyPatch) -> Iterator[Workspace]:
    # `make test` collects these too (the databricks marker is not excluded there, as for
    # tests/test_dispatch_resolution.py); its venv cannot hold dbt-databricks.
    pytest.importorskip(
        "dbt.adapters.databricks",
        reason="dbt-databricks is not installed (it requires dbt-spark<1.11, so it gets a venv "
        "of its own: make test-redshift-databricks)",
    )
    import databricks.sql
    import dbt.adapters.databricks.connections as connections

    space = Workspace(answer=lambda sql, values: pa.table({"ok": [1]}))
    monkeypatch.setattr(databricks.sql, "connect", space.connect)
    # dbt-databricks asks the host whether it is a unified (SPOG) workspace: no host here.
    monkeypatch.setattr(connections, "check_spog_preconditions", lambda **_: None)
    yield space


def engine(workspace: Workspace) -> Any:
    from sync.engines.databricks import DatabricksEngine

    return DatabricksEngine.open(render_target(dict(OUTPUT), "profile", "prod"))


# --- the engine ---------------------------------------------------------------------------------


def test_dbt_databricks_opens_the_connection_the_profile_describes(workspace: Workspace) -> None:
    databricks = engine(workspace)

    (connected,) = workspace.connected
    assert connected["server_hostname"] == OUTPUT["host"]
    assert connected["http_path"] == OUTPUT["http_path"]
    assert (connected["catalog"], connected["schema"]) == ("main", "tiktok_sync")
    assert connected["use_inline_params"] == "silent"  # dbt's choice ...
    assert databricks._con.use_inline_params is False  # ... and this engine's, for its own
    assert (
        databricks.relation("tiktok_sync_batches") == "`main`.`tiktok_sync`.`tiktok_sync_batches`"
    )
    databricks.close()
    assert databricks._handle is None


def test_values_travel_as_native_parameters_never_inside_the_sql(workspace: Workspace) -> None:
    databricks = engine(workspace)
    sql = (
        "insert into t (holder, claimed_at, expires_at, process_id, n) "
        "values (?, cast(? as timestamp), cast(? as timestamp), cast(? as bigint), ?)"
    )
    quoted = "it's \\ 'x' 100% ?"
    aware = datetime(2026, 12, 3, 11, 0, 0, 123456, tzinfo=UTC)

    databricks.execute(sql, [quoted, datetime(2026, 12, 3, 10, 0, 0, 123456), aware, 7, None])
    databricks.execute("select 1")

    (statement, parameters), (plain, none) = workspace.sent
    assert statement == sql  # the `?` stay; the values are parameters
    assert parameters == [
        ("STRING", quoted),
        ("STRING", "2026-12-03 10:00:00.123456Z"),  # naive UTC, offset explicit
        ("STRING", "2026-12-03 11:00:00.123456Z"),
        ("INT", "7"),
        ("VOID", None),
    ]
    assert (plain, none) == ("select 1", [])


def test_fetch_and_stream_read_arrow_and_give_timestamps_as_naive_utc(
    workspace: Workspace,
) -> None:
    at = pa.array([datetime(2026, 12, 3, 10, 0, tzinfo=UTC)] * 25, pa.timestamp("us", tz="UTC"))
    table = pa.table({"batch_no": pa.array(range(25), pa.int64()), "at": at})
    workspace.answer = lambda sql, values: table
    databricks = engine(workspace)

    rows = databricks.fetch("select batch_no, at from t where run_id = ?", ["run"])
    batches = list(databricks.stream("select batch_no, at from t", [], 10))

    assert rows[0] == (0, datetime(2026, 12, 3, 10, 0))
    assert [b.num_rows for b in batches] == [10, 10, 5]
    assert pa.Table.from_batches(batches)["batch_no"].to_pylist() == list(range(25))
    assert batches[0].schema.field("at").type == pa.timestamp("us")


def test_relations_are_listed_lower_case_without_temporary_views(workspace: Workspace) -> None:
    workspace.answer = lambda sql, values: pa.table(
        {
            "database": ["tiktok_sync"] * 3,
            "tableName": ["tiktok_sync_batches", "TikTok_Audience_Diff", "scratch"],
            "isTemporary": [False, False, True],
        }
    )
    databricks = engine(workspace)

    assert databricks.present_relations() == {"tiktok_sync_batches", "tiktok_audience_diff"}
    assert workspace.sent[-1] == ("show tables in `main`.`tiktok_sync`", [])


def test_a_schema_dbt_did_not_build_lists_nothing(workspace: Workspace) -> None:
    from databricks.sql.exc import ServerOperationError

    def missing(sql: str, values: list[Any]) -> pa.Table:
        raise ServerOperationError(
            "[SCHEMA_NOT_FOUND] The schema `main`.`tiktok_sync` cannot be found. SQLSTATE: 42704"
        )

    workspace.answer = missing

    assert engine(workspace).present_relations() == set()


def test_an_error_is_one_line_with_what_to_do_and_no_token(workspace: Workspace) -> None:
    from databricks.sql.exc import ServerOperationError

    databricks = engine(workspace)
    error = ServerOperationError(
        "[TABLE_OR_VIEW_NOT_FOUND] The table or view `main`.`tiktok_sync`.`x` cannot be found.\n"
        f"Verify the spelling. SQLSTATE: 42P01; line 1 pos 14 {SECRET}"
    )

    message = str(databricks.error(error, "reading the void"))

    assert message.startswith("Databricks failed while reading the void: [TABLE_OR_VIEW_NOT_FOUND]")
    assert message.endswith("; run `dbt build` with this project and profile")
    assert "\n" not in message and SECRET not in message


def test_batch_numbers_divide_with_div(workspace: Workspace) -> None:
    assert engine(workspace).integer_division("row_number() over (order by x) - 1", 10_000) == (
        "((row_number() over (order by x) - 1) div 10000)"
    )


def test_a_handle_without_the_connection_it_keeps_says_which_version_to_install(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dbt.adapters.databricks.handle as handle

    class OtherHandle:  # a dbt-databricks that keeps its connection elsewhere
        session_id = "0000"
        closed = False

        def close(self) -> None:
            OtherHandle.closed = True

    monkeypatch.setattr(
        handle.DatabricksHandle, "from_connection_args", staticmethod(lambda *_: OtherHandle())
    )

    with pytest.raises(WarehouseError, match=r"\[databricks\]"):
        engine(workspace)
    assert OtherHandle.closed
