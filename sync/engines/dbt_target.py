"""The one place that uses dbt's Python API, which carries no stability promise.

The sync job reaches the warehouse of the dbt profile and target exactly as dbt does: dbt renders
the target (env_var() and all), parses it into the adapter's own credentials (every auth method
the adapter supports: password, key pair, OAuth, service account, token, ...), opens the
connection with the adapter's connection manager and names relations with the adapter's Relation
(quoting and case as dbt's). What it hands back is the driver's own connection: psycopg2 for
Postgres, redshift_connector for Redshift, `SnowflakeConnection`, a `google.cloud.bigquery.Client`,
the Spark or Databricks cursor wrapper. A dbt upgrade that changes these internals breaks this
module and its tests (tests/engines/), nothing else.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, cast

from sync.errors import ConfigError, WarehouseError

# Each adapter's package on PyPI, for the message when it is not installed.
ADAPTER_PACKAGES = {
    "duckdb": "dbt-duckdb",
    "postgres": "dbt-postgres",
    "redshift": "dbt-redshift",
    "snowflake": "dbt-snowflake",
    "bigquery": "dbt-bigquery",
    "spark": "dbt-spark",
    "databricks": "dbt-databricks",
}
# The extra of this package that installs the adapter and the driver's Arrow support.
EXTRAS = {
    "postgres": "postgres",
    "redshift": "redshift",
    "snowflake": "snowflake",
    "bigquery": "bigquery",
    "spark": "spark",
    "databricks": "databricks",
}


@dataclass(frozen=True)
class DbtTarget:
    """A rendered target: the adapter type, where dbt builds, and dbt's credentials object."""

    type: str
    database: str | None
    schema: str
    credentials: Any


def install_hint(adapter_type: str) -> str:
    extra = EXTRAS.get(adapter_type)
    if extra is None:
        return f"install the dbt adapter for {adapter_type}"
    return f"pip install 'tiktok-audience-sync[{extra}]'"


# How long dbt may take to render a DuckDB target in its own process (it takes about a second).
RENDER_TIMEOUT = 120.0


def render_target(raw_target: dict[str, Any], profile: str, target: str) -> DbtTarget:
    """dbt's rendering and parsing of one profile target (the raw YAML mapping).

    A DuckDB target is rendered by dbt in a process of its own, which exits once it has: the
    sync job needs only its path and settings, and dbt's modules (~50 MB resident: dbt-core, the
    adapter, their schemas) would otherwise stay in the sync process for the whole run. Every
    other engine opens its connection through dbt's adapter, so it renders here, as does a
    process that has dbt loaded already (nothing to keep out)."""
    adapter_type = str(raw_target.get("type") or "")
    if not adapter_type:
        raise ConfigError(f"target '{target}' of profile '{profile}' has no type")
    if adapter_type == "duckdb" and "dbt.config" not in sys.modules and sys.executable:
        return _render_in_child(raw_target, profile, target)
    return _render_here(raw_target, profile, target, adapter_type)


def _render_here(
    raw_target: dict[str, Any], profile: str, target: str, adapter_type: str
) -> DbtTarget:
    try:
        from dbt.adapters.factory import load_plugin
        from dbt.config.profile import Profile
        from dbt.config.renderer import ProfileRenderer
        from dbt_common.context import set_invocation_context
        from dbt_common.exceptions import DbtBaseException
    except ImportError as exc:  # pragma: no cover - dbt-core is a dependency
        raise ConfigError(
            f"dbt-core cannot be imported ({exc}); reinstall tiktok-audience-sync"
        ) from None
    # env_var() reads the invocation context, as it does in a dbt command.
    set_invocation_context(dict(os.environ))
    try:
        load_plugin(adapter_type)
    except Exception:
        raise ConfigError(
            f"target '{target}' is a {adapter_type} warehouse but dbt's "
            f"{ADAPTER_PACKAGES.get(adapter_type, adapter_type)} adapter is not installed; "
            f"{install_hint(adapter_type)}"
        ) from None
    try:
        _, data = Profile.render_profile(
            {"outputs": {target: raw_target}}, profile, target, ProfileRenderer({})
        )
        data = dict(data)
        data.pop("threads", None)
        credentials = Profile._credentials_from_profile(data, profile, target)
    except DbtBaseException as exc:
        raise ConfigError(_profile_error(str(exc), profile, target, raw_target)) from None
    return DbtTarget(
        type=adapter_type,
        database=getattr(credentials, "database", None),
        schema=str(credentials.schema),
        credentials=credentials,
    )


