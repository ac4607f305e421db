"""The warehouse side of the sync job: opening errors with their fix, and streaming the diff.

Specifications: a missing, locked or unbuilt warehouse is a WarehouseError (exit 2) saying what
to do; the diff is read in batches of exactly the requested size, and recording batches while a
reader is open neither drops nor repeats a row (DuckDB gives the reader a snapshot).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from sync.engines.base import Params
from sync.errors import WarehouseError
from sync.settings import DEFAULT_SYNC_MEMORY_LIMIT, WarehouseSettings, load_warehouse
from sync.tiktok import SEGMENT_ID_SCHEMA
from sync.warehouse import CHANGE_GROUP, FREEZE_STRIDE, GROUP_STRIDE, Freeze, Warehouse
from tests.dbt_support import PROJECT_DIR
from tests.sync_support import SyncEnv, mapping_batch, sync_env

HIGH_VALUE = "demo_high_value_customers"


@pytest.fixture
def env(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> Iterator[SyncEnv]:
    with sync_env(tmp_path_factory, tmp_path / "dbt") as sync:
        yield sync


def settings(path: Path, memory_limit: str = DEFAULT_SYNC_MEMORY_LIMIT) -> WarehouseSettings:
    return WarehouseSettings(
        "duckdb", path, "main", "tiktok_sync", "dev", memory_limit=memory_limit
    )


def test_a_missing_warehouse_says_to_run_dbt_build(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.duckdb"

    with pytest.raises(WarehouseError, match=r"no warehouse at .*; run dbt build"):
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
            with pytest.raises(
                WarehouseError, match=r"locked by another process .*wait for it to finish"
            ):
                Warehouse.open(settings(env.db_path), read_only=read_only)
    finally:
        holder.communicate("", timeout=10)


def test_frozen_changes_stream_in_exact_batches_while_batches_are_recorded(env: SyncEnv) -> None:
    expected = env.desired()[HIGH_VALUE]["EMAIL_SHA256"]
    seen: list[str] = []
    sizes: list[int] = []
    with Warehouse.open(settings(env.db_path)) as warehouse:
        warehouse.begin_run("test-run")
        warehouse.register_pending(HIGH_VALUE, "1", "streaming", HIGH_VALUE, "test-run")
        warehouse.register_created(HIGH_VALUE, "7100000000000000001")
        changes = warehouse.freeze_changes(HIGH_VALUE, 100)
        batch_nos = []
        for chunk in warehouse.frozen(changes, 100):
            if chunk.id_type != "EMAIL_SHA256":
                continue
            sizes.append(len(chunk.hashes))
            seen += chunk.hashes.to_list()
            batch_nos.append(chunk.batch_no)
            # Recorded while the reader is open: the reader's snapshot must not change.
            batch = mapping_batch(warehouse, changes, chunk, "7100000000000000001", "1")
            warehouse.batch_sent(batch)
            warehouse.batch_acknowledged(batch)
        left = warehouse.counts([HIGH_VALUE])[HIGH_VALUE]

    assert len(seen) == len(set(seen)) and set(seen) == expected
    assert sizes == [100] * (len(expected) // 100) + [len(expected) % 100]
    assert len(set(batch_nos)) == len(batch_nos)  # one chunk per batch
    assert "EMAIL_SHA256" not in left.pending_adds
    assert left.acknowledged["EMAIL_SHA256"] == len(expected)


def test_a_freeze_groups_changes_adds_first_then_one_group_per_id_type(env: SyncEnv) -> None:
    id_types = [*SEGMENT_ID_SCHEMA, "NOT_AN_ID_TYPE"]
    pairs = [(action, id_type) for action in ("remove", "add") for id_type in id_types]
    values = ", ".join(f"('{action}', '{id_type}')" for action, id_type in pairs)
    with Warehouse.open(settings(env.db_path)) as warehouse:
        rows = warehouse.engine.fetch(
            f"select action, id_type, {CHANGE_GROUP} from (values {values}) as t(action, id_type)"
        )
    group = {(action, id_type): number for action, id_type, number in rows}
    assert len(group) == len(pairs) and len(set(group.values())) == len(pairs)
    adds = [n for (action, _), n in group.items() if action == "add"]
    removes = [n for (action, _), n in group.items() if action == "remove"]
    assert max(adds) < min(removes)  # read in batch order, every add goes before any remove
    assert min(adds) == 0 and max(removes) * GROUP_STRIDE < FREEZE_STRIDE  # within the freeze


def _copy_synthetic(warehouse: Warehouse, batches: list[tuple[int, str, str, int]]) -> Freeze:
    """A freeze of (batch_no, action, id_type, rows) batches, written straight into the ledger:
    distinct hashes, numbered as the freeze numbers them."""
    start = 0
    for batch_no, action, id_type, rows in batches:
        warehouse.engine.execute(
            f"insert into {warehouse.table('tiktok_sync_changes')} "
            "(run_id, audience_key, batch_no, id_type, id_hash, action) "
            "select 'run', 'audience', ?, ?, sha256(cast(i as varchar)), ? "
            "from range(?, ?) as t(i)",
            [batch_no, id_type, action, start, start + rows],
        )
        start += rows
    return Freeze("run", "audience", 0, FREEZE_STRIDE)


def _read(
    warehouse: Warehouse, freeze: Freeze, chunk_rows: int, action: str | None = None
) -> list[tuple[int, str, str, list[str]]]:
    return [
        (c.batch_no, c.action, c.id_type, c.hashes.to_list())
        for c in warehouse.frozen(freeze, chunk_rows, action=action)
    ]


def _per_batch(chunks: list[tuple[int, str, str, list[str]]]) -> dict[int, tuple[str, set[str]]]:
    out: dict[int, tuple[str, set[str]]] = {}
    for batch_no, action, id_type, hashes in chunks:
        out.setdefault(batch_no, (f"{action} {id_type}", set()))[1].update(hashes)
    return out


SYNTHETIC = [  # adds of two id types, then removes: batches of 100, one of 250, a short one
    *[(n, "add", "EMAIL_SHA256", 100) for n in range(5)],
    (5, "add", "EMAIL_SHA256", 37),
    (GROUP_STRIDE, "add", "PHONE_SHA256", 250),
    (GROUP_STRIDE + 1, "add", "PHONE_SHA256", 100),
    (2 * GROUP_STRIDE, "remove", "EMAIL_SHA256", 30),
]


@pytest.mark.parametrize("window_rows", [None, 1, 100, 250, 10_000])
@pytest.mark.parametrize("chunk_rows", [30, 100, 1_000])
def test_frozen_windows_keep_batch_order_and_whole_batches(
    env: SyncEnv, monkeypatch: pytest.MonkeyPatch, window_rows: int | None, chunk_rows: int
) -> None:
    # Windows of whole batches, a batch larger than a window alone: every chunk is one batch's,
    # full but for a batch's last, in batch order across the windows' edges.
    with Warehouse.open(settings(env.db_path)) as warehouse:
        freeze = _copy_synthetic(warehouse, SYNTHETIC)
        monkeypatch.setattr(type(warehouse.engine), "frozen_window_rows", window_rows)
        chunks = _read(warehouse, freeze, chunk_rows)
        adds = _read(warehouse, freeze, chunk_rows, action="add")
        empty = _read(warehouse, Freeze("run", "other", 0, FREEZE_STRIDE), chunk_rows)

    batch_nos = [c[0] for c in chunks]
    assert batch_nos == sorted(batch_nos)
    sizes = [len(c[3]) for c in chunks]
    expected_sizes = []
    for _, _, _, rows in SYNTHETIC:
        expected_sizes += [chunk_rows] * (rows // chunk_rows) + [rows % chunk_rows] * bool(
            rows % chunk_rows
        )
    assert sizes == expected_sizes
    per_batch = _per_batch(chunks)
    assert {n: (kind, len(h)) for n, (kind, h) in per_batch.items()} == {
        n: (f"{action} {id_type}", rows) for n, action, id_type, rows in SYNTHETIC
    }
    assert len(set().union(*(h for _, h in per_batch.values()))) == sum(r[3] for r in SYNTHETIC)
    assert _per_batch(adds) == {n: v for n, v in per_batch.items() if v[0].startswith("add")}
    assert empty == []


def test_a_file_sized_chunk_is_read_in_small_record_batches(env: SyncEnv) -> None:
    # A customer file's chunk is put together from record batches of a mapping batch's size:
    # each record batch is copied a few times over while it is split, so a large one costs
    # memory; the chunks themselves are as before (sizes, order, every hash once).
    batches = [(0, "add", "EMAIL_SHA256", 25_000), (1, "add", "EMAIL_SHA256", 5_000)]
    with Warehouse.open(settings(env.db_path)) as warehouse:
        freeze = _copy_synthetic(warehouse, batches)
        record_batches: list[int] = []
        stream = warehouse.engine.stream

        def spied(sql: str, params: Params, batch_rows: int) -> Iterator[pa.RecordBatch]:
            for record_batch in stream(sql, params, batch_rows):
                record_batches.append(record_batch.num_rows)
                yield record_batch

        warehouse.engine.stream = spied  # type: ignore[method-assign]
        chunks = _read(warehouse, freeze, 12_000)

    assert [(batch_no, len(hashes)) for batch_no, *_, hashes in chunks] == [
        (0, 12_000),
        (0, 12_000),
        (0, 1_000),
        (1, 5_000),
    ]
    assert len({h for *_, hashes in chunks for h in hashes}) == 30_000
    assert sum(record_batches) == 30_000
    assert max(record_batches) <= 10_000


def test_a_freeze_larger_than_memory_streams_without_spilling(env: SyncEnv) -> None:
    # DuckDB sorts what it reads in the sync's own process: the freeze is read a few batches
    # at a time, so reading it needs memory for those, not for all of it (here, with spilling
    # off, sorting the whole freeze under the reading limit runs out of memory).
    batches = [(n, "add", "EMAIL_SHA256", 10_000) for n in range(100)]
    with Warehouse.open(settings(env.db_path)) as warehouse:
        freeze = _copy_synthetic(warehouse, batches)
        warehouse.engine.execute("CHECKPOINT")  # on disk: evictable without a temp directory
        warehouse.engine.execute("SET temp_directory = ''")
        read = [(c.batch_no, len(c.hashes)) for c in warehouse.frozen(freeze, 10_000)]

    assert read == [(n, 10_000) for n in range(100)]


def test_a_freeze_is_read_under_a_lower_memory_limit(env: SyncEnv) -> None:
    # What the copy left in DuckDB's buffer pool is let go while the freeze is read; the
    # sync's own limit is back once the reader is closed, read out or not.
    with Warehouse.open(settings(env.db_path)) as warehouse:
        freeze = _copy_synthetic(warehouse, SYNTHETIC)
        for stop_after in (1, None):
            chunks = warehouse.frozen(freeze, 100)
            for n, _ in enumerate(chunks, 1):
                assert _current(warehouse, "memory_limit") == ("61.0 MiB",)
                if n == stop_after:
                    chunks.close()
            assert _current(warehouse, "memory_limit") == ("190.7 MiB",)


LIMIT = "current_setting('memory_limit')"


def _diff_of(warehouse: Warehouse, rows: int, id_hash: str) -> None:
    """tiktok_audience_diff replaced by `rows` adds of 'audience' whose id_hash is the SQL
    expression `id_hash` of i: what the freeze reads, made to show the limit it ran under."""
    warehouse.engine.execute(
        f"create or replace view {warehouse.table('tiktok_audience_diff')} as "
        "select 'audience' as audience_key, 'EMAIL_SHA256' as id_type, "
        f"{id_hash} as id_hash, 'add' as action from range({rows}) as t(i)"
    )


def _frozen_limits(warehouse: Warehouse) -> list[tuple[object, ...]]:
    """(changes, distinct hashes, the limits they name) of the run's freeze of 'audience'."""
    return warehouse.engine.fetch(
        "select count(*), count(distinct id_hash), "
        "list(distinct split_part(id_hash, '/', 1) order by 1) "
        f"from {warehouse.table('tiktok_sync_changes')} where audience_key = 'audience'"
    )


