{#- Where each configured audience goes in TikTok: the audience id set in the
    model's config, else the one the sync job recorded when it created it
    (null until then), and the advertiser override if any. -#}
{{ config(materialized='view') }}

with

audiences as (
    select * from {{ ref('tiktok_audiences') }}
),

registry as (
    select * from {{ ref('tiktok_sync_audience_registry') }}
),

final as (
    select
        audiences.audience_key,
        audiences.audience_name,
        audiences.api,
        audiences.mode,
        coalesce(audiences.configured_audience_id, registry.audience_id) as audience_id,
        coalesce(audiences.advertiser_id, registry.advertiser_id) as advertiser_id,
        audiences.advertiser_id as configured_advertiser_id,
        registry.advertiser_id as registered_advertiser_id,
        audiences.retention_days,
        audiences.configured_audience_id is not null as is_audience_id_configured
    from audiences
    left join registry
        on audiences.audience_key = registry.audience_key
)

select * from final
