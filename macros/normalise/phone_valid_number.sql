{#- Whether `national_number` (digits) is a number libphonenumber's is_valid_number
    accepts with `calling_code`: false, never null, when either is null or the code
    has no patterns. phone_number_patterns() holds, per calling code, one step per
    region in libphonenumber's order (scripts/generate_country_calling_codes.py):
    a region with leading digits takes every number they start and decides with
    its patterns alone; one without takes the numbers its patterns match.

    The patterns are constants in a CASE over the calling code, not a column of
    the lookup read per row: DuckDB, Spark and BigQuery compile a constant regex
    once per query but a per-row pattern once per row, and the dbt unit tests
    that mock the lookup with a few CSV rows still run against every pattern.
    The CASE first branches on the code's first digit, so a row compares its
    code with about a dozen others instead of all 206. -#}
{% macro _phone_valid_number(calling_code, national_number) -%}
{%- set patterns = tiktok_sync.phone_number_patterns() -%}
{%- set by_first_digit = {} -%}
{%- for code in patterns | sort -%}
  {%- do by_first_digit.setdefault(code[0], []).append(code) -%}
{%- endfor -%}
coalesce(case substr({{ calling_code }}, 1, 1)
{%- for first, codes in by_first_digit | dictsort %}
    when '{{ first }}' then case {{ calling_code }}
    {%- for code in codes %}
        when '{{ code }}' then {{ tiktok_sync._phone_pattern_steps(national_number, patterns[code]) }}
    {%- endfor %}
    end
{%- endfor %}
end, false)
{%- endmacro %}

{#- One calling code's steps as SQL (see _phone_valid_number): a single step
    without leading digits is its pattern alone. -#}
{% macro _phone_pattern_steps(national_number, steps) -%}
{%- if steps | length == 1 and steps[0][0] is none -%}
{{ tiktok_sync.regex_full_match(national_number, steps[0][1]) }}
{%- else -%}
case
    {%- for leading, pattern in steps %}
    {%- if leading is none %}
            when {{ tiktok_sync.regex_full_match(national_number, pattern) }} then true
    {%- else %}
            when {{ tiktok_sync.regex_full_match(national_number, '(' ~ leading ~ ')[0-9]*') }}
                then {{ tiktok_sync.regex_full_match(national_number, pattern) }}
    {%- endif %}
    {%- endfor %}
            else false
        end
{%- endif -%}
{%- endmacro %}
