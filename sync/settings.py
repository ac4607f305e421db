"""Where the sync job reads and writes: the dbt profile's warehouse, and TikTok.

The warehouse comes from the same profile dbt uses, resolved the way dbt does
(`--profiles-dir`, else DBT_PROFILES_DIR, else the current directory if it has
a profiles.yml, else ~/.dbt; `--target`, else DBT_TARGET, else the profile's
default), so `dbt build` and `tiktok-sync run` always meet in one warehouse.
TikTok settings come from options, then environment variables, then the
credentials file written by `tiktok-sync auth`.
"""

from __future__ import annotations

import json
import logging
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import yaml

from sync.engines.dbt_target import DbtTarget, render_target
from sync.errors import ConfigError
from sync.tiktok import DEFAULT_BASE_URL
from sync.tiktok.redact import remember

logger = logging.getLogger(__name__)

DEFAULT_CREDENTIALS_FILE = Path("~/.config/tiktok-sync/credentials.json")

# DuckDB's memory limit on the sync job's own connection. The diff is a view: reading it runs a
# join of every desired member against every acknowledged one inside this process, which without
# a limit holds ~0.5 GB per million members (4.3 GB at 10M). Under this limit DuckDB spills the
# join to its temp directory instead. Reads and each freeze run under 100MB first and under this
# limit only when they need more (sync/engines/duckdb.py): at 10M acknowledged members one
# audience's diff needs more than 160MB. The process holds ~160 MB before any work (Python,
# Polars, Arrow, DuckDB; dbt renders a DuckDB target in a child process), and DuckDB's RSS runs
# ~80 MB over whatever limit it works under: a 10M first sync peaks at ~350 MB
# (bench/README.md). The profile's memory_limit is sized for `dbt build` and does not apply here.
DEFAULT_SYNC_MEMORY_LIMIT = "200MB"
MEMORY_LIMIT_ENV = "TIKTOK_SYNC_MEMORY_LIMIT"
# Below this DuckDB cannot run the sync's queries at all (it fails every statement).
MIN_SYNC_MEMORY_BYTES = 64 * 1000**2
_MEMORY_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)\s*", re.IGNORECASE)
_MEMORY_UNITS = {
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "tb": 1000**4,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
    "tib": 1024**4,
}


@dataclass(frozen=True)
class WarehouseSettings:
    """The dbt target the sync job reads and writes: its adapter type, schema and credentials.

    `dbt_target` is the target as dbt rendered and parsed it (`sync.engines.dbt_target`): the
    engines open their connection from it through dbt's adapter. DuckDB's file is opened by the
    sync job itself: `path`, and `config_options` and `settings` as dbt-duckdb applies them (the
    first when the database is opened, the second with SET), so the sync runs under the limits
    dbt runs under. Except the memory limit: `memory_limit` is the sync job's own
    (`--memory-limit`, TIKTOK_SYNC_MEMORY_LIMIT) and wins over the profile's, which is sized for
    dbt builds.
    """

    type: str
    path: Path | None
    schema: str
    profile: str
    target: str
    config_options: tuple[tuple[str, str], ...] = ()
    settings: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    memory_limit: str = DEFAULT_SYNC_MEMORY_LIMIT
    dbt_target: DbtTarget | None = field(default=None, repr=False, compare=False)

    @property
    def where(self) -> str:
        """The warehouse in messages: the DuckDB file, or the engine and schema."""
        if self.path is not None:
            return str(self.path)
        return f"the {self.type} warehouse of target '{self.target}' (schema {self.schema})"


@dataclass(frozen=True)
class TikTokSettings:
    """How to reach TikTok. The token never appears in repr or logs."""

    api_base: str = DEFAULT_BASE_URL
    advertiser_id: str | None = None
    access_token: str | None = field(default=None, repr=False)
    app_id: str | None = None
    app_secret: str | None = field(default=None, repr=False)


def _env_var(name: str, default: str | None = None) -> str:
    if name in os.environ:
        return os.environ[name]
    if default is not None:
        return default
    raise ConfigError(f"the dbt profile uses env_var('{name}') but {name} is not set; set it")


def _render(text: str, where: Path) -> Any:
    """Render the profile's Jinja (env_var calls) the way dbt does, then parse YAML."""
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    env.globals["env_var"] = _env_var
    try:
        return yaml.safe_load(env.from_string(text).render())
    except (jinja2.TemplateError, yaml.YAMLError) as exc:
        raise ConfigError(f"{where} cannot be read: {exc}") from None


def profiles_path(profiles_dir: str | os.PathLike[str] | None) -> Path:
    if profiles_dir is not None:
        directory = Path(profiles_dir)
    elif os.environ.get("DBT_PROFILES_DIR"):
        directory = Path(os.environ["DBT_PROFILES_DIR"])
    elif Path("profiles.yml").exists():
        directory = Path(".")
    else:
        directory = Path("~/.dbt").expanduser()
    return directory / "profiles.yml"


