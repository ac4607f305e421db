{#- An audience model just built: make sure tiktok_audiences lists it with
    its current settings, even when the build selected only this model
    (the full list is rebuilt from the graph whenever tiktok_audiences runs). -#}
{% macro upsert_audience_setting(settings) %}
  {%- set node = graph.nodes.get('model.tiktok_sync.tiktok_audiences') -%}
  {%- if node is none -%}{{ return('') }}{%- endif -%}
  {%- set relation = adapter.get_relation(database=node.database, schema=node.schema, identifier=node.alias) -%}
  {%- if relation is none -%}{{ return('') }}{%- endif -%}
  {{- return(adapter.dispatch('upsert_audience_setting', 'tiktok_sync')(relation, settings)) -}}
{% endmacro %}

{#- Through replace_audience_slice: a delete and an insert in dbt's
    transaction, one MERGE on BigQuery and Databricks. -#}
{% macro default__upsert_audience_setting(relation, settings) %}
  {{ tiktok_sync.replace_audience_slice('tiktok_audience_setting', relation,
       tiktok_sync.string_literal(settings.audience_key),
       ['audience_key', 'audience_name', 'api', 'mode', 'configured_audience_id', 'advertiser_id', 'retention_days'],
       tiktok_sync.audience_settings_select(settings)) }}
{% endmacro %}

{#- Plain Spark tables have no DELETE ("[UNSUPPORTED_FEATURE.TABLE_OPERATION]
    ... does not support DELETE"), and Spark refuses to overwrite a table the
    same statement reads ("[UNSUPPORTED_OVERWRITE.TABLE] Can't overwrite the
    target that is also being read from"). tiktok_audiences
    has one row per audience, so the new content goes through a staging table.
    Databricks has MERGE (default__ above). -#}
{% macro spark__upsert_audience_setting(relation, settings) %}
  {%- set columns = 'audience_key, audience_name, api, mode, configured_audience_id, advertiser_id, retention_days' -%}
  {%- set staging = api.Relation.create(
        database=relation.database, schema=relation.schema,
        identifier=relation.identifier ~ '__tiktok_upsert', type='table') -%}
  {%- do adapter.drop_relation(staging) -%}
  {%- call statement('tiktok_audience_setting_staging') -%}
    create table {{ staging }} as
    select {{ columns }} from {{ relation }}
    where not (audience_key <=> {{ tiktok_sync.string_literal(settings.audience_key) }})
    union all
    {{ tiktok_sync.audience_settings_select(settings) }}
  {%- endcall -%}
  {%- call statement('tiktok_audience_setting_overwrite') -%}
    insert overwrite table {{ relation }} select {{ columns }} from {{ staging }}
  {%- endcall -%}
  {%- do adapter.drop_relation(staging) -%}
{% endmacro %}

{% macro databricks__upsert_audience_setting(relation, settings) %}
  {{ tiktok_sync.default__upsert_audience_setting(relation, settings) }}
{% endmacro %}
