{#- The values of an advertising-id column (identifier_ctes) with their
    shape: raw_value, cleaned (whitespace removed, lower-cased) and shape,
    'sha256' when cleaned is 64 hex characters (an already hashed id),
    'uuid_hex' when 32 (a UUID written without hyphens), else 'raw'. `values_cte` has raw_value, `non_empty_cte` also
    cleaned. -#}
{% macro maid_shaped_select(values_cte, non_empty_cte) -%}
  {{ return(adapter.dispatch('maid_shaped_select', 'tiktok_sync')(values_cte, non_empty_cte)) }}
{%- endmacro %}

{% macro default__maid_shaped_select(values_cte, non_empty_cte) -%}
select
    raw_value,
    cleaned,
    {{ tiktok_sync._maid_shape('cleaned') }} as shape
from {{ non_empty_cte }}
{%- endmacro %}

{#- DuckDB: one anchored match on the value as given settles most values (a
    UUID, or 64 or 32 hex digits, in either case): they hold no whitespace, so
    cleaned is the value lower-cased, and their length is their shape. The
    others lose their whitespace and take the portable tests. Same rows. -#}
{% macro duckdb__maid_shaped_select(values_cte, non_empty_cte) -%}
{%- if var('tiktok_sync_portable_normalisation', false) -%}
  {{ return(tiktok_sync.default__maid_shaped_select(values_cte, non_empty_cte)) }}
{%- endif -%}
{%- set either_case = tiktok_sync.maid_pattern() | replace('a-f', 'a-fA-F') -%}
select
    raw_value,
    cleaned,
    case
        when given_shape is not null then given_shape
        else {{ tiktok_sync._maid_shape('cleaned') }}
    end as shape
from (
    select
        raw_value,
        given_shape,
        lower(case
            when given_shape is not null then raw_value
            else {{ tiktok_sync.remove_whitespace('raw_value') }}
        end) as cleaned
    from (
        select
            raw_value,
            case
                when regexp_full_match(raw_value, {{ tiktok_sync.regex_literal('[0-9a-fA-F]{64}|[0-9a-fA-F]{32}|' ~ either_case) }})
                    then case length(raw_value) when 64 then 'sha256' when 32 then 'uuid_hex' else 'raw' end
            end as given_shape
        from {{ values_cte }}
    ) as given
) as compacted
{%- endmacro %}

{% macro _maid_shape(cleaned) -%}
case
    when {{ tiktok_sync.is_hex_hash(cleaned, 64) }} then 'sha256'
    when {{ tiktok_sync.is_hex_hash(cleaned, 32) }} then 'uuid_hex'
    else 'raw'
end
{%- endmacro %}
