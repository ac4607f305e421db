{#- Build the audience model's own table from `sql` in place of
    `existing_relation` (none on a fresh warehouse), so that a failing build
    leaves the previous table in place. Returns the relation to drop once the
    rest of the materialization has committed, or none.

    default: build an intermediate table, then rename the old table to a
    backup and the intermediate into place (dbt's own table materialization). -#}
{% macro replace_audience_table(target_relation, existing_relation, sql) %}
  {{- return(adapter.dispatch('replace_audience_table', 'tiktok_sync')(target_relation, existing_relation, sql)) -}}
{% endmacro %}

{% macro default__replace_audience_table(target_relation, existing_relation, sql) %}
  {%- set intermediate_relation = make_intermediate_relation(target_relation) -%}
  {%- set backup_relation_type = 'table' if existing_relation is none else existing_relation.type -%}
  {%- set backup_relation = make_backup_relation(target_relation, backup_relation_type) -%}
  {{ drop_relation_if_exists(load_cached_relation(intermediate_relation)) }}
  {{ drop_relation_if_exists(load_cached_relation(backup_relation)) }}

  {% call statement('main') -%}
    {{ get_create_table_as_sql(False, intermediate_relation, sql) }}
  {%- endcall %}

  {%- if existing_relation is not none -%}
    {{ adapter.rename_relation(existing_relation, backup_relation) }}
  {%- endif -%}
  {{ adapter.rename_relation(intermediate_relation, target_relation) }}
  {{ return(backup_relation) }}
{% endmacro %}

{#- BigQuery: CREATE OR REPLACE TABLE swaps the table atomically and leaves the
    old one in place if the query fails
    (https://cloud.google.com/bigquery/docs/reference/standard-sql/data-definition-language#create_table_statement),
    which is what dbt-bigquery's own table materialization does. Renaming
    instead would cost two table copy jobs and two deletes per build
    (dbt-bigquery's rename_relation is copy_table + delete_table). Only a view
    in the way is dropped first: a table cannot replace a view. -#}
{% macro bigquery__replace_audience_table(target_relation, existing_relation, sql) %}
  {%- if existing_relation is not none and not existing_relation.is_table -%}
    {{ adapter.drop_relation(existing_relation) }}
  {%- endif -%}
  {% call statement('main') -%}
    {{ get_create_table_as_sql(False, target_relation, sql) }}
  {%- endcall %}
  {{ return(none) }}
{% endmacro %}
