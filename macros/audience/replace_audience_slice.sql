{#- Replace one audience's rows of a shared table (tiktok_audience_members,
    tiktok_rejected_identifiers, tiktok_identifier_counts) with `select_sql`,
    which selects `columns` in that order; audience_key is added here.
    Rows of other audiences are not touched. -#}
{% macro replace_audience_slice(relation, audience_key, columns, select_sql) %}
  {{- return(adapter.dispatch('replace_audience_slice', 'tiktok_sync')(relation, audience_key, columns, select_sql)) -}}
{% endmacro %}

{% macro default__replace_audience_slice(relation, audience_key, columns, select_sql) %}
  {%- set key_literal = tiktok_sync.string_literal(audience_key) -%}
  {%- call statement('tiktok_slice_delete_' ~ relation.identifier) -%}
    delete from {{ relation }} where audience_key = {{ key_literal }}
  {%- endcall -%}
  {%- call statement('tiktok_slice_insert_' ~ relation.identifier) -%}
    insert into {{ relation }} (audience_key, {{ columns | join(', ') }})
    select {{ key_literal }}, {{ columns | join(', ') }}
    from (
    {{ select_sql }}
    ) slice
  {%- endcall -%}
{% endmacro %}

{#- Plain Spark tables (parquet, Hive) have no DELETE: "[UNSUPPORTED_FEATURE.
    TABLE_OPERATION] ... Table `spark_catalog`.`tiktok_sync`.`...` does not
    support DELETE" (Delta has it, but Delta's jars are not part of Spark
    and cannot be downloaded where this is tested). Spark and Databricks
    both replace a partition instead: on Spark the shared tables are
    partitioned by audience_key (spark__sync_table_options), and an INSERT
    OVERWRITE with a static partition value replaces that partition only,
    whatever spark.sql.sources.partitionOverwriteMode says
    (https://spark.apache.org/docs/latest/sql-ref-syntax-dml-insert-table.html).
    Delta does the same for a static partition. -#}
{% macro spark__replace_audience_slice(relation, audience_key, columns, select_sql) %}
  {%- call statement('tiktok_slice_overwrite_' ~ relation.identifier) -%}
    insert overwrite table {{ relation }}
    partition (audience_key = {{ tiktok_sync.string_literal(audience_key) }}) ({{ columns | join(', ') }})
    select {{ columns | join(', ') }}
    from (
    {{ select_sql }}
    ) slice
  {%- endcall -%}
{% endmacro %}
