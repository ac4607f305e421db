{#- The suppression list as the package reads it: one row per non-empty
    identifier value of each row of the list (the model or seed named by the
    var tiktok_sync_suppression), normalised and hashed by the same macros as
    an audience. A view: the raw values stay in the user's list and are never
    selected here; a row carries the list's other columns (a request id, a
    date), so a privacy team finds its own request, the value's hash, and why
    it was rejected when it was (reason_code, reason: then it suppresses
    nothing).
    tiktok_suppressed_identifiers keeps the distinct valid hashes, and
    tiktok_suppression_evidence joins these rows with the ledger.

    Without the var this is an empty view with the same identifier columns.
    On Spark a table: its metastore keeps a view's SQL in a column of 32,700
    characters, and the phone normaliser alone is longer (it still holds no
    raw value). -#}
{{ config(materialized='table' if target.type == 'spark' and var('tiktok_sync_suppression', none) else 'view') }}
{%- set list_name = var('tiktok_sync_suppression', none) -%}
{%- set string_type = tiktok_sync.string_cast_type() -%}
{#- Names this view and tiktok_suppression_evidence add to the list's own
    columns: a list column of the same name would be ambiguous. -#}
{%- set added_columns = ['source_column', 'id_type', 'id_hash', 'reason_code', 'reason', 'value_fingerprint',
      'audience_key', 'audience_id', 'advertiser_id', 'action', 'outcome', 'batch_kind', 'run_id',
      'batch_seq', 'sent_at', 'acknowledged_at', 'tiktok_request_id', 'is_possibly_held'] -%}
{%- set id_columns = [] -%}
{%- set key_columns = [] -%}
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
    {%- set columns = adapter.get_columns_in_relation(built) if built is not none else [] -%}
    {%- set column_names = [] -%}
    {%- for column in columns -%}
      {%- do column_names.append(column.name | lower) -%}
    {%- endfor -%}
    {%- set id_columns = tiktok_sync.present_identifier_columns(column_names) -%}
    {%- if built is not none and not id_columns -%}
      {{ exceptions.raise_compiler_error(
          "the suppression list '" ~ list_name ~ "' (var tiktok_sync_suppression) has no identifier column. "
          ~ "Select at least one of " ~ tiktok_sync.identifier_columns().keys() | join(', ')
          ~ ", as in an audience model. It has: " ~ column_names | join(', ')) }}
    {%- endif -%}
    {#- kept as the warehouse spells them, and quoted: a list may have a column
        named like a keyword (date, order) -#}
    {%- for column in columns if (column.name | lower) not in id_columns -%}
      {%- set name = column.name | lower -%}
      {%- if name in added_columns -%}
        {{ exceptions.raise_compiler_error(
            "the suppression list '" ~ list_name ~ "' (var tiktok_sync_suppression) has a column '"
            ~ name ~ "', a name " ~ this.identifier ~ " gives to a column of its own: "
            ~ "rename it in the list (the names taken are " ~ added_columns | join(', ') ~ ")") }}
      {%- endif -%}
      {%- do key_columns.append(adapter.quote(column.name)) -%}
    {%- endfor -%}
    {%- if 'country_code' in column_names -%}{%- set country_column = 'country_code' -%}{%- endif -%}
  {%- endif -%}
{%- endif %}

{%- if id_columns %}

with

{{ tiktok_sync.identifier_rows_ctes('select * from ' ~ suppression_list, id_columns, country_column) }},

-- one row per distinct value and column: a value written the same way on
-- several rows of the list is normalised once
normalised as (
    select distinct
        source_column,
        raw_value,
        id_type,
        id_hash,
        reason_code
    from identifiers
),

-- the list's rows, one per identifier column, to match each value with its
-- own row (the identifier CTEs keep only the value)
list_values as (
    {%- for column in id_columns %}
    select
        {%- for key in key_columns %}
        {{ key }},
        {%- endfor %}
        '{{ column }}' as source_column,
        cast({{ column }} as {{ string_type }}) as raw_value
    from {{ suppression_list }}
    where {{ column }} is not null
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
),

final as (
    select
        {%- for key in key_columns %}
        list_values.{{ key }},
        {%- endfor %}
        normalised.source_column,
        normalised.id_type,
        normalised.id_hash,
        normalised.reason_code,
        {{ tiktok_sync.rejection_reason_text('normalised.reason_code') | indent(8) }} as reason,
        {{ tiktok_sync.sha256_hex('normalised.raw_value') }} as value_fingerprint
    from list_values
    inner join normalised
        on list_values.source_column = normalised.source_column
        and list_values.raw_value = normalised.raw_value
)

select * from final
{%- else %}

-- no suppression list (or not built yet, when only compiling): nothing is suppressed
select
    cast(null as {{ string_type }}) as source_column,
    cast(null as {{ string_type }}) as id_type,
    cast(null as {{ string_type }}) as id_hash,
    cast(null as {{ string_type }}) as reason_code,
    cast(null as {{ string_type }}) as reason,
    cast(null as {{ string_type }}) as value_fingerprint
from (select 1 as one) as nothing
where 1 = 0
{%- endif %}
