{#- Phone numbers to E.164 digits without "+", in portable SQL.

    phone_normalised_select(input_cte, calling_codes) renders one SELECT (use
    it as a CTE body) over `input_cte`, which has the columns
      input_id      any type, passed through;
      raw_value     string, not null, not empty (the caller drops those);
      country_code  string or null: ISO-3166 alpha-2, trimmed and upper-cased
                    here; null or blank means var tiktok_sync_default_phone_country,
    and over `calling_codes` (a relation or CTE name with the columns of
    the country_calling_codes() macro). It returns exactly one row per input
    row: input_id, e164_digits (string, null when rejected) and reason_code
    (null when valid, else a key of phone_rejection_reasons()).

    The rule (docs/normalisation-phone.md; TikTok H1/H2 in docs/tiktok-api.md §6.2, §0):
    drop an extension and a leading tel:, and read letters, as libphonenumber
    does (phone_keypad.sql); delete whitespace; allow only digits, a leading +
    (optionally after "("), and - . ( ) /; a + or the row's country's own
    international prefix (00 in GB, 011 in the US, 0011 in AU) not followed by
    0 means the digits carry their calling code; otherwise the
    row's country gives it, and a national trunk prefix is dropped; the
    national number must have a possible length and match one of
    libphonenumber's number patterns (phone_valid_number.sql). The
    result is emitted only when it is exactly what libphonenumber's
    parse() + format(E164) gives; whenever the right reading depends on a
    regular expression of libphonenumber's metadata that the seed could not
    reduce to lengths and prefixes, the row is rejected with a reason instead
    (tests/test_phone_parity.py holds the SQL to that on a corpus).

    Portability: only substr, length, upper, coalesce, ||, like, case, cast,
    translate, equi-joins and the cross_engine regex macros (patterns without
    backslashes). Calling codes are prefix-free, so the 1-, 2- and 3-digit
    lookups below find at most one code; equi-joins keep them hash joins. -#}
{% macro phone_normalised_select(input_cte, calling_codes) -%}
  {{ return(adapter.dispatch('phone_normalised_select', 'tiktok_sync')(input_cte, calling_codes)) }}
{%- endmacro %}

{#- Engine differences live in the cross_engine primitives this calls; an engine
    that ever needs more gets its own `<adapter>__phone_normalised_select`, as
    DuckDB has for speed (phone_e164_duckdb.sql: same rows, less work). Each
    step ends in optimisation_fence(): every step refers to the columns of the
    one before many times, and Postgres would otherwise flatten the steps into
    one projection with each column's expression copied into every use. -#}
{% macro default__phone_normalised_select(input_cte, calling_codes) -%}
{%- set string_type = tiktok_sync.string_cast_type() -%}
{%- set default_sql = tiktok_sync._phone_default_country_sql() -%}
{#- digits, - . ( ) / and one + first (or after the opening bracket) -#}
{%- set plain_characters = '[(]?[+][-0-9()./]*|[-0-9()./]*' -%}
{%- call tiktok_sync._phone_result() %}
    select
        stripped.*,
        {{ tiktok_sync._phone_reason_code() }} as reason_code
    from (
        -- libphonenumber's trunk rule: a leading trunk prefix is dropped unless a
        -- national number of this length may itself start with those digits
        -- (trunk_lookalike_prefixes); then lengths decide, or the row is rejected
        select
            candidates.*,
            coalesce(
                {{ tiktok_sync._phone_starts_with('candidate', 'rule_trunk_prefix') }}
                and {{ tiktok_sync._phone_has_listed_prefix('candidate', 'rule_trunk_lookalike_prefixes', with_length=true) }}
                and {{ tiktok_sync._phone_length_in('substr(candidate, length(rule_trunk_prefix) + 1)', 'rule_national_possible_lengths') }},
                false
            ) as has_trunk_ambiguity,
            {{ tiktok_sync._phone_national_number() }} as national_number
        from (
            -- the digits after the calling code, and whose rules apply to them: the main
            -- country of the calling code for international input, else the row's country
            select
                routed.*,
                coalesce(written_with_code, false) as includes_calling_code,
                written_with_code is null as has_code_ambiguity,
                case
                    when is_international then substr(international_digits, length(routed.calling_code) + 1)
                    when written_with_code then substr(digits, length(region_calling_code) + 1)
                    else digits
                end as candidate,
                case when is_international then main_region.trunk_prefix else region_trunk_prefix end as rule_trunk_prefix,
                case when is_international then main_region.trunk_lookalike_prefixes else region_trunk_lookalike_prefixes end as rule_trunk_lookalike_prefixes,
                case when is_international then main_region.national_possible_lengths else region_national_possible_lengths end as rule_national_possible_lengths,
                case when is_international then main_region.national_max_length else region_national_max_length end as rule_national_max_length,
                case when is_international then main_region.special_national_prefixes else region_special_prefixes end as rule_special_prefixes,
                main_region.trunk_prefix as main_trunk_prefix,
                main_region.special_national_prefixes as main_special_prefixes,
                main_region.national_min_length as main_national_min_length,
                main_region.national_max_length as main_national_max_length,
                main_region.national_possible_lengths as main_national_possible_lengths
            from (
                select
                    prefixed.*,
                    international_digits is not null as is_international,
                    case
                        when international_digits is not null then coalesce(code_1.calling_code, code_2.calling_code, code_3.calling_code)
                        else region_calling_code
                    end as calling_code,
                    {{ tiktok_sync._phone_written_with_code('(international_digits is not null)', 'digits', 'region_country_code', 'region_calling_code', 'region_national_max_length') }} as written_with_code
                from (
                    select
                        cleaned.*,
                        region.country_code as region_country_code,
                        region.calling_code as region_calling_code,
                        region.trunk_prefix as region_trunk_prefix,
                        region.trunk_lookalike_prefixes as region_trunk_lookalike_prefixes,
                        region.national_possible_lengths as region_national_possible_lengths,
                        region.national_max_length as region_national_max_length,
                        region.national_format_supported as region_national_format_supported,
                        region.international_prefixes as region_international_prefixes,
                        region.special_national_prefixes as region_special_prefixes,
                        case
                            when has_plus then digits
                            else {{ tiktok_sync._phone_international_digits('digits', 'region.exact_international_prefixes') }}
                        end as international_digits
                    from (
                        select
                            input_id,
                            case
                                when has_plain_characters then true
                                else {{ tiktok_sync.regex_full_match('dialled_value', plain_characters) }}
                            end as has_allowed_characters,
                            (substr(dialled_value, 1, 1) = '+' or substr(dialled_value, 1, 2) = '(+') as has_plus,
                            {{ tiktok_sync.regex_replace_all('dialled_value', '[^0-9]', '') }} as digits,
                            coalesce(
                                case when given_country <> '' then given_country end,
                                {{ default_sql }}
                            ) as country_code
                        from (
                            -- letters as libphonenumber reads them (phone_keypad.sql)
                            select
                                input_id,
                                has_plain_characters,
                                case
                                    when has_plain_characters then number_value
                                    else {{ tiktok_sync._phone_keypad_value('number_value') }}
                                end as dialled_value,
                                given_country
                            from (
                                -- a value of other characters may end in an extension (phone_keypad.sql)
                                select
                                    input_id,
                                    has_plain_characters,
                                    case
                                        when has_plain_characters then compact_value
                                        else {{ tiktok_sync._phone_without_extension('raw_value') }}
                                    end as number_value,
                                    given_country
                                from (
                                    select
                                        compacted.*,
                                        {{ tiktok_sync.regex_full_match('compact_value', plain_characters) }} as has_plain_characters
                                    from (
                                        select
                                            input_id,
                                            cast(raw_value as {{ string_type }}) as raw_value,
                                            {{ tiktok_sync.remove_whitespace('cast(raw_value as ' ~ string_type ~ ')') }} as compact_value,
                                            upper({{ tiktok_sync.remove_whitespace('cast(country_code as ' ~ string_type ~ ')') }}) as given_country
                                        from {{ input_cte }}
                                        {{ tiktok_sync.optimisation_fence() }}
                                    ) as compacted
                                    {{ tiktok_sync.optimisation_fence() }}
                                ) as checked_characters
                                {{ tiktok_sync.optimisation_fence() }}
                            ) as extension_removed
                            {{ tiktok_sync.optimisation_fence() }}
                        ) as keyed
                        {{ tiktok_sync.optimisation_fence() }}
                    ) as cleaned
                    left join {{ calling_codes }} as region
                        on cleaned.country_code = region.country_code
                    -- the calling-code patterns of step 5 are chosen by country
                    {{ tiktok_sync.regex_cache_order(['region_country_code']) }}
                    {{ tiktok_sync.optimisation_fence() }}
                ) as prefixed
                left join (select calling_code from {{ calling_codes }} where is_main_country_for_code) as code_1
                    on substr(prefixed.international_digits, 1, 1) = code_1.calling_code
                left join (select calling_code from {{ calling_codes }} where is_main_country_for_code) as code_2
                    on substr(prefixed.international_digits, 1, 2) = code_2.calling_code
                left join (select calling_code from {{ calling_codes }} where is_main_country_for_code) as code_3
                    on substr(prefixed.international_digits, 1, 3) = code_3.calling_code
                {{ tiktok_sync.optimisation_fence() }}
            ) as routed
            left join {{ calling_codes }} as main_region
                on routed.calling_code = main_region.calling_code
                and main_region.is_main_country_for_code
            {{ tiktok_sync.optimisation_fence() }}
        ) as candidates
        -- the number patterns of step 9 are chosen by calling code
        {{ tiktok_sync.regex_cache_order(['calling_code', 'national_number']) }}
        {{ tiktok_sync.optimisation_fence() }}
    ) as stripped
{%- endcall %}
{%- endmacro %}

{#- What phone_normalised_select returns, from caller(): a query with input_id,
    calling_code, national_number and reason_code. -#}
{% macro _phone_result() -%}
select
    input_id,
    case when reason_code is null then calling_code || national_number end as e164_digits,
    reason_code
from (
    {{ caller() }}
    {{ tiktok_sync.optimisation_fence() }}
) as checked
{%- endmacro %}

{#- The reason code of a row of phone_normalised_select, from the columns both
    implementations compute under the same names (the order of the tests is
    the rule). `duckdb`: look lists up as duckdb__phone_normalised_select
    prepares them (phone_e164_duckdb.sql), same result. -#}
{% macro _phone_reason_code(duckdb=false) -%}
case
    when not has_allowed_characters then 'phone_invalid_characters'
    when digits = '' then 'phone_too_short'
    when is_international and calling_code is null then 'phone_unknown_calling_code'
    when not is_international and country_code is null then 'phone_no_country'
    when not is_international and region_country_code is null then 'phone_unknown_country'
    -- the country's international prefix followed by 0, one too long to list (CN's
    -- 11xxx00), or 00 where the country dials abroad otherwise: libphonenumber may read
    -- the digits as international, or as national with those digits kept
    when not is_international and {{ tiktok_sync._phone_listed(duckdb, 'digits', 'region_international_prefixes') }} then 'phone_ambiguous_prefix'
    when not is_international and not region_national_format_supported then 'phone_national_format_unsupported'
    when has_code_ambiguity then 'phone_ambiguous_prefix'
    when {{ tiktok_sync._phone_listed(duckdb, 'candidate', 'rule_special_prefixes', with_length=true) }} then 'phone_national_format_unsupported'
    when has_trunk_ambiguity then 'phone_ambiguous_prefix'
    when national_number is null then 'phone_invalid_length'
    -- the calling code was written in national format: the number goes through
    -- libphonenumber's trunk rule a second time, with the main country's rules
    when includes_calling_code and (
        {{ tiktok_sync._phone_starts_with('national_number', 'main_trunk_prefix') }}
        or {{ tiktok_sync._phone_listed(duckdb, 'national_number', 'main_special_prefixes', with_length=true) }}
    ) then 'phone_ambiguous_prefix'
    when length(national_number) < main_national_min_length then 'phone_too_short'
    when length(national_number) > main_national_max_length then 'phone_too_long'
    when not {{ tiktok_sync._phone_lengths_in(duckdb, 'national_number', 'main_national_possible_lengths') }} then 'phone_invalid_length'
    when length(calling_code) + length(national_number) < 8 then 'phone_too_short'
    when length(calling_code) + length(national_number) > 15 then 'phone_too_long'
    -- a possible length is not enough: libphonenumber's is_valid_number also needs
    -- one of its number patterns to match, or the hash matches nobody
    when not {{ tiktok_sync._phone_valid_number('calling_code', 'national_number') }} then 'phone_invalid_number'
end
{%- endmacro %}

{#- Whether national-format digits start with the row country's calling code,
    as libphonenumber reads them: true when they are too long for a national
    number or phone_calling_code_written.sql says the code comes off, false when
    they do not start with it or are a national number, null when the SQL
    cannot tell (phone_ambiguous_prefix). -#}
{% macro _phone_written_with_code(is_international, digits, country_code, calling_code, national_max_length) -%}
case
    when not (not {{ is_international }} and {{ tiktok_sync._phone_starts_with(digits, calling_code) }}) then false
    when length({{ digits }}) > {{ national_max_length }} then true
    else {{ tiktok_sync._phone_calling_code_written(country_code, digits) }}
end
{%- endmacro %}

{#- libphonenumber's trunk rule: the national number, null when the trunk
    prefix cannot be dropped or kept (see phone_normalised_select). -#}
{% macro _phone_national_number(duckdb=false) -%}
case
    when not coalesce({{ tiktok_sync._phone_starts_with('candidate', 'rule_trunk_prefix') }}, false)
        then candidate
    when not {{ tiktok_sync._phone_listed(duckdb, 'candidate', 'rule_trunk_lookalike_prefixes', with_length=true) }}
        then case
            -- libphonenumber keeps the prefix when the rest has no possible
            -- length (e.g. 0 + 8 digits in GB); that is garbage: null rejects it
            when {{ tiktok_sync._phone_lengths_in(duckdb, 'substr(candidate, length(rule_trunk_prefix) + 1)', 'rule_national_possible_lengths') }}
                or length(candidate) - length(rule_trunk_prefix) > rule_national_max_length
                then substr(candidate, length(rule_trunk_prefix) + 1)
        end
    when not {{ tiktok_sync._phone_lengths_in(duckdb, 'substr(candidate, length(rule_trunk_prefix) + 1)', 'rule_national_possible_lengths') }}
        then candidate
end
{%- endmacro %}

{#- _phone_has_listed_prefix, or on DuckDB its faster twin. -#}
{% macro _phone_listed(duckdb, expr, prefixes, with_length=false) -%}
{%- if duckdb -%}
{{ tiktok_sync._phone_duckdb_listed(expr, prefixes, with_length) }}
{%- else -%}
{{ tiktok_sync._phone_has_listed_prefix(expr, prefixes, with_length) }}
{%- endif -%}
{%- endmacro %}

{#- _phone_length_in, or on DuckDB its faster twin. -#}
{% macro _phone_lengths_in(duckdb, expr, lengths) -%}
{%- if duckdb -%}
{{ tiktok_sync._phone_duckdb_length_in(expr, lengths) }}
{%- else -%}
{{ tiktok_sync._phone_length_in(expr, lengths) }}
{%- endif -%}
{%- endmacro %}

{#- The var tiktok_sync_default_phone_country as a SQL literal (null when unset);
    compilation fails unless it is an ISO-3166 alpha-2 code. -#}
{% macro _phone_default_country_sql() -%}
{%- set default_country = var('tiktok_sync_default_phone_country', none) -%}
{%- if default_country is not none and (default_country | string | trim) != '' -%}
  {%- set default_country = default_country | string | trim | upper -%}
  {%- if default_country | length != 2 or not (default_country[0] in 'ABCDEFGHIJKLMNOPQRSTUVWXYZ' and default_country[1] in 'ABCDEFGHIJKLMNOPQRSTUVWXYZ') -%}
    {{ exceptions.raise_compiler_error("var tiktok_sync_default_phone_country must be an ISO-3166 alpha-2 code such as GB, got '" ~ default_country ~ "'") }}
  {%- endif -%}
  {{ return("'" ~ default_country ~ "'") }}
{%- else -%}
  {{ return('cast(null as ' ~ dbt.type_string() ~ ')') }}
{%- endif -%}
{%- endmacro %}

{#- The digits after the country's own international (IDD) prefix, as
    libphonenumber strips it: the longest entry of the `|00|011|0011|` list
    (exact_international_prefixes) that the digits start with, unless a 0
    follows it (no calling code starts with 0); null when none is listed or a 0
    follows. The generator checks that the longest entry is the one
    libphonenumber's pattern matches first, and that no entry is longer than 8.
    The first test settles most rows: an entry that starts the digits is one
    digit long or starts with their first two. -#}
{% macro _phone_international_digits(digits, prefixes) -%}
case
    when not (
        {{ prefixes }} like ('%|' || substr({{ digits }}, 1, 2) || '%')
        or {{ prefixes }} like ('%|' || substr({{ digits }}, 1, 1) || '|%')
    ) then null
    {%- for k in range(8, 0, -1) %}
    when {{ prefixes }} like ('%|' || substr({{ digits }}, 1, {{ k }}) || '|%')
        then case when substr({{ digits }}, {{ k + 1 }}, 1) <> '0' then substr({{ digits }}, {{ k + 1 }}) end
    {%- endfor %}
end
{%- endmacro %}

{#- (substr(expr, 1, length(prefix)) = prefix); null when prefix is null. -#}
{% macro _phone_starts_with(expr, prefix) -%}
(substr({{ expr }}, 1, length({{ prefix }})) = {{ prefix }})
{%- endmacro %}

{#- Whether length(expr) is one of "|7|9|10|". -#}
{% macro _phone_length_in(expr, lengths) -%}
coalesce({{ lengths }} like ('%|' || cast(length({{ expr }}) as {{ dbt.type_string() }}) || '|%'), false)
{%- endmacro %}

{#- Whether expr starts with an entry of a "|d|d:L|" list (d: leading digits,
    at most 6; L: only for numbers of exactly that length). Most lists are null
    (no country has lookalike or special prefixes but a few), and most numbers
    start with a digit no entry starts with: the first two WHENs settle those
    rows with one cheap test, before the 6 (12) LIKEs with patterns built per
    row, which were the largest cost of phone normalisation (bench/README.md).
    Same result as the LIKEs alone: every pattern below needs '|' followed by
    the first character of expr somewhere in the list. -#}
{% macro _phone_has_listed_prefix(expr, prefixes, with_length=false) -%}
case
    when {{ prefixes }} is null then false
    when not ({{ prefixes }} like ('%|' || substr({{ expr }}, 1, 1) || '%')) then false
    else coalesce(
    {%- for k in range(1, 7) %}
        {{ 'or ' if not loop.first }}{{ prefixes }} like ('%|' || substr({{ expr }}, 1, {{ k }}) || '|%')
        {%- if with_length %}
        or {{ prefixes }} like ('%|' || substr({{ expr }}, 1, {{ k }}) || ':' || cast(length({{ expr }}) as {{ dbt.type_string() }}) || '|%')
        {%- endif %}
    {%- endfor %},
        false)
end
{%- endmacro %}
