{#- A Python string as a SQL string literal. Standard SQL doubles quotes;
    BigQuery, Spark and Snowflake read backslash escapes in literals, so there the
    backslash and the quote are escaped with a backslash instead. -#}
{% macro string_literal(value) %}
  {%- if value is none -%}{{ return('cast(null as ' ~ dbt.type_string() ~ ')') }}{%- endif -%}
  {{- return(adapter.dispatch('string_literal', 'tiktok_sync')(value | string)) -}}
{% endmacro %}

{% macro default__string_literal(value) -%}
  '{{ value | replace("'", "''") }}'
{%- endmacro %}

{% macro bigquery__string_literal(value) -%}
  '{{ value | replace("\\", "\\\\") | replace("'", "\\'") | replace("\n", "\\n") }}'
{%- endmacro %}

{% macro spark__string_literal(value) -%}
  '{{ value | replace("\\", "\\\\") | replace("'", "\\'") }}'
{%- endmacro %}

{% macro snowflake__string_literal(value) -%}
  '{{ value | replace("\\", "\\\\") | replace("'", "\\'") }}'
{%- endmacro %}
