"""Shared fixtures and options."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dbt.config  # noqa: F401
import pytest

from tests.dbt_support import PROJECT_DIR, DbtProject, install_package, make_dbt_project
from tests.engine_warehouses import DoubleWarehouses, double_warehouses
from tests.reporting import summary_of
from tests.warehouses import ENGINES, DuckDBWarehouses, PostgresWarehouses, Warehouses

# dbt is loaded in every test process, so a DuckDB target is rendered in-process, as in a process
# that embeds dbt, and the hundreds of in-process CLI invocations do not each start a process
# of ~1 s to render it (sync.engines.dbt_target.render_target). Commands run as processes of
# their own render it in a child, as for users; tests/test_render_target.py compares the two.

# The engines of the engine targets (make test-snowflake, ...), for tests marked every_engine.
ENGINE_TARGETS = ("snowflake", "bigquery", "spark")

# Set in CI (.ci/run), where PostgreSQL and dbt-postgres are installed: a missing one fails the
# Postgres tests instead of skipping them.
REQUIRE_POSTGRES_ENV = "TIKTOK_SYNC_REQUIRE_POSTGRES"
_POSTGRES_TESTS = pytest.StashKey[bool]()
# The files that take longest in `make test` (minutes each on 2 busy cores), longest first. They
# start first, so that pytest-xdist's workers (`--dist loadfile --no-loadscope-reorder`: whole
# files, in the order collected) end together rather than one running the soak alone at the end.
SLOWEST_FILES = (
    "tests/test_soak.py",
    "tests/test_secrets_surface.py",
    "tests/test_portable_normalisation.py",
    "tests/test_warehouse_build.py",
    "tests/test_bench_smoke.py",
)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--soak-runs",
        type=int,
        default=None,
        help="Runs of the long soak (tests/test_soak.py, marked slow; default 300, or "
        "TIKTOK_SYNC_SOAK_RUNS). Select it with -m slow, as `make soak` does.",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test taking `engine` runs once per engine, or on those `@pytest.mark.engines` names.
    A test marked `every_engine` (a Guarantees test) runs on the engine targets' warehouses too,
    each behind its marker (so not in make test); a keyword names an engine the test skips
    there, with the reason: `@pytest.mark.every_engine(bigquery="why")`."""
    if "engine" not in metafunc.fixturenames:
        return
    marker = metafunc.definition.get_closest_marker("engines")
    params: list[Any] = list(marker.args if marker is not None else ENGINES)
    every = metafunc.definition.get_closest_marker("every_engine")
    if every is not None:
        for name in ENGINE_TARGETS:
            marks = [getattr(pytest.mark, name)]
            if name in every.kwargs:
                marks.append(pytest.mark.skip(reason=every.kwargs[name]))
            params.append(pytest.param(name, marks=marks))
    metafunc.parametrize("engine", params, indirect=True)


def _engine_of(item: pytest.Item) -> str | None:
    callspec = getattr(item, "callspec", None)
    return None if callspec is None else callspec.params.get("engine")


@pytest.hookimpl(trylast=True)  # after -k and -m deselected what they deselect
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    """The Postgres runs last, each file in its order: the DuckDB tests meanwhile leave the
    Postgres demo template time to build in the background (`_postgres_ahead`). Before them,
    the slowest files first (`SLOWEST_FILES`): pytest-xdist hands out whole files in the order
    of their first test."""
    rank = {path: n for n, path in enumerate(SLOWEST_FILES)}

    def order(item: pytest.Item) -> tuple[bool, int]:
        path = item.nodeid.split("::", 1)[0]
        return _engine_of(item) == "postgres", rank.get(path, len(rank))

    items.sort(key=order)
    config.stash[_POSTGRES_TESTS] = any(_engine_of(item) == "postgres" for item in items)


_summaries: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Collects what tests add with `add_summary`, from pytest-xdist's workers too."""
    if report.when == "call":
        _summaries.extend(summary_of(report))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for text in _summaries:
        terminalreporter.write_sep("-", "summary")
        terminalreporter.write_line(text)


@pytest.fixture(scope="session", autouse=True)
def _package_installed() -> None:
    """integration_tests/ uses the package through `dbt deps` (make test runs it too)."""
    install_package(PROJECT_DIR)


@pytest.fixture
def dbt_project(tmp_path: Path) -> Iterator[DbtProject]:
    yield make_dbt_project(tmp_path / "dbt")


@pytest.fixture(scope="session", autouse=True)
def _postgres_ahead(request: pytest.FixtureRequest, _package_installed: None) -> None:
    """In a session with Postgres tests, the server starts with the session and dbt builds
    the demo template in the background while the DuckDB tests run (the build takes a minute
    or more, mostly dbt-postgres loading seeds row by row). Where PostgreSQL cannot run, the
    Postgres tests say why themselves."""
    from tests.engines.postgres import unavailable_reason

    if request.config.stash.get(_POSTGRES_TESTS, False) and unavailable_reason() is None:
        warehouses: PostgresWarehouses = request.getfixturevalue("postgres_warehouses")
        warehouses.prepare()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Any]:
    """One real PostgreSQL server for the session, in sessions that run Postgres tests."""
    from tests.engines.postgres import PostgresServer, unavailable_reason

    reason = unavailable_reason()
    if reason is not None:
        message = f"PostgreSQL: {reason}"
        if os.environ.get(REQUIRE_POSTGRES_ENV):
            pytest.fail(f"{message} ({REQUIRE_POSTGRES_ENV} is set)", pytrace=False)
        pytest.skip(message)
    with PostgresServer() as server:
        yield server


@pytest.fixture(scope="session")
def postgres_warehouses(
    postgres_server: Any, tmp_path_factory: pytest.TempPathFactory
) -> PostgresWarehouses:
    return PostgresWarehouses(postgres_server, tmp_path_factory.getbasetemp())


@pytest.fixture
def engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Warehouses:
    """Where the test's warehouse comes from: DuckDB files, databases of a Postgres server, or
    servers of a double (tests/engine_warehouses.py), or a local Spark session
    (tests/spark_warehouses.py)."""
    if request.param == "duckdb":
        return DuckDBWarehouses(tmp_path_factory)
    if request.param in ("postgres", *ENGINE_TARGETS):
        warehouses: Warehouses = request.getfixturevalue(f"{request.param}_warehouses")
        return warehouses
    raise ValueError(f"unknown engine {request.param!r}")


@pytest.fixture(scope="session", name="snowflake_warehouses")
def _snowflake_warehouses(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DoubleWarehouses]:
    warehouses = double_warehouses("snowflake", tmp_path_factory.getbasetemp())
    yield warehouses
    warehouses.close()


@pytest.fixture(scope="session", name="bigquery_warehouses")
def _bigquery_warehouses(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DoubleWarehouses]:
    warehouses = double_warehouses("bigquery", tmp_path_factory.getbasetemp())
    yield warehouses
    warehouses.close()


@pytest.fixture(scope="session", name="spark_warehouses")
def _spark_warehouses(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Warehouses]:
    from tests.spark_warehouses import SparkWarehouses

    warehouses = SparkWarehouses(tmp_path_factory.getbasetemp())
    yield warehouses
    warehouses.close()
