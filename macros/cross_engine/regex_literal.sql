{#- A regular expression as a string literal the engine hands to its regex
    library unchanged. engines.md §2.2 (5): Spark processes backslash escapes
    in literals, Snowflake too unless $$-quoted, BigQuery recommends raw
    strings; DuckDB and Postgres take '...' literally. -#}
{% macro regex_literal(pattern) %}
  {{- return(adapter.dispatch('regex_literal', 'tiktok_sync')(pattern)) -}}
{% endmacro %}

{% macro default__regex_literal(pattern) -%}
  '{{ pattern | replace("'", "''") }}'
{%- endmacro %}

{% macro snowflake__regex_literal(pattern) -%}
  $${{ pattern }}$$
{%- endmacro %}

{% macro bigquery__regex_literal(pattern) -%}
  {%- if "'" in pattern -%} r"{{ pattern }}" {%- else -%} r'{{ pattern }}' {%- endif -%}
{%- endmacro %}

{% macro spark__regex_literal(pattern) -%}
  '{{ pattern | replace("\\", "\\\\") | replace("'", "\\'") }}'
{%- endmacro %}