def test_a_freeze_is_copied_under_a_lower_memory_limit(env: SyncEnv) -> None:
    # Numbering a freeze's changes sorts all of them inside the sync's process: DuckDB does it
    # under a lower limit (spilling past it) and is back at the sync's own limit afterwards.
    with Warehouse.open(settings(env.db_path)) as warehouse:
        warehouse.begin_run("run")
        _diff_of(warehouse, 250, f"{LIMIT} || '/' || i")
        freeze = warehouse.freeze_changes("audience", 100)

        assert _frozen_limits(warehouse) == [(250, 250, ["95.3 MiB"])]
        assert warehouse.frozen_counts(freeze) == {"add": 250}
        assert _current(warehouse, "memory_limit") == ("190.7 MiB",)


def test_reads_run_under_a_lower_memory_limit_first(env: SyncEnv) -> None:
    # The diff's counts are reads like any other: under the lower limit, or under the sync's
    # own when they need more (here: spilling off, 1M distinct hashes to count); the limit in
    # force while a freeze is read back stays the lower of the two.
    with Warehouse.open(settings(env.db_path, "1GB")) as warehouse:
        warehouse.engine.execute("SET temp_directory = ''")
        small = warehouse.engine.fetch(f"select {LIMIT}")
        large = warehouse.engine.fetch(
            f"select count(distinct sha256(cast(i as varchar))), {LIMIT} from range(1000000) t(i)"
        )

        assert (small, large) == ([("95.3 MiB",)], [(1_000_000, "953.6 MiB")])
        assert _current(warehouse, "memory_limit") == ("953.6 MiB",)
        freeze = _copy_synthetic(warehouse, SYNTHETIC)
        with closing(warehouse.frozen(freeze, 100)) as chunks:
            next(chunks)
            assert warehouse.engine.fetch(f"select {LIMIT}") == [("61.0 MiB",)]


