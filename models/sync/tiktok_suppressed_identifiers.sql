{#- Identifiers that must never be in any TikTok audience (opt-outs, deletion
    requests): one row per distinct (id_type, id_hash) of the project's
    suppression list, the model or seed named by the var
    tiktok_sync_suppression, normalised and hashed by the same macros as an
    audience (so a raw email and its SHA-256 are one row). Only hashes are
    kept; the list's raw values stay where the user keeps them. Values that
    cannot be normalised suppress nothing and are not kept.

    Without the var this is an empty view: the diff and the desired members
    read it all the same, at no cost. -#}
{%- set list_name = var('tiktok_sync_suppression', none) -%}
{{ config(materialized='table' if list_name else 'view') }}

{%- set string_type = tiktok_sync.string_cast_type() -%}
{%- set id_columns = [] -%}
{%- set country_column = none -%}
{%- if list_name -%}
  {%- set suppression_list = ref(list_name) -%}
  {%- if execute -%}
    {%- set built = adapter.get_relation(database=suppression_list.database,
          schema=suppression_list.schema, identifier=suppression_list.identifier) -%}
    {%- if built is none and flags.WHICH in ['run', 'build'] -%}
      {{ exceptions.raise_compiler_error(
          "the suppression list '" ~ list_name ~ "' (var tiktok_sync_suppression) is not built: "
          ~ "build it first (dbt build builds it before " ~ this.identifier ~ ")") }}
    {%- endif -%}
    {%- set column_names = [] -%}
    {%- for column in (adapter.get_columns_in_relation(built) if built is not none else []) -%}
      {%- do column_names.append(column.name | lower) -%}
    {%- endfor -%}
    {%- set id_columns = tiktok_sync.present_identifier_columns(column_names) -%}
    {%- if built is not none and not id_columns -%}
      {{ exceptions.raise_compiler_error(
          "the suppression list '" ~ list_name ~ "' (var tiktok_sync_suppression) has no identifier column. "
          ~ "Select at least one of " ~ tiktok_sync.identifier_columns().keys() | join(', ')
          ~ ", as in an audience model. It has: " ~ column_names | join(', ')) }}
    {%- endif -%}
    {%- if 'country_code' in column_names -%}{%- set country_column = 'country_code' -%}{%- endif -%}
  {%- endif -%}
{%- endif %}

{%- if id_columns %}

with

{{ tiktok_sync.identifier_rows_ctes('select * from ' ~ suppression_list, id_columns, country_column) }},

final as (
    select distinct id_type, id_hash
    from identifiers
    where reason_code is null
)

select * from final
{%- else %}

-- no suppression list (or not built yet, when only compiling): nothing is suppressed
select
    cast(null as {{ string_type }}) as id_type,
    cast(null as {{ string_type }}) as id_hash
from (select 1 as one) as nothing
where 1 = 0
{%- endif %}
