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

{#- An audience model just built: make sure tiktok_audiences lists it with
    its current settings, even when the build selected only this model
    (the full list is rebuilt from the graph whenever tiktok_audiences runs). -#}
{% macro upsert_audience_setting(settings) %}
  {%- set node = graph.nodes.get('model.tiktok_sync.tiktok_audiences') -%}
  {%- if node is none -%}{{ return('') }}{%- endif -%}
  {%- set relation = adapter.get_relation(database=node.database, schema=node.schema, identifier=node.alias) -%}
  {%- if relation is none -%}{{ return('') }}{%- endif -%}
  {{ tiktok_sync.replace_audience_slice('tiktok_audience_setting', relation,
       tiktok_sync.string_literal(settings.audience_key),
       ['audience_key', 'audience_name', 'api', 'mode', 'configured_audience_id', 'advertiser_id', 'retention_days'],
       tiktok_sync.audience_settings_select(settings)) }}
{% endmacro %}
