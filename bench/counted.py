"""`tiktok-sync` with every SQL statement it sends to the warehouse counted.

    python -m bench.counted REPORT -- run --json ...

Runs the CLI exactly as the `tiktok-sync` script does, after wrapping the three methods of each
engine through which every statement goes (`Engine.execute`: a write, `fetch`: a small read,
`stream`: a large read, whatever its number of fetches), and `fetch_soon` (a small read started
beside others) where an engine runs it on sessions of its own, counted as a `fetch` (elsewhere
it calls `fetch`). At exit it writes the counts as JSON to REPORT. The wrappers add a counter
increment per statement: nothing measurable.
"""

from __future__ import annotations

import atexit
import functools
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

COUNTED = ("execute", "fetch", "stream")


def _wrap(cls: type, name: str, counts: Counter[str], counted_as: str | None = None) -> None:
    original = getattr(cls, name)

    @functools.wraps(original)
    def counted(self: Any, *args: Any, **kwargs: Any) -> Any:
        counts[counted_as or name] += 1
        return original(self, *args, **kwargs)

    setattr(cls, name, counted)


def main() -> None:
    report, separator, *args = sys.argv[1:]
    assert separator == "--", __doc__
    counts: Counter[str] = Counter()
    from sync.engines.base import Engine
    from sync.engines.duckdb import DuckDBEngine

    engines: list[type] = [DuckDBEngine]
    try:
        from sync.engines.postgres import PostgresEngine

        engines.append(PostgresEngine)
    except ImportError:  # pragma: no cover - without the [postgres] extra
        pass
    for cls in engines:
        for name in COUNTED:
            _wrap(cls, name, counts)
        if cls.fetch_soon is not Engine.fetch_soon:  # type: ignore[attr-defined]
            _wrap(cls, "fetch_soon", counts, counted_as="fetch")
    atexit.register(lambda: Path(report).write_text(json.dumps(dict(counts))))
    sys.argv = ["tiktok-sync", *args]
    from sync.cli import main as cli

    cli()


if __name__ == "__main__":
    main()
