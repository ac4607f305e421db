{#- DuckDB's phone normaliser: the rule of default__phone_normalised_select
    (macros/normalise/phone_e164.sql), the same output for every input, in far
    less work per row (docs/normalisation-phone.md, "On DuckDB").

    - The seed's per-country facts are prepared once per query (245 rows), not
      once per phone: `|7|9|10|` length lists become bit masks, and each
      `|a|b:L|` prefix list gets the length of its shortest entry, so one
      `contains` tells almost every number that no entry can be its prefix.
    - The calling-code lookups collapse into one join: a table keyed by
      (international?, country or first three digits) holds, per key, the
      calling code, the rules that apply to the rest of the number and those
      of the calling code's main country (the portable path's five joins).
      A second, small join reads the row country's international prefixes,
      for numbers written without + only.
    - The value is read without first deleting whitespace (the character test
      allows it anywhere; digits are the same either way), and digits are
      kept with `replace`, cheaper here than a global regexp_replace.

    Set var tiktok_sync_portable_normalisation: true to run the portable SQL on
    DuckDB instead (tests compare the two row for row). -#}
{% macro duckdb__phone_normalised_select(input_cte, calling_codes) -%}
{%- if var('tiktok_sync_portable_normalisation', false) -%}
  {{ return(tiktok_sync.default__phone_normalised_select(input_cte, calling_codes)) }}
{%- endif -%}
{%- set ws = '[' ~ tiktok_sync.whitespace_characters() ~ ']' -%}
{%- set plain_characters = '[(]?[+][-0-9()./]*|[-0-9()./]*' -%}
with

phone_rules as (
    -- one row per seed row, its lists in the forms read below
    select
        country_code,
        calling_code,
        is_main_country_for_code,
        exact_international_prefixes,
        national_format_supported,
        trunk_prefix,
        national_min_length,
        national_max_length,
        national_possible_lengths,
        {{ tiktok_sync._phone_lengths_mask('national_possible_lengths') }} as national_possible_lengths_mask,
        trunk_lookalike_prefixes,
        {{ tiktok_sync._phone_shortest_entry('trunk_lookalike_prefixes') }} as trunk_lookalike_prefixes_shortest,
        international_prefixes,
        {{ tiktok_sync._phone_shortest_entry('international_prefixes') }} as international_prefixes_shortest,
        special_national_prefixes,
        {{ tiktok_sync._phone_shortest_entry('special_national_prefixes') }} as special_national_prefixes_shortest
    from {{ calling_codes }}
),

phone_main_rules as (
    select * from phone_rules where is_main_country_for_code
),

phone_code_prefixes as (
    -- every string of 1 to 3 digits: what substr(digits, 1, 3) of an international number can be
    select cast(i as {{ dbt.type_string() }}) as digits_prefix from range(10) as t(i)
    union all
    select lpad(cast(i as {{ dbt.type_string() }}), 2, '0') from range(100) as t(i)
    union all
    select lpad(cast(i as {{ dbt.type_string() }}), 3, '0') from range(1000) as t(i)
),

phone_rule_sets as (
    -- national numbers: the row country's trunk, prefix and length rules for the digits,
    -- the main country of its calling code for the national number (as the portable path)
    select
        false as is_international,
        region.country_code as rule_key,
        region.calling_code,
        region.international_prefixes as region_international_prefixes,
        region.international_prefixes_shortest as region_international_prefixes_shortest,
        region.national_format_supported as region_national_format_supported,
        {{ tiktok_sync._phone_duckdb_rule_columns('region', 'main') }}
    from phone_rules as region
    left join phone_main_rules as main
        on region.calling_code = main.calling_code

    union all

    -- international numbers, by their first three digits (fewer when shorter): the calling
    -- code they start with and its main country's rules; the shortest code wins, as
    -- coalesce(code_1, code_2, code_3) does in the portable path
    select
        true as is_international,
        prefixes.digits_prefix as rule_key,
        main.calling_code,
        null as region_international_prefixes,
        null as region_international_prefixes_shortest,
        null as region_national_format_supported,
        {{ tiktok_sync._phone_duckdb_rule_columns('main', 'main') }}
    from phone_code_prefixes as prefixes
    inner join phone_main_rules as main
        on starts_with(prefixes.digits_prefix, main.calling_code)
    qualify row_number() over (partition by prefixes.digits_prefix order by length(main.calling_code)) = 1
),

