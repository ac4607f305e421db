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

{#- BigQuery: a quoted literal may not hold a raw line break, so line feed and
    carriage return are written as the escapes \n and \r
    (https://cloud.google.com/bigquery/docs/reference/standard-sql/lexical#string_and_bytes_literals). -#}
{% macro bigquery__string_literal(value) -%}
  '{{ value | replace("\\", "\\\\") | replace("'", "\\'") | replace("\n", "\\n") | replace("\r", "\\r") }}'
{%- endmacro %}

{% macro spark__string_literal(value) -%}
  '{{ value | replace("\\", "\\\\") | replace("'", "\\'") }}'
{%- endmacro %}

{% macro snowflake__string_literal(value) -%}
  '{{ value | replace("\\", "\\\\") | replace("'", "\\'") }}'
{%- endmacro %}

{#- Redshift reads backslash escapes in ordinary literals (no E'...' form; its
    QUOTE_LITERAL "doubles any embedded single quotation marks and backslashes",
    https://docs.aws.amazon.com/redshift/latest/dg/r_QUOTE_LITERAL.html). With
    quotes doubled alone, a value ending in a backslash would end the literal
    early (an audience name `x\` turns the rest of the statement into SQL), and
    `\t` in a value would become a tab. -#}
{% macro redshift__string_literal(value) -%}
  '{{ value | replace("\\", "\\\\") | replace("'", "''") }}'
{%- endmacro %}
