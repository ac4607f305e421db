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

{#- Column types spelled out: the table is built from string literals, and an
    audience model built later inserts its own row (upsert_audience_setting).
    Redshift (and Snowflake) can give a column built from literals the width of
    the longest literal, and refuse a longer value in that INSERT; a name may
    also be longer than the 256 bytes of Redshift's TEXT (long_string_column_type). -#}
{%- set s = dbt.type_string() %}

final as (
    select
        cast(audience_key as {{ s }}) as audience_key,
        cast(audience_name as {{ tiktok_sync.long_string_column_type() }}) as audience_name,
        cast(api as {{ s }}) as api,
        cast(mode as {{ s }}) as mode,
        cast(configured_audience_id as {{ s }}) as configured_audience_id,
        cast(advertiser_id as {{ s }}) as advertiser_id,
        retention_days
    from configured
)

select * from final
