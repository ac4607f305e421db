{#- The rows of an email column (identifier_ctes): source_column, id_type,
    reason_code, id_hash, raw_value, one per non-empty value. `values_cte` has
    raw_value; `non_empty_cte` also compact_value (whitespace removed) and
    cleaned (compact_value lower-cased). A 64-hex value is an already-hashed
    email and passes through lower-cased; anything else must pass
    email_rejection_reason and is hashed after normalize_email. -#}
{% macro email_identifiers_select(column, values_cte, non_empty_cte) -%}
  {{ return(adapter.dispatch('email_identifiers_select', 'tiktok_sync')(column, values_cte, non_empty_cte)) }}
{%- endmacro %}

{% macro default__email_identifiers_select(column, values_cte, non_empty_cte) -%}
{%- call tiktok_sync._email_rows(column) -%}
    select
        raw_value,
        compact_value,
        cleaned,
        case when {{ tiktok_sync.is_hex_hash('cleaned', 64) }} then 'sha256' else 'other' end as shape
    from {{ non_empty_cte }}
{%- endcall -%}
{%- endmacro %}

{#- DuckDB: the same rows with fewer regular expression passes. Most values
    are a plain address or a SHA-256 as given: one anchored match of
    email_fast_pattern() (the email pattern with both letter cases, or 64 hex)
    on the value settles them, so they need no whitespace removal and none of
    the four tests of email_rejection_reason. Why that is the same result:
    what matches it holds only ASCII letters, digits and _%+'-.@, so it has no
    whitespace, is ASCII, keeps its length when lower-cased, and its lower-case
    form matches email_pattern() (whose classes hold all of a-z or no letter);
    with an "@" it is no MD5 or SHA-256. Values that do not match lose their
    whitespace and are matched again; the rest take the portable tests.
    var tiktok_sync_portable_normalisation: true runs the portable SQL. -#}
{% macro duckdb__email_identifiers_select(column, values_cte, non_empty_cte) -%}
{%- if var('tiktok_sync_portable_normalisation', false) -%}
  {{ return(tiktok_sync.default__email_identifiers_select(column, values_cte, non_empty_cte)) }}
{%- endif -%}
{%- call tiktok_sync._email_rows(column) -%}
    select
        raw_value,
        compact_value,
        cleaned,
        case
            when given_shape is not null then given_shape
            else coalesce(
                {{ tiktok_sync._email_fast_shape('compact_value') }},
                case when {{ tiktok_sync.is_hex_hash('cleaned', 64) }} then 'sha256' else 'other' end
            )
        end as shape
    from (
        select
            raw_value,
            given_shape,
            compact_value,
            lower(compact_value) as cleaned
        from (
            select
                raw_value,
                given_shape,
                case
                    when given_shape is not null then raw_value
                    else {{ tiktok_sync.remove_whitespace('raw_value') }}
                end as compact_value
            from (
                select
                    raw_value,
                    {{ tiktok_sync._email_fast_shape('raw_value') }} as given_shape
                from {{ values_cte }}
            ) as given
        ) as compacted
    ) as lowered
{%- endcall -%}
{%- endmacro %}

{#- 'email' when `expr` is an address email_rejection_reason accepts once
    lower-cased (at most 254 characters), 'sha256' when it is 64 hex
    characters in either case, else null: one anchored match. -#}
{% macro _email_fast_shape(expr) -%}
case
    when regexp_full_match({{ expr }}, {{ tiktok_sync.regex_literal(tiktok_sync.email_fast_pattern()) }}) then
        case
            when not contains({{ expr }}, '@') then 'sha256'
            when length({{ expr }}) <= 254 then 'email'
        end
end
{%- endmacro %}

{#- email_pattern() with upper-case letters allowed wherever it allows
    lower-case ones, or 64 hex digits in either case. -#}
{% macro email_fast_pattern() -%}
({{ tiktok_sync.email_pattern() | replace('a-z', 'a-zA-Z') | replace('xn--', '[xX][nN]--') }})|[0-9a-fA-F]{64}
{%- endmacro %}

{#- The rows of an email column from caller(): a query of raw_value,
    compact_value, cleaned and shape ('email': valid as it is, 'sha256': 64
    hex, 'other': to be checked). The fences keep Postgres from computing
    shape and reason_code again for every use (optimisation_fence). -#}
{% macro _email_rows(column) -%}
select
    '{{ column }}' as source_column,
    'EMAIL_SHA256' as id_type,
    reason_code,
    case
        when reason_code is not null then null
        when shape = 'sha256' then cleaned
        else {{ tiktok_sync.sha256_hex(tiktok_sync.normalize_email('cleaned')) }}
    end as id_hash,
    raw_value
from (
    select
        raw_value,
        cleaned,
        shape,
        case
            when shape = 'email' then null
            when shape = 'sha256' then {{ tiktok_sync.hash_rejection_reason('cleaned', 64) }}
            else {{ tiktok_sync.email_rejection_reason('cleaned', 'compact_value') }}
        end as reason_code
    from (
        {{ caller() }}
        {{ tiktok_sync.optimisation_fence() }}
    ) as shaped
    {{ tiktok_sync.optimisation_fence() }}
) as checked
{%- endmacro %}
