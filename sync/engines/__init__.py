"""One small module per warehouse engine behind one interface (`base.Engine`).

`open_engine` picks the module for the dbt target's adapter type. DuckDB is always installed;
the others need their dbt adapter (the package's extras: `pip install
'tiktok-audience-sync[postgres]'`, `[redshift]`, `[snowflake]`, `[bigquery]`, `[spark]`,
`[databricks]`).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from sync.engines.dbt_target import install_hint
from sync.errors import ConfigError

if TYPE_CHECKING:
    # Not imported at run time: `python -m sync.engines.dbt_target` (a DuckDB target rendered
    # in its own process) imports this package, and needs neither Arrow nor the engines.
    from sync.engines.base import Engine
    from sync.settings import WarehouseSettings

# The server engines: adapter type -> (the engine's module, its class, its name in messages).
# Imported only when a target needs one, since each needs its dbt adapter installed.
_SERVER_ENGINES = {
    "postgres": ("sync.engines.postgres", "PostgresEngine", "Postgres"),
    "redshift": ("sync.engines.redshift", "RedshiftEngine", "Redshift"),
    "snowflake": ("sync.engines.snowflake", "SnowflakeEngine", "Snowflake"),
    "bigquery": ("sync.engines.bigquery", "BigQueryEngine", "BigQuery"),
    "spark": ("sync.engines.spark", "SparkEngine", "Spark"),
    "databricks": ("sync.engines.databricks", "DatabricksEngine", "Databricks"),
}

# Adapter types the sync job reads and writes, and what each is tested against (README).
SUPPORTED = ("duckdb", *_SERVER_ENGINES)


def open_engine(settings: WarehouseSettings, *, read_only: bool) -> Engine:
    """A connection to the target's warehouse, as the engine for its adapter type opens it."""
    if settings.type == "duckdb":
        from sync.engines.duckdb import DuckDBEngine

        return DuckDBEngine.open(settings, read_only=read_only)
    if settings.dbt_target is None:  # pragma: no cover - load_warehouse always renders it
        raise ConfigError(f"target '{settings.target}' was not rendered by dbt")
    if settings.type not in _SERVER_ENGINES:
        raise ConfigError(
            f"target '{settings.target}' is a {settings.type} warehouse, which the sync job does "
            f'not read yet (it reads {", ".join(SUPPORTED)}); see the README\'s "Other engines"'
        )
    module_name, class_name, name = _SERVER_ENGINES[settings.type]
    try:
        engine_class = getattr(importlib.import_module(module_name), class_name)
    except ImportError:
        raise ConfigError(
            f"target '{settings.target}' is a {name} warehouse; {install_hint(settings.type)}"
        ) from None
    opened: Engine = engine_class.open(settings.dbt_target)
    return opened


__all__ = ["SUPPORTED", "open_engine"]