def project_profile_name(project_dir: Path) -> str:
    path = project_dir / "dbt_project.yml"
    if not path.exists():
        raise ConfigError(
            f"no dbt_project.yml in {project_dir.resolve()}; run from the dbt project "
            "or pass --project-dir"
        )
    # Parse first, render only the profile name: the rest of dbt_project.yml (hooks such as
    # on-run-start) calls project macros that only dbt can render.
    try:
        project = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} cannot be read: {exc}") from None
    name = project.get("profile") if isinstance(project, dict) else None
    if isinstance(name, str) and "{" in name:
        name = _render(name, path)
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{path} names no profile (profile: ...)")
    return name


def sync_memory_limit(value: str | None = None) -> str:
    """The sync job's DuckDB memory limit: `value` (--memory-limit), else
    TIKTOK_SYNC_MEMORY_LIMIT, else the default; checked here, because DuckDB takes a malformed
    or tiny value and then fails every statement of the connection."""
    source = "--memory-limit"
    if value is None:
        value, source = os.environ.get(MEMORY_LIMIT_ENV), MEMORY_LIMIT_ENV
    if value is None:
        return DEFAULT_SYNC_MEMORY_LIMIT
    match = _MEMORY_SIZE.fullmatch(value)
    if match is None:
        raise ConfigError(
            f"{source} must be a size such as 256MB or 1GiB (units KB, MB, GB, TB, KiB, MiB, "
            f"GiB, TiB), got {value!r}"
        )
    if memory_bytes(value) < MIN_SYNC_MEMORY_BYTES:
        raise ConfigError(
            f"{source} is {value.strip()}, too little for DuckDB to read the diff; give it at "
            f"least 64MB (default {DEFAULT_SYNC_MEMORY_LIMIT})"
        )
    return f"{match.group(1)}{match.group(2)}"


def memory_bytes(value: str) -> float:
    """The bytes of a DuckDB size such as 200MB or 1GiB (ValueError if it is not one)."""
    match = _MEMORY_SIZE.fullmatch(value)
    if match is None:
        raise ValueError(f"not a memory size: {value!r}")
    return float(match.group(1)) * _MEMORY_UNITS[match.group(2).lower()]


def load_warehouse(
    project_dir: str | os.PathLike[str] = ".",
    profiles_dir: str | os.PathLike[str] | None = None,
    target: str | None = None,
    memory_limit: str | None = None,
) -> WarehouseSettings:
    """The warehouse of the dbt profile, as dbt would pick and render it, and the sync's memory
    limit (DuckDB only)."""
    limit = sync_memory_limit(memory_limit)
    project = Path(project_dir)
    profile_name = os.environ.get("DBT_PROFILE") or project_profile_name(project)
    path = profiles_path(profiles_dir)
    if not path.exists():
        raise ConfigError(
            f"no dbt profile at {path}; pass --profiles-dir or set DBT_PROFILES_DIR to the folder "
            "of your profiles.yml (make demo and make test use integration_tests/profiles.yml)"
        )
    profiles = _parse(path)
    profile = profiles.get(profile_name) if isinstance(profiles, dict) else None
    if not isinstance(profile, dict):
        raise ConfigError(f"{path} has no profile '{profile_name}' (named in dbt_project.yml)")
    target_name = target or os.environ.get("DBT_TARGET") or profile.get("target")
    if isinstance(target_name, str) and "{" in target_name:
        target_name = _render(target_name, path)
    outputs = profile.get("outputs") or {}
    output = outputs.get(target_name) if isinstance(outputs, dict) else None
    if not isinstance(output, dict):
        known = ", ".join(sorted(outputs)) if isinstance(outputs, dict) else "none"
        raise ConfigError(
            f"profile '{profile_name}' has no target '{target_name}' (known: {known})"
        )
    rendered = render_target(output, profile_name, str(target_name))
    if rendered.type != "duckdb":
        return WarehouseSettings(
            type=rendered.type,
            path=None,
            schema=rendered.schema,
            profile=profile_name,
            target=str(target_name),
            memory_limit=limit,
            dbt_target=rendered,
        )
    credentials = rendered.credentials
    raw_path = str(credentials.path)
    if raw_path == ":memory:" or raw_path.startswith("md:"):
        raise ConfigError(
            f"target '{target_name}' uses DuckDB path '{raw_path}'; the sync job needs a file "
            "that outlives dbt (set path: to a .duckdb file)"
        )
    where = f"target '{target_name}' of {path}"
    return WarehouseSettings(
        type=rendered.type,
        path=Path(raw_path).expanduser(),
        schema=rendered.schema or "main",
        profile=profile_name,
        target=str(target_name),
        config_options=_duckdb_options(
            {"config_options": credentials.config_options}, "config_options", where
        ),
        settings=_duckdb_options({"settings": credentials.settings}, "settings", where),
        memory_limit=limit,
        dbt_target=rendered,
    )