phone_read as (
    select
        input_id,
        has_allowed_characters,
        has_plus,
        digits,
        country_code
    from (
        select
            input_id,
            case
                when has_plain_characters then true
                else {{ tiktok_sync.regex_full_match('dialled_value', plain_characters) }}
            end as has_allowed_characters,
            -- where the characters are allowed, a + can only be the leading one
            contains(coalesce(dialled_value, raw_value), '+') as has_plus,
            -- digits matter only where the characters are allowed: digits, - ( ) . / +, whitespace;
            -- a value with a Unicode space has more bytes (strlen) than characters (length)
            case
                when not has_plain_characters then regexp_replace(dialled_value, '[^0-9]+', '', 'g')
                when contains(raw_value, chr(9)) or contains(raw_value, chr(10)) or contains(raw_value, chr(11))
                    or contains(raw_value, chr(12)) or contains(raw_value, chr(13))
                    or strlen(raw_value) <> length(raw_value)
                    then regexp_replace(raw_value, '[^0-9]+', '', 'g')
                else replace(replace(replace(replace(replace(replace(replace(
                    raw_value, ' ', ''), '-', ''), '(', ''), ')', ''), '.', ''), '/', ''), '+', '')
            end as digits,
            coalesce(
                case when given_country <> '' then given_country end,
                {{ tiktok_sync._phone_default_country_sql() }}
            ) as country_code
        from (
            -- values of other characters: extension removed, letters read (phone_keypad.sql)
            select
                without_extension.*,
                case when not has_plain_characters then {{ tiktok_sync._phone_keypad_value('number_value') }} end as dialled_value
            from (
                select
                    checked.*,
                    case when not has_plain_characters then {{ tiktok_sync._phone_without_extension('raw_value') }} end as number_value
                from (
                    select
                        input_id,
                        raw_value,
                        -- the portable test on the value without whitespace, with whitespace allowed anywhere
                        regexp_full_match(raw_value, {{ tiktok_sync.regex_literal(ws ~ '*([(]' ~ ws ~ '*)?[+]([-0-9()./]|' ~ ws ~ ')*|([-0-9()./]|' ~ ws ~ ')*') }}) as has_plain_characters,
                        given_country
                    from (
                        select
                            input_id,
                            cast(raw_value as {{ dbt.type_string() }}) as raw_value,
                            upper(case
                                when regexp_matches(country_code, {{ tiktok_sync.regex_literal(ws) }})
                                    then regexp_replace(country_code, {{ tiktok_sync.regex_literal(ws) }}, '', 'g')
                                else country_code
                            end) as given_country
                        from (select input_id, raw_value, cast(country_code as {{ dbt.type_string() }}) as country_code from {{ input_cte }}) as typed
                    ) as compacted
                ) as checked
            ) as without_extension
        ) as keyed
    ) as read
),

phone_routed as (
    select
        input_id,
        has_allowed_characters,
        digits,
        country_code,
        international_digits is not null as is_international,
        international_digits
    from (
        select
            phone_read.*,
            case
                when has_plus then digits
                else {{ tiktok_sync._phone_international_digits('digits', 'dialling.exact_international_prefixes') }}
            end as international_digits
        from phone_read
        left join phone_rules as dialling
            on dialling.country_code = case when not phone_read.has_plus then phone_read.country_code end
    ) as dialled
)

{%- call tiktok_sync._phone_result() %}
    select
        input_id,
        calling_code,
        national_number,
        {{ tiktok_sync._phone_reason_code(duckdb=true) }} as reason_code
    from (
        select
            candidates.*,
            case
                when starts_with(candidate, rule_trunk_prefix)
                    and {{ tiktok_sync._phone_duckdb_listed('candidate', 'rule_trunk_lookalike_prefixes', with_length=true) }}
                    then {{ tiktok_sync._phone_duckdb_length_in('substr(candidate, length(rule_trunk_prefix) + 1)', 'rule_national_possible_lengths') }}
                else false
            end as has_trunk_ambiguity,
            {{ tiktok_sync._phone_national_number(duckdb=true) }} as national_number
        from (
            select
                ruled.*,
                -- for national numbers the rule columns are the row country's (portable: region_*)
                coalesce(written_with_code, false) as includes_calling_code,
                written_with_code is null as has_code_ambiguity,
                case
                    when is_international then substr(international_digits, length(calling_code) + 1)
                    when written_with_code then substr(digits, length(calling_code) + 1)
                    else digits
                end as candidate
            from (
                select
                    phone_routed.*,
                    rules.* exclude (is_international),
                    rules.rule_key as region_country_code,
                    {{ tiktok_sync._phone_written_with_code('phone_routed.is_international', 'phone_routed.digits', 'rules.rule_key', 'rules.calling_code', 'rules.rule_national_max_length') }} as written_with_code
                from phone_routed
                left join phone_rule_sets as rules
                    on rules.is_international = phone_routed.is_international
                    and rules.rule_key = case
                        when phone_routed.is_international then substr(phone_routed.international_digits, 1, 3)
                        else phone_routed.country_code
                    end
            ) as ruled
        ) as candidates
    ) as stripped
{%- endcall %}
{%- endmacro %}

