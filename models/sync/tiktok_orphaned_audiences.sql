{#- Audiences the warehouse still knows (members built earlier, a TikTok id
    recorded, acknowledged members) whose model is no longer in the project.
    They produce no removes: deleting a model never empties a TikTok
    audience. Delete the TikTok audience yourself, or restore the model. -#}
{{ config(materialized='view') }}

with

audiences as (
    select * from {{ ref('tiktok_audiences') }}
),

members as (
    select * from {{ source('tiktok_sync_outputs', 'tiktok_audience_members') }}
),

registry as (
    select * from {{ ref('tiktok_sync_audience_registry') }}
),

acknowledged as (
    select * from {{ ref('tiktok_sync_acknowledged_members') }}
),

-- `union all` then distinct: BigQuery has no bare UNION, only UNION ALL or
-- UNION DISTINCT (https://cloud.google.com/bigquery/docs/reference/standard-sql/query-syntax#set_operators),
-- and not every engine spells UNION DISTINCT; this form means the same everywhere
known_keys as (
    select distinct audience_key
    from (
        select audience_key from members
        union all
        select audience_key from registry
        union all
        select audience_key from acknowledged
    ) as all_keys
),

member_counts as (
    select audience_key, count(*) as member_count
    from members
    group by audience_key
),

acknowledged_counts as (
    select audience_key, count(*) as acknowledged_count
    from acknowledged
    group by audience_key
),

final as (
    select
        known_keys.audience_key,
        registry.audience_id,
        registry.advertiser_id,
        registry.api,
        coalesce(member_counts.member_count, 0) as member_count,
        coalesce(acknowledged_counts.acknowledged_count, 0) as acknowledged_count
    from known_keys
    left join audiences
        on known_keys.audience_key = audiences.audience_key
    left join registry
        on known_keys.audience_key = registry.audience_key
    left join member_counts
        on known_keys.audience_key = member_counts.audience_key
    left join acknowledged_counts
        on known_keys.audience_key = acknowledged_counts.audience_key
    where audiences.audience_key is null
)

select * from final
