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

{#- Databricks: CREATE OR REPLACE TABLE, as dbt-databricks' own table
    materialization does. Databricks recommends it for replacing a Delta table:
    one transaction, the table always exists, readers carry on
    (https://docs.databricks.com/aws/en/tables/operations/drop-table). The
    default's renames are worse there: the Hive metastore refuses ALTER TABLE
    RENAME of managed Delta tables on S3 (dbt-databricks' relations/replace.sql
    never renames a Hive metastore table for that reason), which would fail
    every rebuild of an audience. What CREATE OR REPLACE cannot replace (a view,
    a table that is not Delta, or any table when the model's file_format is not
    delta: dbt-databricks then writes a plain CREATE TABLE) is dropped first. -#}
{% macro databricks__replace_audience_table(target_relation, existing_relation, sql) %}
  {%- if existing_relation is not none -%}
    {%- set existing = adapter.get_relation(database=existing_relation.database,
          schema=existing_relation.schema, identifier=existing_relation.identifier,
          needs_information=True) -%}
    {%- set replaceable = existing is not none and existing.is_table and existing.can_be_replaced
          and adapter.resolve_file_format(config) == 'delta' -%}
    {%- if existing is not none and not replaceable -%}
      {{ adapter.drop_relation(existing) }}
    {%- endif -%}
  {%- endif -%}
  {% call statement('main') -%}
    {{ get_create_table_as_sql(False, target_relation, sql) }}
  {%- endcall %}
  {{ return(none) }}
{% endmacro %}
