{#- The audiences this project defines, read from dbt's graph: every model
    materialized as tiktok_audience, with its checked TikTok settings. The
    sync job reads this table and nothing of dbt's. A bad setting fails here
    too, naming the model. -#}
{{ config(materialized='table') }}

{%- set audiences = tiktok_sync.configured_audiences() %}

with

{%- if audiences %}
configured as (
    {%- for settings in audiences %}
    {{ tiktok_sync.audience_settings_select(settings) }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
),
{%- else %}
configured as (
    {{ tiktok_sync.audience_settings_select({
        'audience_key': none, 'audience_name': none, 'api': none, 'mode': none,
        'audience_id': none, 'advertiser_id': none, 'retention_days': none}) }}
    where 1 = 0
),
{%- endif %}

final as (
    select * from configured
)

select * from final