{#- `|7|9|10|` as a bigint whose bit n is set when n is an entry (0 <= n < 63):
    exactly the n for which `list like '%|n|%'` holds, as the entries written
    as canonical integers are the only ones cast(n as varchar) can equal. -#}
{% macro _phone_lengths_mask(lengths) -%}
coalesce(list_aggregate(list_transform(
    list_filter(string_split({{ lengths }}, '|')[2:-2],
        lambda entry: cast(try_cast(entry as integer) as varchar) = entry and try_cast(entry as integer) between 0 and 62),
    lambda entry: cast(1 as bigint) << try_cast(entry as integer)), 'bit_or'), 0)
{%- endmacro %}

{#- Whether length(expr) is an entry of the list: the mask, or for lengths the
    mask cannot hold the portable LIKE. False when the list is null. -#}
{% macro _phone_duckdb_length_in(expr, lengths) -%}
coalesce(case
    when length({{ expr }}) < 63 then (({{ lengths }}_mask >> length({{ expr }})) & 1) = 1
    else {{ lengths }} like ('%|' || cast(length({{ expr }}) as varchar) || '|%')
end, false)
{%- endmacro %}

{#- Length of the shortest entry of a `|d|d:L|` list (the digits before any
    ':'); null when the list is null or has no entry. -#}
{% macro _phone_shortest_entry(prefixes) -%}
list_min(list_transform(string_split({{ prefixes }}, '|')[2:-2], lambda entry: length(split_part(entry, ':', 1))))
{%- endmacro %}

{#- _phone_has_listed_prefix (phone_e164.sql) with a stronger first test: an
    entry that is a prefix of expr (digits) is at least `shortest` long, so
    unless "|" followed by the first `shortest` digits of expr occurs in the
    list, no entry matches; that settles nearly every row with one contains.
    The rest go through the portable test, as contains instead of LIKE
    (the patterns are digits, "|" and ":", no wildcards). -#}
{% macro _phone_duckdb_listed(expr, prefixes, with_length=false) -%}
case
    when {{ prefixes }} is null then false
    when not contains({{ prefixes }}, '|' || substr({{ expr }}, 1, {{ prefixes }}_shortest)) then false
    else coalesce(
    {%- for k in range(1, 7) %}
        {{ 'or ' if not loop.first }}contains({{ prefixes }}, '|' || substr({{ expr }}, 1, {{ k }}) || '|')
        {%- if with_length %}
        or contains({{ prefixes }}, '|' || substr({{ expr }}, 1, {{ k }}) || ':' || cast(length({{ expr }}) as varchar) || '|')
        {%- endif %}
    {%- endfor %},
        false)
end
{%- endmacro %}

{#- The rule columns of a rule set: `rule` gives the rules for the digits,
    `main` those of the calling code's main country (prefixes with the length
    of their shortest entry, lengths with their mask). -#}
{% macro _phone_duckdb_rule_columns(rule, main) -%}
{{ rule }}.trunk_prefix as rule_trunk_prefix,
        {{ rule }}.trunk_lookalike_prefixes as rule_trunk_lookalike_prefixes,
        {{ rule }}.trunk_lookalike_prefixes_shortest as rule_trunk_lookalike_prefixes_shortest,
        {{ rule }}.national_possible_lengths as rule_national_possible_lengths,
        {{ rule }}.national_possible_lengths_mask as rule_national_possible_lengths_mask,
        {{ rule }}.national_max_length as rule_national_max_length,
        {{ rule }}.special_national_prefixes as rule_special_prefixes,
        {{ rule }}.special_national_prefixes_shortest as rule_special_prefixes_shortest,
        {{ main }}.trunk_prefix as main_trunk_prefix,
        {{ main }}.special_national_prefixes as main_special_prefixes,
        {{ main }}.special_national_prefixes_shortest as main_special_prefixes_shortest,
        {{ main }}.national_min_length as main_national_min_length,
        {{ main }}.national_max_length as main_national_max_length,
        {{ main }}.national_possible_lengths as main_national_possible_lengths,
        {{ main }}.national_possible_lengths_mask as main_national_possible_lengths_mask
{%- endmacro %}
