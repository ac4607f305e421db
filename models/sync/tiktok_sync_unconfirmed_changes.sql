{#- Changes sent to TikTok without an answer: a timeout, a dropped
    connection, a 5xx or a crash of the sync job left the batch sent and
    neither acknowledged nor known to have failed. TikTok may or may not have
    applied them, so tiktok_audience_diff counts them both ways. A later
    acknowledged batch with the same identifier, or a later acknowledged
    create, REPLACE or forget of the audience id, settles them. A create sent
    without an answer has no audience id yet: its members belong to the id
    the audience model was given since (the one found by name). -#}
{{ config(materialized='view') }}

with

changes as (
    select * from {{ source('tiktok_sync_state', 'tiktok_sync_changes') }}
),

batches as (
    select * from {{ source('tiktok_sync_state', 'tiktok_sync_batches') }}
),

registry as (
    select * from {{ ref('tiktok_sync_audience_registry') }}
),

sent_batches as (
    select * from batches
    where event = 'sent'
),

answered_batches as (
    select run_id, audience_key, batch_no
    from batches
    where event in ('acknowledged', 'refused')
),

unanswered_batches as (
    select
        sent_batches.run_id,
        sent_batches.audience_key,
        sent_batches.batch_no,
        sent_batches.batch_seq,
        coalesce(sent_batches.audience_id, registry.audience_id) as audience_id,
        sent_batches.advertiser_id,
        sent_batches.event_at
    from sent_batches
    left join answered_batches
        on sent_batches.run_id = answered_batches.run_id
        and sent_batches.audience_key = answered_batches.audience_key
        and sent_batches.batch_no = answered_batches.batch_no
    left join registry
        on sent_batches.audience_key = registry.audience_key
    where answered_batches.batch_no is null
),

unanswered_changes as (
    select
        changes.audience_key,
        unanswered_batches.audience_id,
        unanswered_batches.advertiser_id,
        changes.id_type,
        changes.id_hash,
        changes.action,
        unanswered_batches.batch_seq,
        unanswered_batches.event_at as sent_at,
        changes.run_id
    from changes
    inner join unanswered_batches
        on changes.run_id = unanswered_batches.run_id
        and changes.audience_key = unanswered_batches.audience_key
        and changes.batch_no = unanswered_batches.batch_no
),

acknowledged_batches as (
    select * from batches
    where event = 'acknowledged'
),

-- per audience id, the last acknowledged batch that replaced everything
resets as (
    select
        audience_key,
        audience_id,
        max(batch_seq) as reset_seq
    from acknowledged_batches
    where kind in ('create', 'replace', 'forget')
    group by audience_key, audience_id
),

-- per unanswered identifier, the last acknowledged batch that carried it
-- (looked up for the few unanswered identifiers, not the whole history). The
-- ledger is read here as the relation, not as the `changes` CTE: DuckDB and
-- Postgres materialise a CTE read twice, which copied the whole ledger on
-- every read of this view (1.7 s at 10M rows with nothing unanswered; 0.01 s so)
last_acknowledged as (
    select
        unanswered_changes.audience_key,
        unanswered_changes.audience_id,
        unanswered_changes.id_type,
        unanswered_changes.id_hash,
        max(acknowledged_batches.batch_seq) as batch_seq
    from unanswered_changes
    inner join {{ source('tiktok_sync_state', 'tiktok_sync_changes') }} as carried
        on unanswered_changes.audience_key = carried.audience_key
        and unanswered_changes.id_type = carried.id_type
        and unanswered_changes.id_hash = carried.id_hash
    inner join acknowledged_batches
        on carried.run_id = acknowledged_batches.run_id
        and carried.audience_key = acknowledged_batches.audience_key
        and carried.batch_no = acknowledged_batches.batch_no
        and unanswered_changes.audience_id = acknowledged_batches.audience_id
    group by
        unanswered_changes.audience_key,
        unanswered_changes.audience_id,
        unanswered_changes.id_type,
        unanswered_changes.id_hash
),

final as (
    select
        unanswered_changes.audience_key,
        unanswered_changes.audience_id,
        unanswered_changes.advertiser_id,
        unanswered_changes.id_type,
        unanswered_changes.id_hash,
        unanswered_changes.action,
        unanswered_changes.sent_at,
        unanswered_changes.run_id
    from unanswered_changes
    left join last_acknowledged
        on unanswered_changes.audience_key = last_acknowledged.audience_key
        and unanswered_changes.audience_id = last_acknowledged.audience_id
        and unanswered_changes.id_type = last_acknowledged.id_type
        and unanswered_changes.id_hash = last_acknowledged.id_hash
    left join resets
        on unanswered_changes.audience_key = resets.audience_key
        and unanswered_changes.audience_id = resets.audience_id
    where (last_acknowledged.batch_seq is null or unanswered_changes.batch_seq > last_acknowledged.batch_seq)
        and (resets.reset_seq is null or unanswered_changes.batch_seq > resets.reset_seq)
)

select * from final
