{#- on-run-start: make sure every table in sync_table_columns() exists, so a
    fresh warehouse builds and the views over them resolve, and carry the
    state of a warehouse the sync job wrote before its ledger existed into
    the ledger (migrate_legacy_sync_state). Never drops or alters an existing
    table: the state in it is what TikTok acknowledged. -#}
{% macro create_sync_tables() %}
  {%- if not execute -%}{{ return('') }}{%- endif -%}
  {#- target.get: Spark's target has no database (dbt-spark drops it; a Relation
      built from the undefined value fails), the relation then has none -#}
  {%- set schema_relation = api.Relation.create(database=target.get('database'), schema=target.schema) -%}
  {#- create_schema commits its own work -#}
  {%- do adapter.create_schema(schema_relation) -%}
  {%- set wrote = [] -%}
  {%- for table_name, columns in tiktok_sync.sync_table_columns().items() -%}
    {%- set relation = api.Relation.create(
          database=target.get('database'), schema=target.schema, identifier=table_name, type='table') -%}
    {%- if adapter.get_relation(database=relation.database, schema=relation.schema, identifier=relation.identifier) is none -%}
      {%- call statement('create_' ~ table_name) -%}
        create table {{ relation }} (
          {%- for name, data_type in columns %}
          {{ name }} {{ data_type }}{{ "," if not loop.last }}
          {%- endfor %}
        ) {{ tiktok_sync.sync_table_options(table_name) }}
      {%- endcall -%}
      {%- do tiktok_sync.create_sync_table_indexes(relation, table_name) -%}
      {%- do wrote.append(table_name) -%}
      {%- do log('tiktok_sync: created ' ~ relation, info=true) -%}
    {%- endif -%}
  {%- endfor -%}
  {%- if tiktok_sync.migrate_legacy_sync_state() -%}
    {%- do wrote.append('legacy state') -%}
  {%- endif -%}
  {#- Hooks run inside a transaction on some adapters: make the tables
      permanent even if the rest of the invocation fails. Only when something
      ran: adapter.create_schema() commits its own work, so with nothing
      created no transaction is open, and dbt-postgres (and dbt-redshift)
      refuse the commit: `Tried to commit transaction on connection "master",
      but it does not have one open!` -#}
  {%- if wrote -%}
    {%- do adapter.commit() -%}
  {%- endif -%}
  {{ return('') }}
{% endmacro %}
