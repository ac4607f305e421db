"""The JSON Schemas (draft 2020-12) of what each command prints under `--json`.

One file per command (`plan.json`, `run.json`, `check.json`, `audiences.json`,
`advertisers.json`, `auth.json`) and `error.json` for any command that fails. They ship in the
wheel so a consumer can validate against the schemas of the version it runs. The promise
(README "--json"): additive changes keep `SCHEMA_VERSION`; removing or renaming a key, or
changing its type, bumps it.
"""

from __future__ import annotations

import json
from importlib.resources import files
from typing import Any

SCHEMA_VERSION = 1

COMMANDS = ("plan", "run", "check", "audiences", "advertisers", "auth")


def schema(name: str) -> dict[str, Any]:
    """The schema `name` (a command, or "error") as shipped with this installation."""
    loaded: dict[str, Any] = json.loads(files(__name__).joinpath(f"{name}.json").read_text())
    return loaded
