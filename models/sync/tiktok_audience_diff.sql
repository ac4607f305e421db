{#- What must change in TikTok: desired members against what TikTok has
    acknowledged for the audience's current TikTok id. A view, so it always
    reflects the state at read time: once the sync job records a batch, the
    batch is gone from here. add_only audiences never remove; audiences whose
    model was deleted are not here at all (see tiktok_orphaned_audiences). -#}
{{ config(materialized='view') }}

with

targets as (
    select * from {{ ref('tiktok_audience_targets') }}
),

members as (
    select * from {{ source('tiktok_sync_outputs', 'tiktok_audience_members') }}
),

acknowledged as (
    select * from {{ source('tiktok_sync_state', 'tiktok_sync_acknowledged_members') }}
),

desired as (
    select
        targets.audience_key,
        members.id_type,
        members.id_hash
    from members
    inner join targets
        on members.audience_key = targets.audience_key
),

acknowledged_for_current_audience as (
    select
        acknowledged.audience_key,
        acknowledged.id_type,
        acknowledged.id_hash
    from acknowledged
    inner join targets
        on acknowledged.audience_key = targets.audience_key
        and acknowledged.audience_id = targets.audience_id
),

adds as (
    select
        desired.audience_key,
        desired.id_type,
        desired.id_hash,
        'add' as action
    from desired
    left join acknowledged_for_current_audience as acknowledged
        on desired.audience_key = acknowledged.audience_key
        and desired.id_type = acknowledged.id_type
        and desired.id_hash = acknowledged.id_hash
    where acknowledged.id_hash is null
),

removes as (
    select
        acknowledged.audience_key,
        acknowledged.id_type,
        acknowledged.id_hash,
        'remove' as action
    from acknowledged_for_current_audience as acknowledged
    inner join targets
        on acknowledged.audience_key = targets.audience_key
    left join desired
        on acknowledged.audience_key = desired.audience_key
        and acknowledged.id_type = desired.id_type
        and acknowledged.id_hash = desired.id_hash
    where desired.id_hash is null
        and targets.mode = 'mirror'
),

changes as (
    select * from adds
    union all
    select * from removes
),

final as (
    select
        changes.audience_key,
        targets.audience_id,
        targets.advertiser_id,
        targets.api,
        changes.id_type,
        changes.id_hash,
        changes.action
    from changes
    inner join targets
        on changes.audience_key = targets.audience_key
)

select * from final
