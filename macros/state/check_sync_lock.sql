{#- Pre-hook of the sync models (dbt_project.yml): a `dbt build` of them stops
    with one clear line while a `tiktok-sync run` holds the warehouse, instead
    of replacing the views the run reads. Renders no SQL.

    How a run holds the warehouse differs per engine (README "Other engines"):
    DuckDB: the run holds the file, so dbt cannot even open it (nothing to
    check here); Postgres: a session advisory lock, probed here in shared
    mode; Redshift, Snowflake, BigQuery, Spark/Databricks: a lease row in
    tiktok_sync_locks that has not expired and was not released. -#}
{% macro check_sync_lock() %}
  {%- if execute -%}
    {{ return(adapter.dispatch('check_sync_lock', 'tiktok_sync')()) }}
  {%- endif -%}
  {{ return('') }}
{% endmacro %}

{% macro duckdb__check_sync_lock() %}
  {{ return('') }}
{% endmacro %}

{% macro postgres__check_sync_lock() %}
  {%- set key = "tiktok_sync:" ~ target.schema -%}
  {%- set probe -%}
    select pg_try_advisory_lock_shared(hashtext({{ tiktok_sync.string_literal(key) }}))
  {%- endset -%}
  {%- set free = run_query(probe).columns[0].values()[0] -%}
  {%- if free -%}
    {%- do run_query("select pg_advisory_unlock_shared(hashtext(" ~ tiktok_sync.string_literal(key) ~ "))") -%}
  {%- else -%}
    {{ exceptions.raise_compiler_error(
        "a tiktok-sync run holds schema " ~ target.schema ~ " (Postgres advisory lock '" ~ key
        ~ "'); wait for it to finish, then run dbt build again") }}
  {%- endif -%}
  {{ return('') }}
{% endmacro %}

{#- Redshift inherits postgres__ but has no advisory lock functions
    (https://docs.aws.amazon.com/redshift/latest/dg/c_unsupported-postgresql-functions.html):
    it takes the lease check below. -#}
{% macro redshift__check_sync_lock() %}
  {{ return(tiktok_sync.default__check_sync_lock()) }}
{% endmacro %}

{% macro default__check_sync_lock() %}
  {%- set locks = api.Relation.create(database=target.get('database'), schema=target.schema, identifier='tiktok_sync_locks', type='table') -%}
  {%- if adapter.get_relation(database=locks.database, schema=locks.schema, identifier=locks.identifier) is none -%}
    {{ return('') }}
  {%- endif -%}
  {%- set active -%}
    select holder, max(expires_at) as expires_at
    from {{ locks }} as leases
    where event in ('claimed', 'renewed')
      and not exists (
        select 1 from {{ locks }} as released
        where released.holder = leases.holder and released.event = 'released'
      )
    group by holder
    having max(expires_at) > {{ dbt.current_timestamp_in_utc_backcompat() }}
  {%- endset -%}
  {%- set holders = run_query(active) -%}
  {%- if holders.rows | length > 0 -%}
    {%- set row = holders.rows[0] -%}
    {{ exceptions.raise_compiler_error(
        "tiktok-sync run " ~ row[0] ~ " holds the warehouse (lease in " ~ locks
        ~ " until " ~ row[1] ~ " UTC); wait for it to finish, then run dbt build again") }}
  {%- endif -%}
  {{ return('') }}
{% endmacro %}
