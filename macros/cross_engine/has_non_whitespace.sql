{#- True when `expr` (not null) holds anything besides whitespace (ASCII or
    Unicode spaces), i.e. when remove_whitespace(expr) is not empty: the test
    that keeps empty values out of normalisation (they are counted, not
    rejected).

    DuckDB pushes a filter on a computed column down through the projection
    that computes it and then evaluates the expression twice, so filtering on
    remove_whitespace(...) <> '' cost one more regexp_replace per value
    (bench/README.md); a partial match that stops at the first other character
    gives the same answer for a fraction of that. -#}
{% macro has_non_whitespace(expr) %}
  {{- return(adapter.dispatch('has_non_whitespace', 'tiktok_sync')(expr)) -}}
{% endmacro %}

{% macro default__has_non_whitespace(expr) -%}
  ({{ tiktok_sync.remove_whitespace(expr) }} <> '')
{%- endmacro %}

{#- Almost every value starts with something other than whitespace: its first
    code point (DuckDB's ascii() returns the code point) settles it, and only
    the rest take the regular expression. -#}
{% macro duckdb__has_non_whitespace(expr) -%}
  case
    when {{ expr }} = '' then false
    when ascii({{ expr }}) not in ({{ ([9, 10, 11, 12, 13, 32] + tiktok_sync.unicode_space_code_points()) | join(', ') }}) then true
    else regexp_matches({{ expr }}, {{ tiktok_sync.regex_literal('[^' ~ tiktok_sync.whitespace_characters() ~ ']') }})
  end
{%- endmacro %}
