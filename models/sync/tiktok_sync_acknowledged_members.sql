{#- What TikTok holds, as far as it acknowledged: for each identifier of an
    audience id, the last acknowledged batch that carried it says add or
    remove. An acknowledged create or REPLACE (customer files) left TikTok
    holding exactly its own members, and a forget (the audience was deleted
    at TikTok) nothing: batches before it no longer count for that id.
    Batches are ordered by batch_seq, which the sync job hands out in the
    order it sends them, one run at a time. -#}
{{ config(materialized='view') }}

with

changes as (
    select * from {{ source('tiktok_sync_state', 'tiktok_sync_changes') }}
),

batches as (
    select * from {{ source('tiktok_sync_state', 'tiktok_sync_batches') }}
),

acknowledged_batches as (
    select
        run_id,
        audience_key,
        batch_no,
        batch_seq,
        kind,
        audience_id
    from batches
    where event = 'acknowledged'
),

resets as (
    select
        audience_key,
        audience_id,
        max(batch_seq) as reset_seq
    from acknowledged_batches
    where kind in ('create', 'replace', 'forget')
    group by audience_key, audience_id
),

acknowledged_changes as (
    select
        changes.audience_key,
        acknowledged_batches.audience_id,
        changes.id_type,
        changes.id_hash,
        changes.action,
        acknowledged_batches.batch_seq
    from changes
    inner join acknowledged_batches
        on changes.run_id = acknowledged_batches.run_id
        and changes.audience_key = acknowledged_batches.audience_key
        and changes.batch_no = acknowledged_batches.batch_no
),

-- an identifier is in one batch per run at most, so (identifier, batch_seq) is
-- unique: the latest change is an add exactly when the latest add is the latest
latest_changes as (
    select
        audience_key,
        audience_id,
        id_type,
        id_hash,
        max(batch_seq) as last_seq,
        max(case when action = 'add' then batch_seq end) as last_add_seq
    from acknowledged_changes
    group by audience_key, audience_id, id_type, id_hash
),

final as (
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
)

select * from final
