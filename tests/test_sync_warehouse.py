"""The warehouse side of the sync job: opening errors with their fix, and streaming the diff.

Specifications: a missing, locked or unbuilt warehouse is a WarehouseError (exit 2) saying what
to do; the diff is read in batches of exactly the requested size, and recording batches while a
reader is open neither drops nor repeats a row (DuckDB gives the reader a snapshot).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from sync.errors import WarehouseError
from sync.settings import WarehouseSettings
from sync.warehouse import Warehouse
from tests.sync_support import SyncEnv, sync_env

HIGH_VALUE = "demo_high_value_customers"


@pytest.fixture
def env(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> Iterator[SyncEnv]:
    with sync_env(tmp_path_factory, tmp_path / "dbt") as sync:
        yield sync


def settings(path: Path) -> WarehouseSettings:
    return WarehouseSettings("duckdb", path, "main", "tiktok_sync", "dev")


def test_a_missing_warehouse_says_to_run_dbt_build(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.duckdb"

    with pytest.raises(WarehouseError, match=r"does not exist; run `dbt build` first"):
        Warehouse.open(settings(missing))
    assert not missing.exists()  # not created empty by the attempt


def test_an_unbuilt_warehouse_names_what_is_missing(tmp_path: Path) -> None:
    empty = tmp_path / "empty.duckdb"
    duckdb.connect(str(empty)).close()

    with pytest.raises(WarehouseError, match=r"lacks tiktok_audience_targets, .*run `dbt build`"):
        Warehouse.open(settings(empty))


def test_a_warehouse_held_by_another_process_says_to_wait(env: SyncEnv) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys; c = duckdb.connect(sys.argv[1]); print('held', flush=True); "
            "sys.stdin.read()",
            str(env.db_path),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        for read_only in (False, True):
            with pytest.raises(WarehouseError, match=r"another process .* holds .*wait for it"):
                Warehouse.open(settings(env.db_path), read_only=read_only)
    finally:
        holder.communicate("", timeout=10)


def test_the_diff_streams_in_exact_batches_while_batches_are_recorded(env: SyncEnv) -> None:
    expected = env.desired()[HIGH_VALUE]["EMAIL_SHA256"]
    seen: list[str] = []
    sizes: list[int] = []
    with Warehouse.open(settings(env.db_path)) as warehouse:
        warehouse.register_pending(HIGH_VALUE, "1", "streaming", HIGH_VALUE, "test-run")
        warehouse.register_created(HIGH_VALUE, "7100000000000000001")
        for batch in warehouse.diff_batches(HIGH_VALUE, "add", "EMAIL_SHA256", 100):
            sizes.append(len(batch))
            seen += batch.to_list()
            # Recorded while the reader is open: the reader's snapshot must not change.
            warehouse.record_added(
                HIGH_VALUE, "7100000000000000001", "1", "EMAIL_SHA256", batch, "test-run"
            )
        # Recording the same batch again (an at-least-once resend) adds no row.
        warehouse.record_added(
            HIGH_VALUE, "7100000000000000001", "1", "EMAIL_SHA256", batch, "test-run"
        )
        left = warehouse.counts([HIGH_VALUE])[HIGH_VALUE]

    assert len(seen) == len(set(seen)) and set(seen) == expected
    assert sizes == [100] * (len(expected) // 100) + [len(expected) % 100]
    assert "EMAIL_SHA256" not in left.pending_adds
    assert left.acknowledged["EMAIL_SHA256"] == len(expected)
