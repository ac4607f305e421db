"""Every relation dbt creates fits Postgres' and Redshift's identifier limit.

Postgres cuts identifiers at 63 bytes and dbt-postgres refuses longer relation names, and dbt
names a unit test's temporary relation after the unit test: a longer name fails the build on
Postgres (and Redshift, 127) while DuckDB accepts it. Checked on the files, without a build, so
it costs nothing and names the culprit.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.dbt_support import PROJECT_DIR, ROOT

POSTGRES_MAX_IDENTIFIER = 63


def _project_files(pattern: str) -> list[Path]:
    return [
        path
        for base in (
            ROOT / "models",
            ROOT / "macros",
            PROJECT_DIR / "models",
            PROJECT_DIR / "seeds",
        )
        for path in base.rglob(pattern)
        if "target" not in path.parts and "dbt_packages" not in path.parts
    ]


def test_unit_test_models_and_seeds_have_names_postgres_accepts() -> None:
    names = [p.stem for p in _project_files("*.sql")] + [p.stem for p in _project_files("*.csv")]
    for path in _project_files("*.yml"):
        document = yaml.safe_load(path.read_text()) or {}
        names += [test["name"] for test in document.get("unit_tests", [])]
    assert len(names) > 50  # the package's and the test project's models, seeds and unit tests
    too_long = [n for n in names if len(n.encode()) > POSTGRES_MAX_IDENTIFIER]
    assert too_long == [], f"longer than {POSTGRES_MAX_IDENTIFIER} bytes: {too_long}"
