"""Write the sync job's ledger by hand, as the sync job would, to set up a test's state.

The sync job only appends (docs/decisions/0001); these helpers append the same events in DuckDB
SQL: a registry event, or a batch of identifiers TikTok acknowledged. `execute(sql, params)` is
the test's way into its warehouse.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

Execute = Callable[[str, Sequence[Any]], object]

_NEXT_SEQ = (
    "(select coalesce(max(seq), 0) + 1 from ("
    "select max(batch_seq) as seq from tiktok_sync_batches "
    "union all select max(event_seq) from tiktok_sync_registry_events) as seqs)"
)


def register(
    execute: Execute,
    audience_key: str,
    audience_id: str | None,
    advertiser_id: str,
    api: str = "streaming",
    *,
    audience_name: str | None = None,
    created_at: object = None,
    run_id: str = "test-run",
) -> None:
    """A 'created' registry event (or 'pending' when `audience_id` is None)."""
    execute(
        "insert into tiktok_sync_registry_events (event_seq, event, audience_key, audience_id, "
        "advertiser_id, api, audience_name, created_at, created_by_run_id, run_id, event_at) "
        f"select {_NEXT_SEQ}, ?, ?, ?, ?, ?, ?, coalesce(cast(? as timestamp), now()), ?, ?, now()",
        [
            "pending" if audience_id is None else "created",
            audience_key,
            audience_id,
            advertiser_id,
            api,
            audience_name or audience_key,
            created_at,
            run_id,
            run_id,
        ],
    )


def shift_created_at(execute: Execute, interval: str) -> None:
    """Every registered audience as if its create had happened `interval` earlier."""
    execute(
        "insert into tiktok_sync_registry_events (event_seq, event, audience_key, audience_id, "
        "advertiser_id, api, audience_name, created_at, created_by_run_id, run_id, event_at) "
        f"select {_NEXT_SEQ} + row_number() over (order by audience_key), "
        "case when audience_id is null then 'pending' else 'created' end, audience_key, "
        f"audience_id, advertiser_id, api, audience_name, created_at - interval {interval}, "
        "created_by_run_id, 'test-run', now() from tiktok_sync_audience_registry",
        [],
    )


def acknowledge(execute: Execute, members_sql: str, run_id: str = "test-run") -> None:
    """Every row of `members_sql` (audience_key, audience_id, advertiser_id, id_type, id_hash)
    acknowledged as added: one batch per audience, as a run would leave it."""
    numbered = (
        "select audience_key, audience_id, advertiser_id, id_type, id_hash, "
        "dense_rank() over (order by audience_key, audience_id) as batch_no "
        f"from ({members_sql}) as members"
    )
    execute(
        "insert into tiktok_sync_changes "
        "(run_id, audience_key, batch_no, id_type, id_hash, action) "
        f"select ?, audience_key, batch_no, id_type, id_hash, 'add' from ({numbered}) as n",
        [run_id],
    )
    execute(
        "insert into tiktok_sync_batches (run_id, audience_key, batch_no, batch_seq, event, kind, "
        "audience_id, advertiser_id, api, identifier_count, request_id, event_at) "
        f"select ?, audience_key, batch_no, {_NEXT_SEQ} + batch_no, 'acknowledged', 'mapping', "
        "audience_id, max(advertiser_id), 'streaming', count(*), null, now() "
        f"from ({numbered}) as n group by audience_key, batch_no, audience_id",
        [run_id],
    )
