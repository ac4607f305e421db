{#- Replace every match of `pattern` (a regex, written once for all engines)
    in `expr`. DuckDB and Postgres replace only the first
    match unless given the 'g' flag; the others replace all by default. -#}
{% macro regex_replace_all(expr, pattern, replacement='') %}
  {{- return(adapter.dispatch('regex_replace_all', 'tiktok_sync')(expr, pattern, replacement)) -}}
{% endmacro %}

{% macro default__regex_replace_all(expr, pattern, replacement) -%}
  regexp_replace({{ expr }}, {{ tiktok_sync.regex_literal(pattern) }}, {{ tiktok_sync.regex_literal(replacement) }})
{%- endmacro %}

{% macro duckdb__regex_replace_all(expr, pattern, replacement) -%}
  regexp_replace({{ expr }}, {{ tiktok_sync.regex_literal(pattern) }}, {{ tiktok_sync.regex_literal(replacement) }}, 'g')
{%- endmacro %}

{% macro postgres__regex_replace_all(expr, pattern, replacement) -%}
  regexp_replace({{ expr }}, {{ tiktok_sync.regex_literal(pattern) }}, {{ tiktok_sync.regex_literal(replacement) }}, 'g')
{%- endmacro %}

{#- Redshift: REGEXP_REPLACE(source, pattern [, replace [, position [, parameters]]])
    replaces every occurrence, and its fourth argument is the start position, an
    integer: postgres__'s 'g' there is an error, not a flag
    (https://docs.aws.amazon.com/redshift/latest/dg/REGEXP_REPLACE.html). -#}
{% macro redshift__regex_replace_all(expr, pattern, replacement) -%}
  regexp_replace({{ expr }}, {{ tiktok_sync.regex_literal(pattern) }}, {{ tiktok_sync.regex_literal(replacement) }})
{%- endmacro %}
