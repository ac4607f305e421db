{#- Whether `digits`, a number written without "+" or an international prefix
    that starts with the calling code of `country_code` and is not too long to be
    one of its national numbers, carries that calling code: true (the code comes
    off), false (the digits are a national number) or null (the SQL cannot tell;
    the row is rejected). libphonenumber takes the code off when the digits do
    not match the region's general pattern but, after the code and a trunk
    prefix, the rest does (`61412345678` in AU); its national-prefix rule may
    rewrite some rests first (carrier codes), and those are the null.
    phone_calling_code_patterns() holds the three patterns per region, for the
    regions where such digits may carry the code; elsewhere they never do, as
    in the US (1 and ten digits are too long to be national).
    scripts/generate_country_calling_codes.py checks the reading against
    libphonenumber. Constant patterns in a CASE over the country, as in
    phone_valid_number.sql: a constant regex is compiled once per query. -#}
{% macro _phone_calling_code_written(country_code, digits) -%}
{%- set patterns = tiktok_sync.phone_calling_code_patterns() -%}
case {{ country_code }}
{%- for region, (general, special, with_code) in patterns | dictsort %}
    when '{{ region }}' then
    {%- if general is none and special is none %} {{ tiktok_sync.regex_full_match(digits, with_code) }}
    {%- else %} case
        {%- if general is not none %}
        when {{ tiktok_sync.regex_full_match(digits, general) }} then false
        {%- endif %}
        {%- if special is not none %}
        when {{ tiktok_sync.regex_full_match(digits, special) }} then null
        {%- endif %}
        else {{ tiktok_sync.regex_full_match(digits, with_code) }}
    end
    {%- endif %}
{%- endfor %}
    else false
end
{%- endmacro %}
