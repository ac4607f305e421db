{#- The acknowledged state up to a watermark, materialised by `dbt build` so
    that reading tiktok_sync_acknowledged_members (every diff, count and plan
    of a run) aggregates only the batches acknowledged since, not the whole
    ledger. Rebuilt from the ledger each time: it holds nothing the ledger
    does not, and dropping it loses nothing.

    The watermark (compacted_through_seq, the same on every row) is the last
    acknowledged batch_seq, except while the latest run still has batches
    sent without an answer: then the one before the first of those, so that
    an acknowledgement written after this build (requests in flight are
    answered in any order) is never behind it. A run and this build do not
    overlap anyway (the sync models' pre-hook refuses while a run holds the
    warehouse); this keeps a build that raced a run's start correct. -#}
{{ config(materialized='table') }}

with

changes as (
    select * from {{ source('tiktok_sync_state', 'tiktok_sync_changes') }}
),

batches as (
    select * from {{ source('tiktok_sync_state', 'tiktok_sync_batches') }}
),

latest_run as (
    select distinct run_id
    from batches
    where batch_seq = (select max(batch_seq) from batches)
),

answered as (
    select run_id, audience_key, batch_no
    from batches
    where event in ('acknowledged', 'refused')
),

open_in_latest_run as (
    select min(sent.batch_seq) as first_open_seq
    from batches as sent
    inner join latest_run
        on sent.run_id = latest_run.run_id
    left join answered
        on sent.run_id = answered.run_id
        and sent.audience_key = answered.audience_key
        and sent.batch_no = answered.batch_no
    where sent.event = 'sent'
        and answered.batch_no is null
),

last_acknowledged as (
    select max(batch_seq) as last_seq
    from batches
    where event = 'acknowledged'
),

watermark as (
    select
        case
            when open_in_latest_run.first_open_seq is null then last_acknowledged.last_seq
            when open_in_latest_run.first_open_seq - 1 < last_acknowledged.last_seq
                then open_in_latest_run.first_open_seq - 1
            else last_acknowledged.last_seq
        end as through_seq
    from last_acknowledged
    cross join open_in_latest_run
),

{{ tiktok_sync.acknowledged_ledger_ctes('batch_seq <= (select through_seq from watermark)') }},

final as (
    select
        latest_changes.audience_key,
        latest_changes.audience_id,
        latest_changes.id_type,
        latest_changes.id_hash,
        latest_changes.last_seq as batch_seq,
        watermark.through_seq as compacted_through_seq
    from latest_changes
    cross join watermark
    left join resets
        on latest_changes.audience_key = resets.audience_key
        and latest_changes.audience_id = resets.audience_id
    where latest_changes.last_add_seq = latest_changes.last_seq
        and (resets.reset_seq is null or latest_changes.last_seq >= resets.reset_seq)
)

select * from final
