"""Where a dbt build's SQL time went, from dbt's debug log (logs/dbt.log).

dbt logs every statement it sends ("On <node>: <sql>") and then "SQL status: OK in N
seconds". Summing those per kind of statement of the audience materialization separates the
normalise + hash query from writing the shared member tables, which run_results.json (one time
per node) cannot.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

_STATEMENT = re.compile(r"On (\S+): (.*)")
_STATUS = re.compile(r"SQL status: \S+ in ([0-9.]+) seconds")
_COMMENT = re.compile(r"/\*.*?\*/")


def statement_kind(node: str, sql: str) -> str:
    sql = " ".join(_COMMENT.sub("", sql).split()).lower()
    if node.startswith("test."):
        return "data tests"
    if sql.startswith("create table") and "__dbt_tmp" in sql and "with audience as" in sql:
        return "normalise + hash (audience create table)"
    for table in ("tiktok_audience_members", "tiktok_rejected_identifiers"):
        if (sql.startswith("insert into") or sql.startswith("delete from")) and table in sql:
            return f"write {table}"
    if sql.startswith("commit"):
        return "commit"
    return "other statements"


def last_invocation_statements(log: Path) -> dict[str, float]:
    """Seconds per statement kind in the last dbt invocation written to `log`."""
    text = log.read_text(encoding="utf-8", errors="replace")
    start = text.rfind("Running with dbt=")
    lines = text[start if start >= 0 else 0 :].splitlines()
    totals: dict[str, float] = defaultdict(float)
    pending: tuple[str, str] | None = None
    for line in lines:
        status = _STATUS.search(line)
        if status and pending is not None:
            totals[statement_kind(*pending)] += float(status.group(1))
            pending = None
            continue
        statement = _STATEMENT.search(line)
        if statement:
            pending = (statement.group(1), statement.group(2))
        elif pending is not None and len(pending[1]) < 400:
            pending = (pending[0], pending[1] + " " + line.strip())
    return dict(totals)
