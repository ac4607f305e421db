{#- One audience's settings as a single-row SELECT with the columns of
    the tiktok_audiences model. -#}
{% macro audience_settings_select(settings) -%}
  {%- set s = dbt.type_string() -%}
    select
        {{ tiktok_sync.string_literal(settings.audience_key) }} as audience_key,
        {{ tiktok_sync.string_literal(settings.audience_name) }} as audience_name,
        {{ tiktok_sync.string_literal(settings.api) }} as api,
        {{ tiktok_sync.string_literal(settings.mode) }} as mode,
        {{ tiktok_sync.string_literal(settings.audience_id) }} as configured_audience_id,
        {{ tiktok_sync.string_literal(settings.advertiser_id) }} as advertiser_id,
        cast({{ 'null' if settings.retention_days is none else settings.retention_days }} as {{ dbt.type_bigint() }}) as retention_days
{%- endmacro %}
