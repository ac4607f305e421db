"""One small module per warehouse engine behind one interface (`base.Engine`).

`open_engine` picks the module for the dbt target's adapter type. DuckDB is always installed;
the others need their dbt adapter (the package's extras: `pip install
'tiktok-audience-sync[postgres]'`, `[snowflake]`, `[bigquery]`, `[spark]`, `[databricks]`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sync.engines.base import Engine
from sync.engines.dbt_target import install_hint
from sync.errors import ConfigError

if TYPE_CHECKING:
    from sync.settings import WarehouseSettings

# Adapter types the sync job reads and writes, and what each is tested against (README).
SUPPORTED = ("duckdb", "postgres", "snowflake", "bigquery", "spark", "databricks")


def open_engine(settings: WarehouseSettings, *, read_only: bool) -> Engine:
    """A connection to the target's warehouse, as the engine for its adapter type opens it."""
    if settings.type == "duckdb":
        from sync.engines.duckdb import DuckDBEngine

        return DuckDBEngine.open(settings, read_only=read_only)
    if settings.dbt_target is None:  # pragma: no cover - load_warehouse always renders it
        raise ConfigError(f"target '{settings.target}' was not rendered by dbt")
    if settings.type == "postgres":
        try:
            from sync.engines.postgres import PostgresEngine
        except ImportError:
            raise ConfigError(
                f"target '{settings.target}' is a Postgres warehouse; {install_hint('postgres')}"
            ) from None
        return PostgresEngine.open(settings.dbt_target)
    if settings.type == "snowflake":
        try:
            from sync.engines.snowflake import SnowflakeEngine
        except ImportError:
            raise ConfigError(
                f"target '{settings.target}' is a Snowflake warehouse; {install_hint('snowflake')}"
            ) from None
        return SnowflakeEngine.open(settings.dbt_target)
    if settings.type == "bigquery":
        try:
            from sync.engines.bigquery import BigQueryEngine
        except ImportError:
            raise ConfigError(
                f"target '{settings.target}' is a BigQuery warehouse; {install_hint('bigquery')}"
            ) from None
        return BigQueryEngine.open(settings.dbt_target)
    if settings.type == "spark":
        try:
            from sync.engines.spark import SparkEngine
        except ImportError:
            raise ConfigError(
                f"target '{settings.target}' is a Spark warehouse; {install_hint('spark')}"
            ) from None
        return SparkEngine.open(settings.dbt_target)
    if settings.type == "databricks":
        try:
            from sync.engines.databricks import DatabricksEngine
        except ImportError:
            raise ConfigError(
                f"target '{settings.target}' is a Databricks warehouse; "
                f"{install_hint('databricks')}"
            ) from None
        return DatabricksEngine.open(settings.dbt_target)
    raise ConfigError(
        f"target '{settings.target}' is a {settings.type} warehouse, which the sync job does not "
        f'read yet (it reads {", ".join(SUPPORTED)}); see the README\'s "Other engines"'
    )


__all__ = ["SUPPORTED", "Engine", "open_engine"]
