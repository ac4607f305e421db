"""Shared fixtures and options."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.dbt_support import PROJECT_DIR, DbtProject, install_package, make_dbt_project
from tests.reporting import summaries


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--soak-runs",
        type=int,
        default=None,
        help="Runs of the long soak (tests/test_soak.py, marked slow; default 300, or "
        "TIKTOK_SYNC_SOAK_RUNS). Select it with -m slow, as `make soak` does.",
    )


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    for text in summaries(config):
        terminalreporter.write_sep("-", "summary")
        terminalreporter.write_line(text)


@pytest.fixture(scope="session", autouse=True)
def _package_installed() -> None:
    """integration_tests/ uses the package through `dbt deps` (make test runs it too)."""
    install_package(PROJECT_DIR)


@pytest.fixture
def dbt_project(tmp_path: Path) -> Iterator[DbtProject]:
    yield make_dbt_project(tmp_path / "dbt")
