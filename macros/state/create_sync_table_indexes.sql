{#- Indexes for a sync table just created by create_sync_tables, where the
    engine has them and a query needs one. Postgres (and Redshift, which
    ignores none of this: it has no indexes and takes the default) reads a
    run's changes back by (run_id, audience_key, batch_no): without an index
    that read scans the whole ledger for every audience of every run.
    DuckDB prunes by the min/max of each row group instead (a run's rows are
    appended together), Snowflake and BigQuery by micro-partition/cluster
    statistics, Spark by file statistics. -#}
{% macro create_sync_table_indexes(relation, table_name) %}
  {{ return(adapter.dispatch('create_sync_table_indexes', 'tiktok_sync')(relation, table_name)) }}
{% endmacro %}

{% macro default__create_sync_table_indexes(relation, table_name) %}
  {{ return(false) }}
{% endmacro %}

{% macro postgres__create_sync_table_indexes(relation, table_name) %}
  {%- if table_name != 'tiktok_sync_changes' -%}{{ return(false) }}{%- endif -%}
  {%- call statement('index_' ~ table_name) -%}
    create index if not exists tiktok_sync_changes_run_idx
        on {{ relation }} (run_id, audience_key, batch_no)
  {%- endcall -%}
  {{ return(true) }}
{% endmacro %}

{% macro redshift__create_sync_table_indexes(relation, table_name) %}
  {#- Redshift has no indexes (sort keys are chosen at create time):
      https://docs.aws.amazon.com/redshift/latest/dg/c_unsupported-postgresql-features.html -#}
  {{ return(false) }}
{% endmacro %}
