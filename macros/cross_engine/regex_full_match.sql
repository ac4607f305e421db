{#- True when the whole of `expr` matches `pattern`.
    Snowflake's REGEXP_LIKE is implicitly anchored, everyone else matches
    anywhere, so the anchors are always written out. Java's `$` also matches
    before a final line terminator, so Spark anchors with \A...\z. -#}
{% macro regex_full_match(expr, pattern) %}
  {{- return(adapter.dispatch('regex_full_match', 'tiktok_sync')(expr, pattern)) -}}
{% endmacro %}

{% macro default__regex_full_match(expr, pattern) -%}
  regexp_like({{ expr }}, {{ tiktok_sync.regex_literal('^(' ~ pattern ~ ')$') }})
{%- endmacro %}

{% macro duckdb__regex_full_match(expr, pattern) -%}
  regexp_full_match({{ expr }}, {{ tiktok_sync.regex_literal('^(' ~ pattern ~ ')$') }})
{%- endmacro %}

{% macro postgres__regex_full_match(expr, pattern) -%}
  ({{ expr }} ~ {{ tiktok_sync.regex_literal('^(' ~ pattern ~ ')$') }})
{%- endmacro %}

{% macro snowflake__regex_full_match(expr, pattern) -%}
  regexp_like({{ expr }}, {{ tiktok_sync.regex_literal('^(' ~ pattern ~ ')$') }})
{%- endmacro %}

{% macro bigquery__regex_full_match(expr, pattern) -%}
  regexp_contains({{ expr }}, {{ tiktok_sync.regex_literal('^(' ~ pattern ~ ')$') }})
{%- endmacro %}

{% macro spark__regex_full_match(expr, pattern) -%}
  ({{ expr }} rlike {{ tiktok_sync.regex_literal('\\A(' ~ pattern ~ ')\\z') }})
{%- endmacro %}
