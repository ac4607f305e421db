{#- Which TikTok audience the sync job created for each audience model: the
    latest event of tiktok_sync_registry_events per audience key. A create in
    flight shows with a null audience_id (the sync job looks for it by name
    before creating again); an audience whose create surely failed, or which
    was deleted at TikTok, has no row. audience_name is the name TikTok holds:
    the one it was created (or found) under, or the last rename. -#}
{{ config(materialized='view') }}

with

registry_events as (
    select * from {{ source('tiktok_sync_state', 'tiktok_sync_registry_events') }}
),

latest_events as (
    select
        audience_key,
        max(event_seq) as event_seq
    from registry_events
    group by audience_key
),

final as (
    select
        registry_events.audience_key,
        registry_events.audience_id,
        registry_events.advertiser_id,
        registry_events.api,
        registry_events.audience_name,
        registry_events.created_at,
        registry_events.created_by_run_id
    from registry_events
    inner join latest_events
        on registry_events.audience_key = latest_events.audience_key
        and registry_events.event_seq = latest_events.event_seq
    where registry_events.event in ('pending', 'created', 'renamed')
)

select * from final
