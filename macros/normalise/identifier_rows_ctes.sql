{#- The CTEs that read every identifier column of `source_sql` into one
    relation `identifiers`: one row per non-empty value, with source_column,
    id_type, reason_code, id_hash and raw_value (PII: for masking only).
    Renders CTE definitions without the leading `with` and without a trailing
    comma; the first is named `audience`. Audience models and the suppression
    list both go through here, so a value is normalised and hashed by the same
    rules wherever it comes from. -#}
{% macro identifier_rows_ctes(source_sql, id_columns, country_column=none) %}
audience as (
    {{ source_sql }}
),

{%- if 'phone' in id_columns %}

calling_codes as (
    -- inline, not a ref: an audience model then needs no declared dependency
    -- (macros/normalise/country_calling_codes.sql)
{{ tiktok_sync.country_calling_codes() }}
),
{%- endif %}
{%- for column in id_columns %}

{{ tiktok_sync.identifier_ctes('audience', column, country_column=country_column, calling_codes='calling_codes') }},
{%- endfor %}

identifiers as (
    {%- for column in id_columns %}
    select source_column, id_type, reason_code, id_hash, raw_value from {{ column }}__identifiers
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
)
{%- endmacro %}
