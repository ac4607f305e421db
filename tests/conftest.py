"""Shared fixtures."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.dbt_support import DbtProject, make_dbt_project


@pytest.fixture
def dbt_project(tmp_path: Path) -> Iterator[DbtProject]:
    yield make_dbt_project(tmp_path / "dbt")
