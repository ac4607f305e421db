{#- The phone normaliser (macros/normalise/phone_e164.sql) over one phone corpus seed, for
    the wrapper models normalise_phone and normalise_phone_crm: one row per case whose value
    is not empty after whitespace removal, with its E.164 digits or reason and its hash.
    `escaped` says the seed has raw_value_escaped: values no seed loader keeps, written
    ~s space, ~t tab, ~n line feed, ~r carriage return, ~z nothing
    (scripts/generate_phone_corpus.py). Composes dispatched package macros only, so one
    body serves every engine. -#}
{% macro phone_corpus_normalised(corpus, calling_codes, escaped=false) %}
{#- string_literal writes a tab, a line feed and a carriage return the way each
    engine reads them (BigQuery allows no raw line break in a quoted string). -#}
{%- set tab = tiktok_sync.string_literal('\t') -%}
{%- set line_feed = tiktok_sync.string_literal('\n') -%}
{%- set carriage_return = tiktok_sync.string_literal('\r') -%}

with

phone_corpus as (

    select * from {{ corpus }}

),

country_calling_codes as (

    select * from {{ calling_codes }}

),

decoded as (

    select
        case_id,
        {%- if escaped %}
        coalesce(
            raw_value,
            replace(replace(replace(replace(replace(
                raw_value_escaped, '~t', {{ tab }}), '~n', {{ line_feed }}), '~r', {{ carriage_return }}),
                '~s', ' '), '~z', '')
        ) as raw_value,
        {%- else %}
        raw_value,
        {%- endif %}
        country_code
    from phone_corpus

),

to_normalise as (

    -- as in identifier_ctes: empty values are not identifiers and never reach the macro
    select
        case_id as input_id,
        raw_value,
        country_code
    from decoded
    where {{ tiktok_sync.remove_whitespace('raw_value') }} <> ''

),

normalised as (

    {{ tiktok_sync.phone_normalised_select('to_normalise', 'country_calling_codes') }}

),

final as (

    select
        decoded.case_id,
        decoded.raw_value,
        decoded.country_code,
        normalised.e164_digits,
        normalised.reason_code,
        {{ tiktok_sync.sha256_hex('normalised.e164_digits') }} as id_hash
    from decoded
    inner join normalised
        on decoded.case_id = normalised.input_id

)

select * from final
{% endmacro %}