def test_reads_after_one_outgrew_the_lower_limit_skip_it(env: SyncEnv) -> None:
    # The run's reads read the same state: once one ran out of the lower limit (here: spilling
    # off, 1M distinct hashes to count), the later ones start under the sync's own limit
    # instead of failing first. A freeze, a statement of another kind, still tries the lower.
    with Warehouse.open(settings(env.db_path, "1GB")) as warehouse:
        warehouse.begin_run("run")
        warehouse.engine.execute("SET temp_directory = ''")
        before = warehouse.engine.fetch(f"select {LIMIT}")
        warehouse.engine.fetch(
            "select count(distinct sha256(cast(i as varchar))) from range(1000000) t(i)"
        )
        after = warehouse.engine.fetch(f"select {LIMIT}")
        _diff_of(warehouse, 250, f"{LIMIT} || '/' || i")
        warehouse.freeze_changes("audience", 100)

        assert (before, after) == ([("95.3 MiB",)], [("953.6 MiB",)])
        assert _frozen_limits(warehouse) == [(250, 250, ["95.3 MiB"])]


def test_a_freeze_outgrowing_the_lower_limit_runs_again(env: SyncEnv) -> None:
    # A freeze that needs more than the lower limit (here: spilling off, 1M changes to sort)
    # is copied again under the sync's own limit, once: the failed attempt wrote nothing.
    with Warehouse.open(settings(env.db_path, "1GB")) as warehouse:
        warehouse.begin_run("run")
        warehouse.engine.execute("SET temp_directory = ''")
        _diff_of(warehouse, 1_000_000, f"{LIMIT} || '/' || sha256(cast(i as varchar))")
        warehouse.freeze_changes("audience", 10_000)

        assert _frozen_limits(warehouse) == [(1_000_000, 1_000_000, ["953.6 MiB"])]
        assert _current(warehouse, "memory_limit") == ("953.6 MiB",)


