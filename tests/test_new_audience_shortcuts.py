"""What a run reads for an audience that has no TikTok id yet, or one no batch was ever sent to,
without running the diff's join, on DuckDB and a real Postgres server.

`tiktok_audience_diff` joins the ledger on the audience's TikTok id, so for an audience
without one (never synced, or its create pending) it holds the desired members, every one an
add; for an id no ledger row names (just created) the same. The plan's counts and the first
freeze of a new streaming audience take them from `tiktok_audience_desired_members` instead
(on a first sync of 1M identifiers on Postgres, each such read of the diff took ~1 s). These
tests hold the shortcuts to what the diff itself says, in a warehouse where another audience
has acknowledged and unconfirmed changes and the demo's suppression list removes members.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

import sync.warehouse
from sync.warehouse import Warehouse
from tests.sync_support import mapping_batch
from tests.warehouses import Warehouses, WarehouseUnderTest

HIGH_VALUE = "demo_high_value_customers"  # streaming, mirror: synced, then changed
MOBILE = "demo_mobile_app_users"  # streaming, add_only: new
ADVERTISER = "7000000000000000001"
SYNCED_ID = "7100000000000000001"
NEW_ID = "7100000000000000002"


@contextmanager
def _demo(engine: Warehouses, tmp_path: Path) -> Iterator[tuple[WarehouseUnderTest, Warehouse]]:
    with (
        engine.demo(tmp_path / "dbt") as warehouse,
        Warehouse.open(warehouse.settings(), lock_holder="test") as opened,
    ):
        yield warehouse, opened


def _diff(warehouse: WarehouseUnderTest, opened: Warehouse) -> Counter[tuple[str, str, str]]:
    """(audience, action, id type) -> rows, as tiktok_audience_diff says."""
    diff = opened.table("tiktok_audience_diff")
    rows = warehouse.query(
        f"select audience_key, action, id_type, count(*) from {diff} "
        "group by audience_key, action, id_type"
    )
    return Counter({(str(k), str(a), str(t)): int(n) for k, a, t, n in rows})


def _counted(opened: Warehouse) -> Counter[tuple[str, str, str]]:
    out: Counter[tuple[str, str, str]] = Counter()
    for key, counts in opened.counts().items():
        for action, per_type in (("add", counts.pending_adds), ("remove", counts.pending_removes)):
            for id_type, n in per_type.items():
                if n:
                    out[(key, action, id_type)] = n
    return out


def _sync_half_of_high_value(opened: Warehouse) -> None:
    """HIGH_VALUE gets an id; half its batches acknowledged, one sent without an answer."""
    opened.begin_run("earlier-run")
    opened.register_pending(HIGH_VALUE, ADVERTISER, "streaming", HIGH_VALUE, "earlier-run")
    opened.register_created(HIGH_VALUE, SYNCED_ID)
    changes = opened.freeze_changes(HIGH_VALUE, 7)
    for n, chunk in enumerate(opened.frozen(changes, 7)):
        batch = mapping_batch(opened, changes, chunk, SYNCED_ID, ADVERTISER)
        opened.batch_sent(batch)
        if n % 2 == 0:
            opened.batch_acknowledged(batch)


def test_counts_of_audiences_without_an_id_are_what_the_diff_holds(
    engine: Warehouses, tmp_path: Path
) -> None:
    with _demo(engine, tmp_path) as (warehouse, opened):
        never_synced = (_counted(opened), _diff(warehouse, opened))
        _sync_half_of_high_value(opened)
        # An audience whose create is pending: still no id.
        opened.register_pending(MOBILE, ADVERTISER, "streaming", MOBILE, "earlier-run")
        mixed = (_counted(opened), _diff(warehouse, opened))

    assert never_synced[0] == never_synced[1]
    assert mixed[0] == mixed[1]
    # The diff's own path ran too: HIGH_VALUE has acknowledged members, so fewer adds.
    assert (
        0
        < sum(n for (k, _, _), n in mixed[1].items() if k == HIGH_VALUE)
        < sum(n for (k, _, _), n in never_synced[1].items() if k == HIGH_VALUE)
    )


def test_the_first_freeze_of_a_new_audience_is_what_the_diff_holds(
    engine: Warehouses, tmp_path: Path
) -> None:
    with _demo(engine, tmp_path) as (warehouse, opened):
        _sync_half_of_high_value(opened)
        opened.begin_run("run")
        opened.register_pending(MOBILE, ADVERTISER, "streaming", MOBILE, "run")
        opened.register_created(MOBILE, NEW_ID)
        diff = warehouse.query(
            f"select id_type, id_hash, action from {opened.table('tiktok_audience_diff')} "
            "where audience_key = ?",
            [MOBILE],
        )
        freeze = opened.freeze_changes(MOBILE, 5, new_audience=True)
        chunks = list(opened.frozen(freeze, 5))

    frozen = [(c.id_type, h, c.action) for c in chunks for h in c.hashes.to_list()]
    assert diff and Counter(frozen) == Counter((str(t), str(h), str(a)) for t, h, a in diff)
    assert len({c.batch_no for c in chunks}) == len(chunks)  # one id type per batch
    # Batches of 5, but the last of each id type (numbered by the engine's row counter on
    # DuckDB, by row_number() elsewhere).
    sizes: dict[str, list[int]] = {}
    for chunk in sorted(chunks, key=lambda c: c.batch_no):
        sizes.setdefault(chunk.id_type, []).append(len(chunk.hashes))
    assert all(
        all(n == 5 for n in per_type[:-1]) and 0 < per_type[-1] <= 5 for per_type in sizes.values()
    )


def test_a_new_audience_frozen_a_part_at_a_time_reads_back_what_the_diff_holds(
    engine: Warehouses, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Parts of ~4 members: the demo audience's id types split into 2-16 parts each.
    monkeypatch.setattr(sync.warehouse, "PART_ROWS", 4)
    with _demo(engine, tmp_path) as (warehouse, opened):
        # A null hash (the package's models never make one) is copied like the others.
        warehouse.query(
            f"insert into {opened.table('tiktok_audience_members')} "
            "(audience_key, id_type, id_hash) values (?, 'GAID_SHA256', null)",
            [MOBILE],
        )
        opened.begin_run("run")
        opened.register_pending(MOBILE, ADVERTISER, "streaming", MOBILE, "run")
        opened.register_created(MOBILE, NEW_ID)
        changes = opened.table("tiktok_sync_changes")
        diff = warehouse.query(
            f"select id_type, id_hash, action from {opened.table('tiktok_audience_diff')} "
            "where audience_key = ?",
            [MOBILE],
        )
        freeze = opened.freeze_changes(MOBILE, 3, new_audience=True)
        (copied_first,) = warehouse.query(f"select count(*) from {changes}")[0]
        opened.copy_ahead(freeze)
        (copied_ahead,) = warehouse.query(f"select count(*) from {changes}")[0]
        opened.copy_ahead(freeze)  # one part ahead of reading at most: copies nothing
        (copied_twice,) = warehouse.query(f"select count(*) from {changes}")[0]
        chunks = list(opened.frozen(freeze, 3))
        (copied_all,) = warehouse.query(f"select count(*) from {changes}")[0]

    frozen = [(c.id_type, h, c.action) for c in chunks for h in c.hashes.to_list()]
    assert ("GAID_SHA256", None, "add") in frozen
    assert Counter(frozen) == Counter((str(t), h and str(h), str(a)) for t, h, a in diff)
    numbers = [c.batch_no for c in chunks]
    assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers)  # read in batch order
    assert all(0 < len(c.hashes) <= 3 for c in chunks)
    assert copied_all == len(diff)
    if warehouse.engine == "duckdb":  # a file the run holds: copied a part at a time
        assert 0 < copied_first < copied_ahead == copied_twice < copied_all
    else:  # a server warehouse: at once, so that no build changes the members between parts
        assert copied_first == copied_all