def _parse(path: Path) -> Any:
    """profiles.yml as YAML, unrendered: the chosen target is rendered by dbt alone, so an
    env_var() in another target need not be set (dbt's own rule)."""
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path} cannot be read: {exc}") from None


_SETTING_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _duckdb_options(output: dict[str, Any], key: str, where: str) -> tuple[tuple[str, str], ...]:
    """A target's `settings` or `config_options` as (name, text) pairs, names checked."""
    raw = output.get(key) or {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: {key} must be a mapping of DuckDB setting: value")
    pairs = []
    for name, value in raw.items():
        if not isinstance(name, str) or not _SETTING_NAME.fullmatch(name):
            raise ConfigError(f"{where}: {key} has {name!r}, not a DuckDB setting name")
        text = ("true" if value else "false") if isinstance(value, bool) else str(value)
        pairs.append((name, text))
    return tuple(pairs)


def read_credentials_file(path: Path, *, token_from_env: bool = False) -> dict[str, str]:
    """The credentials file `tiktok-sync auth` writes: JSON with access_token.

    With `token_from_env` (TIKTOK_ACCESS_TOKEN is set, and wins over the file) a file that
    cannot be read is a warning, not an error: the token the user gave works without it.

    A file other users can open gets a warning, not a refusal (ssh refuses such a key): the
    token it holds is already as exposed as it will be, refusing would stop every scheduled sync
    on the day the mode changed (a restore from backup, a umask in a container) with the token
    still valid, and the fix is one command, which the warning names. A refusal would also not
    take the token back from whoever read it: that is `tiktok-sync auth` again.
    """
    path = path.expanduser()
    _warn_if_open_to_others(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        problem = f"credentials file {path} cannot be read ({type(exc).__name__})"
        if token_from_env:
            logger.warning("%s; ignored, since TIKTOK_ACCESS_TOKEN is set", problem)
            return {}
        raise ConfigError(
            f"{problem}; fix or remove it (`tiktok-sync auth` writes a new one), or set "
            "TIKTOK_ACCESS_TOKEN"
        ) from None
    if not isinstance(data, dict):
        if token_from_env:
            logger.warning(
                "credentials file %s is not a JSON object; ignored, since TIKTOK_ACCESS_TOKEN "
                "is set",
                path,
            )
            return {}
        raise ConfigError(
            f"credentials file {path} is not a JSON object; fix or remove it, or set "
            "TIKTOK_ACCESS_TOKEN"
        )
    return {str(k): str(v) for k, v in data.items() if isinstance(v, str | int)}


def _warn_if_open_to_others(path: Path) -> None:
    try:
        mode = path.stat().st_mode
    except OSError:
        return  # missing or unreachable: reading it says what is wrong
    if stat.S_ISREG(mode) and mode & 0o077:
        logger.warning(
            "credentials file %s can be opened by other users (mode %04o): run `chmod 600 %s`",
            path,
            stat.S_IMODE(mode),
            path,
        )


def credentials_path(credentials_file: str | os.PathLike[str] | None = None) -> Path:
    """The credentials file: the option, else TIKTOK_CREDENTIALS_FILE, else the default.

    `tiktok-sync auth` writes it where every other command reads it.
    """
    raw = credentials_file or os.environ.get("TIKTOK_CREDENTIALS_FILE") or DEFAULT_CREDENTIALS_FILE
    return Path(raw).expanduser()


def load_tiktok(
    *,
    api_base: str | None = None,
    advertiser_id: str | None = None,
    credentials_file: str | os.PathLike[str] | None = None,
) -> TikTokSettings:
    """TikTok settings: option, else environment variable, else credentials file."""
    env_token = os.environ.get("TIKTOK_ACCESS_TOKEN")
    stored = read_credentials_file(
        credentials_path(credentials_file), token_from_env=bool(env_token)
    )
    base = api_base or os.environ.get("TIKTOK_API_BASE") or DEFAULT_BASE_URL
    if not base.endswith("/"):
        base += "/"
    advertiser = (
        advertiser_id or os.environ.get("TIKTOK_ADVERTISER_ID") or stored.get("advertiser_id")
    )
    if advertiser is not None and not advertiser.strip().isdigit():
        raise ConfigError("the advertiser id must be TikTok's numeric id, e.g. 7000000000000000001")
    settings = TikTokSettings(
        api_base=base,
        advertiser_id=advertiser.strip() if advertiser else None,
        access_token=env_token or stored.get("access_token"),
        app_id=os.environ.get("TIKTOK_APP_ID") or stored.get("app_id"),
        app_secret=os.environ.get("TIKTOK_APP_SECRET") or stored.get("app_secret"),
    )
    # Masked in every output from now on; the app id is shown, and never taken for a piece.
    remember(settings.access_token, settings.app_secret, public=(settings.app_id,))
    return settings