def test_a_freeze_under_a_small_sync_limit_keeps_it(env: SyncEnv) -> None:
    # The sync's own limit is already at or below the freeze's lower one: it stays as it is.
    with Warehouse.open(settings(env.db_path, "80MB")) as warehouse:
        warehouse.begin_run("run")
        _diff_of(warehouse, 10, f"{LIMIT} || '/' || i")
        warehouse.freeze_changes("audience", 100)

        assert _frozen_limits(warehouse) == [(10, 10, ["76.2 MiB"])]


def _profile(tmp_path: Path, db_path: Path, extra: str) -> Path:
    (tmp_path / "profiles").mkdir(exist_ok=True)
    (tmp_path / "profiles" / "profiles.yml").write_text(
        "tiktok_sync_integration_tests:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n"
        f"      path: '{db_path}'\n{extra}"
    )
    return tmp_path / "profiles"


def _current(warehouse: Warehouse, *names: str) -> tuple[object, ...]:
    """The settings in force. Streamed: `fetch` itself runs under a lower memory limit."""
    sql = "select " + ", ".join(
        f"current_setting('{name}') as s{n}" for n, name in enumerate(names)
    )
    (batch,) = warehouse.engine.stream(sql, [], 10)
    return tuple(column[0].as_py() for column in batch.columns)


