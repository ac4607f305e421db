{#- What follows the column list when on-run-start creates one of the
    sync_table_columns() tables; nothing on most engines. -#}
{% macro sync_table_options(table_name) %}
  {{- return(adapter.dispatch('sync_table_options', 'tiktok_sync')(table_name)) -}}
{% endmacro %}

{% macro default__sync_table_options(table_name) -%}
{%- endmacro %}

{#- Plain Spark tables have no DELETE, so each audience replaces its slice of
    the three shared tables as a partition (spark__replace_audience_slice):
    they are partitioned by audience_key. No USING clause: the engine's
    default table format, as dbt-spark's own models get (parquet on Spark 4,
    Delta on Databricks). Spark moves a partition column to the end of the
    table's columns; everything here names its columns. -#}
{% macro spark__sync_table_options(table_name) -%}
  {%- if table_name in ('tiktok_audience_members', 'tiktok_rejected_identifiers', 'tiktok_identifier_counts') -%}
    partitioned by (audience_key)
  {%- endif -%}
{%- endmacro %}