# What the sync job reads of a DuckDB target's credentials (sync.settings.load_warehouse).
_DUCKDB_FIELDS = ("path", "config_options", "settings")
# The child's program: this module, imported (not run as __main__, which would execute it a
# second time beside the copy its package imports).
_CHILD = f"import sys; from {__name__} import _child_main; sys.exit(_child_main())"


def _render_in_child(raw_target: dict[str, Any], profile: str, target: str) -> DbtTarget:
    """render_target in a child process (_child_main): the raw target goes in on stdin (not in
    its arguments, which any user can read in `ps`), the rendered one (or the one-line error)
    comes back on stdout as JSON. The child gets this process' environment (env_var() reads
    it) and its import path, so it renders with the same dbt; its stderr is not shown (a
    traceback could quote credentials)."""
    request = json.dumps({"target": raw_target, "profile": profile, "name": target}, default=str)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    failed = (
        f"dbt could not render target '{target}' of profile '{profile}'; run "
        f"`dbt debug --target {target}` to see why"
    )
    try:
        # -P: the working directory (a user's dbt project) is not put on the import path.
        proc = subprocess.run(
            [sys.executable, "-P", "-c", _CHILD],
            input=request,
            capture_output=True,
            text=True,
            env=env,
            timeout=RENDER_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise ConfigError(f"{failed} (it took over {RENDER_TIMEOUT:.0f} s)") from None
    except OSError:
        # No interpreter to start (an embedded Python): render here, at the cost of memory.
        return _render_here(raw_target, profile, target, "duckdb")
    # The answer is the last line: anything dbt prints while rendering comes before it.
    lines = proc.stdout.strip().splitlines()
    try:
        answer = json.loads(lines[-1]) if lines else None
    except ValueError:
        answer = None
    if isinstance(answer, dict) and "error" in answer:
        raise ConfigError(str(answer["error"]))
    rendered = answer.get("rendered") if isinstance(answer, dict) else None
    if (
        proc.returncode != 0
        or not isinstance(rendered, dict)
        or not all(key in rendered for key in (*_DUCKDB_FIELDS, "database", "schema"))
    ):
        raise ConfigError(f"{failed} (its process exited with {proc.returncode})")
    return DbtTarget(
        type="duckdb",
        database=rendered["database"],
        schema=str(rendered["schema"]),
        credentials=SimpleNamespace(**{key: rendered[key] for key in _DUCKDB_FIELDS}),
    )


def _child_main() -> int:
    """The child's side of _render_in_child."""
    request = json.load(sys.stdin)
    try:
        rendered = _render_here(request["target"], request["profile"], request["name"], "duckdb")
    except ConfigError as exc:
        sys.stdout.write("\n" + json.dumps({"error": str(exc)}) + "\n")
        return 0
    credentials = rendered.credentials
    answer = {key: getattr(credentials, key) for key in _DUCKDB_FIELDS}
    answer.update(database=rendered.database, schema=rendered.schema)
    sys.stdout.write("\n" + json.dumps({"rendered": answer}, default=str) + "\n")
    return 0


def _profile_error(text: str, profile: str, target: str, raw_target: dict[str, Any]) -> str:
    missing = re.search(r"Env var required but not provided: '([^']+)'", text)
    if missing:
        name = missing.group(1)
        return f"the dbt profile uses env_var('{name}') but {name} is not set; set it"
    # dbt's messages quote the offending value at most by key; the first telling line only.
    # dbt nests them under headers: "Runtime Error / Credentials in profile ... invalid:
    # Runtime Error / Got duplicate keys: (dataset) all map to "schema"" (dbt-bigquery).
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    lines = [line for line in lines if line not in _DBT_HEADERS] or ["invalid"]
    first = lines[0]
    for header in _DBT_HEADERS:
        if first.endswith(f": {header}") and len(lines) > 1:
            first = f"{first.removesuffix(header)}{lines[1]}"
    first = redact(first, SimpleNamespace(**raw_target))
    return f"target '{target}' of profile '{profile}' is not valid for dbt: {first}"


def relation_name(target: DbtTarget, identifier: str) -> str:
    """`identifier` in the target's schema, rendered by the adapter's Relation as dbt would."""
    from dbt.adapters.factory import get_adapter_class_by_name

    relation = get_adapter_class_by_name(target.type).Relation.create(
        database=target.database, schema=target.schema, identifier=identifier
    )
    return str(relation.render())


def schema_name(target: DbtTarget) -> str:
    """The target's schema (with its database or catalog where the adapter names one), rendered
    by the adapter's Relation as dbt would."""
    from dbt.adapters.factory import get_adapter_class_by_name

    relation = get_adapter_class_by_name(target.type).Relation.create(
        database=target.database, schema=target.schema, identifier="any"
    )
    return str(relation.include(identifier=False).render())


def open_handle(target: DbtTarget, name: str = "tiktok-sync") -> Any:
    """The driver connection dbt's adapter opens for the target (its retries, auth and all).

    Raises WarehouseError naming the engine when the connection cannot be opened; the driver's
    message is kept to its first line, without anything from the credentials.
    """
    from dbt.adapters.contracts.connection import Connection, Identifier
    from dbt.adapters.factory import get_adapter_class_by_name

    manager = get_adapter_class_by_name(target.type).ConnectionManager
    connection = Connection(
        type=cast("Identifier", target.type), name=name, credentials=target.credentials
    )
    if target.type == "databricks":
        # dbt-databricks opens its own Connection subclass, which carries the compute's
        # http_path (its connection manager sets it from the profile, as here).
        from dbt.adapters.databricks.connections import (  # type: ignore[import-not-found,unused-ignore]
            DatabricksDBTConnection,
        )

        connection = DatabricksDBTConnection(
            type=cast("Identifier", target.type), name=name, credentials=target.credentials
        )
        connection.http_path = str(getattr(target.credentials, "http_path", None) or "")
    try:
        opened = manager.open(connection)
    except Exception as exc:
        raise WarehouseError(
            f"cannot connect to the {target.type} warehouse of the dbt profile: "
            f"{first_line(exc, target.credentials)}; check the profile's credentials and that "
            "the warehouse is reachable (dbt debug tells the same)"
        ) from None
    if opened.handle is None:
        raise WarehouseError(f"dbt's {target.type} adapter opened no connection")
    return opened.handle


# dbt's exceptions open with a header line; what happened is on the next one.
_DBT_HEADERS = {"Database Error", "Runtime Error", "Compilation Error", "Internal Error"}


def first_line(exc: BaseException, credentials: Any = None) -> str:
    """The first telling line of a driver or dbt error, with any credential value blanked out."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    if len(lines) > 1 and lines[0] in _DBT_HEADERS:
        lines = lines[1:]
    line = lines[0] if lines else type(exc).__name__
    return redact(server_error_fields(line).get("M") or line, credentials)


def server_error_fields(text: str) -> dict[str, str]:
    """The server's error fields (S severity, C SQLSTATE, M message, ...) where the driver
    reports them as a dict's repr, as redshift_connector does; {} for any other text."""
    text = text.strip()
    if not (text.startswith("{'") and text.endswith("}")):
        return {}
    try:
        fields = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return {}
    return {str(k): str(v) for k, v in fields.items()} if isinstance(fields, dict) else {}


def redact(text: str, credentials: Any = None) -> str:
    """`text` with any credential value of the target blanked out."""
    for value in _secret_values(credentials):
        text = text.replace(value, "[redacted]")
    return text


def _secret_values(credentials: Any) -> list[str]:
    if credentials is None:
        return []
    values = []
    for key in (
        "password",
        "token",
        "private_key",
        "private_key_passphrase",
        "refresh_token",
        "client_secret",
        "keyfile_json",
        "oauth_client_secret",
    ):
        value = getattr(credentials, key, None)
        if isinstance(value, str) and len(value) >= 4:
            values.append(value)
    return values
