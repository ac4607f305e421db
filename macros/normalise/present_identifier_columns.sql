{#- The identifier columns (keys of identifier_columns(), in its order) among
    `column_names`, matched case-insensitively: Snowflake reports upper case. -#}
{% macro present_identifier_columns(column_names) %}
  {%- set names = [] -%}
  {%- for name in column_names -%}
    {%- do names.append(name | lower) -%}
  {%- endfor -%}
  {%- set present = [] -%}
  {%- for column in tiktok_sync.identifier_columns() -%}
    {%- if column in names -%}{%- do present.append(column) -%}{%- endif -%}
  {%- endfor -%}
  {{ return(present) }}
{% endmacro %}
