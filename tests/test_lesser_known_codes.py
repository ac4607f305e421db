"""TikTok's lesser-known answers: 40132 is a throttle, 20001 acknowledges nothing it does not name.

40132 ("requests made too frequently for a certain field value") turns the request away before
TikTok does anything, like 40100: retried with backoff, and a create answered 40132 is sent again,
not looked up. 20001 ("partially successful") does not say which identifiers failed
(docs/tiktok-api.md §8 question 11), so the batch is not recorded as acknowledged: it stays
unconfirmed, the run exits 1, and the next run sends it again and converges. The emulator produces
both on request (`throttle` with `code` 40132, `partial`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.sync_support import SyncEnv, sync_env
from tests.warehouses import Warehouses


@pytest.fixture
def env(engine: Warehouses, tmp_path: Path) -> Iterator[SyncEnv]:
    with sync_env(engine, tmp_path / "dbt") as sync:
        yield sync


@pytest.mark.engines("duckdb")  # the client's classification, not the ledger
def test_a_create_throttled_with_40132_is_retried_and_makes_one_audience(env: SyncEnv) -> None:
    env.emulator.set_faults(
        [
            {"kind": "throttle", "code": 40132, "path": "segment/audience/", "count": 1},
            {"kind": "throttle", "code": 40132, "path": "segment/mapping/", "count": 2},
        ]
    )

    result = env.cli("run", "--json")

    assert result.exit_code == 0, result.output
    creates = [r for r in env.api_requests() if r["endpoint"] == "segment/audience/"]
    assert [r["code"] for r in creates[:2]] == [40132, 0]  # sent again, not looked up
    assert not any(r["endpoint"] == "dmp/custom_audience/list/" for r in env.api_requests())
    assert env.emulator.faults()["counts"] == {"throttle": 3}
    env.assert_converged()


def test_a_partial_success_leaves_the_batch_unconfirmed_and_the_next_run_converges(
    env: SyncEnv,
) -> None:
    env.emulator.set_faults([{"kind": "partial", "path": "segment/mapping/", "count": 1}])

    first = env.cli("run", "--json")

    assert first.exit_code == 1, first.output  # documented: pending, goes out next run
    report = json.loads(first.stdout)
    partial = [a for a in report["audiences"] if (a["error"] or {}).get("code") == 20001]
    assert len(partial) == 1 and partial[0]["status"] in ("partial", "failed")
    assert "did not say which identifiers failed" in partial[0]["error"]["message"]
    key = partial[0]["audience_key"]
    # TikTok applied half the batch; the state claims none of it, and the diff sends it again.
    tiktok, state, desired = env.tiktok(), env.acknowledged(), env.desired()
    held = {(t, h) for t, hs in tiktok[key].items() for h in hs}
    claimed = {(t, h) for t, hs in state.get(key, {}).items() for h in hs}
    wanted = {(t, h) for t, hs in desired[key].items() for h in hs}
    assert claimed < held < wanted
    assert env.unconfirmed() > 0
    assert env.pending()[key] >= len(wanted - claimed)
    history = env.history()
    assert any(row["error_code"] == 20001 for row in history)

    again = env.cli("run")

    assert again.exit_code == 0, again.output
    env.assert_converged()