def test_the_profiles_duckdb_settings_apply_to_the_sync_connection(
    env: SyncEnv, tmp_path: Path
) -> None:
    # The limits dbt runs under (profiles.yml `settings`, `config_options`) bind the sync job
    # too: threads set for a small CI runner must not be ignored by tiktok-sync run.
    profiles = _profile(
        tmp_path,
        env.db_path,
        "      config_options:\n        threads: 1\n"
        "      settings:\n        preserve_insertion_order: false\n",
    )
    settings = load_warehouse(PROJECT_DIR, profiles)

    with Warehouse.open(settings) as warehouse:
        values = _current(warehouse, "threads", "preserve_insertion_order")

    assert values == (1, False)
    assert env.cli("plan", "--profiles-dir", str(profiles)).exit_code == 0


def test_the_sync_has_its_own_memory_limit_over_the_profiles(
    env: SyncEnv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The profile's memory_limit is sized for dbt builds; the diff's join in the sync process
    # is bounded by the sync's own limit (default 200MB), spilling to a temp directory beyond
    # it, even when the profile turned spilling off.
    profiles = _profile(
        tmp_path,
        env.db_path,
        "      settings:\n        memory_limit: 4GB\n        temp_directory: ''\n",
    )
    monkeypatch.delenv("TIKTOK_SYNC_MEMORY_LIMIT", raising=False)

    with Warehouse.open(load_warehouse(PROJECT_DIR, profiles)) as warehouse:
        assert _current(warehouse, "memory_limit", "temp_directory") == (
            "190.7 MiB",
            f"{env.db_path}.tmp",
        )
    monkeypatch.setenv("TIKTOK_SYNC_MEMORY_LIMIT", "300MB")
    with Warehouse.open(load_warehouse(PROJECT_DIR, profiles), read_only=True) as warehouse:
        assert _current(warehouse, "memory_limit") == ("286.1 MiB",)
    with Warehouse.open(load_warehouse(PROJECT_DIR, profiles, memory_limit="1GiB")) as warehouse:
        assert _current(warehouse, "memory_limit") == ("1.0 GiB",)  # the option wins


def test_running_out_of_the_memory_limit_says_to_raise_it(
    env: SyncEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A diff too large for the limit is one line with the fix, not an unexpected error.
    def out_of_memory(*args: object, **kwargs: object) -> None:
        raise duckdb.OutOfMemoryException("Out of Memory Error: could not allocate block")

    with Warehouse.open(settings(env.db_path)) as warehouse:
        warehouse.begin_run("test-run")
        # With a TikTok id, so that counting it reads the diff (see counts()).
        warehouse.register_pending(HIGH_VALUE, "1", "streaming", HIGH_VALUE, "test-run")
        warehouse.register_created(HIGH_VALUE, "7100000000000000001")
        engine = warehouse.engine
        monkeypatch.setattr(engine, "_con", _Failing(engine._con, out_of_memory))
        monkeypatch.setattr(engine, "_writer", _Failing(engine._writer, out_of_memory))
        for read in (
            lambda: warehouse.counts(),
            lambda: warehouse.pending(HIGH_VALUE),
            lambda: warehouse.freeze_changes(HIGH_VALUE, 100),
        ):
            with pytest.raises(WarehouseError, match=r"memory limit \(200MB\).*--memory-limit"):
                read()


class _Failing:
    """A connection whose queries over the diff fail as `fail` says."""

    def __init__(self, con: duckdb.DuckDBPyConnection, fail: Callable[..., None]) -> None:
        self._real, self._fail = con, fail

    def execute(self, query: str, *args: object) -> object:
        if "tiktok_audience_diff" in query:
            self._fail()
        return self._real.execute(query, *args)

    def cursor(self) -> _Failing:
        return _Failing(self._real.cursor(), self._fail)

    def sql(self, query: str, **kwargs: object) -> object:
        if "tiktok_audience_diff" in query:
            self._fail()
        return self._real.sql(query, **kwargs)

    def close(self) -> None:
        self._real.close()


def test_a_temp_directory_named_in_the_profile_is_kept(env: SyncEnv, tmp_path: Path) -> None:
    spill = tmp_path / "spill"
    profiles = _profile(
        tmp_path, env.db_path, f"      settings:\n        temp_directory: '{spill}'\n"
    )

    with Warehouse.open(load_warehouse(PROJECT_DIR, profiles)) as warehouse:
        assert _current(warehouse, "temp_directory") == (str(spill),)


@pytest.mark.parametrize(
    ("option", "variable", "message"),
    [
        (["--memory-limit", "lots"], None, "--memory-limit must be a size such as 256MB"),
        (["--memory-limit", "256"], None, "--memory-limit must be a size such as 256MB"),
        (["--memory-limit", "256MB'; drop table x; --"], None, "must be a size"),
        ([], "10%", "TIKTOK_SYNC_MEMORY_LIMIT must be a size such as 256MB"),
        ([], "1MB", "TIKTOK_SYNC_MEMORY_LIMIT is 1MB, too little"),
        (["--memory-limit", "0GB"], "1GB", "--memory-limit is 0GB, too little"),
    ],
    ids=["word", "no-unit", "sql", "percent", "tiny", "zero"],
)
def test_a_bad_sync_memory_limit_is_a_configuration_error(
    env: SyncEnv, option: list[str], variable: str | None, message: str
) -> None:
    for command in ("plan", "run"):
        result = env.cli(command, *option, env={"TIKTOK_SYNC_MEMORY_LIMIT": variable})

        assert result.exit_code == 2, result.output
        assert message in result.stderr and "Traceback" not in result.output
    assert env.emulator.requests() == []  # nothing was sent
    assert env.query("select count(*) from tiktok_audiences")[0][0] == 3


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('      settings:\n        memory_limit: "1GB\'; drop table x; --"\n', "settings"),
        ("      settings:\n        no_such_setting: 1\n", "no_such_setting"),
        ('      settings:\n        "threads = 1; drop table x; --": 1\n', "not a DuckDB setting"),
        ("      config_options:\n        threads: many\n", "config_options"),
    ],
)
def test_bad_duckdb_settings_in_the_profile_are_a_configuration_error(
    env: SyncEnv, tmp_path: Path, extra: str, message: str
) -> None:
    profiles = _profile(tmp_path, env.db_path, extra)

    result = env.cli("plan", "--profiles-dir", str(profiles))

    assert result.exit_code == 2, result.output
    assert message in result.stderr and "profiles.yml" in result.output
    assert "1GB'; drop" not in result.output  # a value (it may be a credential) is not echoed
    assert "Traceback" not in result.output
    assert env.query("select count(*) from tiktok_audiences")[0][0] == 3
