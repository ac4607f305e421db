{#- What TikTok holds, as far as it acknowledged: for each identifier of an
    audience id, the last acknowledged batch that carried it says add or
    remove. An acknowledged create or REPLACE (customer files) left TikTok
    holding exactly its own members, and a forget (the audience was deleted
    at TikTok) nothing: batches before it no longer count for that id.
    Batches are ordered by batch_seq, which the sync job hands out in the
    order it sends them, one run at a time.

    The state up to a watermark is materialised by `dbt build`
    (tiktok_sync_acknowledged_compacted); here only the batches acknowledged
    after it are read from the ledger and laid over it: an identifier they
    carried takes its latest change from them, and a create, REPLACE or
    forget among them drops everything compacted for that audience id. The
    result is what reading the whole ledger gives, however old the
    compaction (an empty one: the whole ledger is read). -#}
{{ config(materialized='view') }}

with

compacted as (
    select * from {{ ref('tiktok_sync_acknowledged_compacted') }}
),

changes as (
    select * from {{ source('tiktok_sync_state', 'tiktok_sync_changes') }}
),

batches as (
    select * from {{ source('tiktok_sync_state', 'tiktok_sync_batches') }}
),

-- read from the relation, not the compacted CTE: DuckDB materialises a CTE read
-- twice, which would copy the whole compaction on every read
watermark as (
    select coalesce(max(compacted_through_seq), -1) as through_seq
    from {{ ref('tiktok_sync_acknowledged_compacted') }}
),

{{ tiktok_sync.acknowledged_ledger_ctes('batch_seq > (select through_seq from watermark)') }},

later_members as (
    select
        latest_changes.audience_key,
        latest_changes.audience_id,
        latest_changes.id_type,
        latest_changes.id_hash,
        latest_changes.last_seq as batch_seq
    from latest_changes
    left join resets
        on latest_changes.audience_key = resets.audience_key
        and latest_changes.audience_id = resets.audience_id
    where latest_changes.last_add_seq = latest_changes.last_seq
        and (resets.reset_seq is null or latest_changes.last_seq >= resets.reset_seq)
),

compacted_members as (
    select
        compacted.audience_key,
        compacted.audience_id,
        compacted.id_type,
        compacted.id_hash,
        compacted.batch_seq
    from compacted
    left join latest_changes
        on compacted.audience_key = latest_changes.audience_key
        and compacted.audience_id = latest_changes.audience_id
        and compacted.id_type = latest_changes.id_type
        and compacted.id_hash = latest_changes.id_hash
    left join resets
        on compacted.audience_key = resets.audience_key
        and compacted.audience_id = resets.audience_id
    where latest_changes.id_hash is null
        and resets.reset_seq is null
),

final as (
    select * from compacted_members
    union all
    select * from later_members
)

select * from final
