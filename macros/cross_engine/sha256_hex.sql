{#- SHA-256 of a string's UTF-8 bytes as 64 lowercase hex characters.
    engines.md §2.2 (6, 7): BigQuery and Postgres return bytes, so hex-encode
    them; Postgres needs the UTF-8 conversion spelled out. -#}
{% macro sha256_hex(expr) %}
  {{- return(adapter.dispatch('sha256_hex', 'tiktok_sync')(expr)) -}}
{% endmacro %}

{% macro default__sha256_hex(expr) -%}
  sha2({{ expr }}, 256)
{%- endmacro %}

{% macro duckdb__sha256_hex(expr) -%}
  sha256({{ expr }})
{%- endmacro %}

{% macro postgres__sha256_hex(expr) -%}
  encode(sha256(convert_to({{ expr }}, 'UTF8')), 'hex')
{%- endmacro %}

{% macro snowflake__sha256_hex(expr) -%}
  sha2({{ expr }}, 256)
{%- endmacro %}

{% macro bigquery__sha256_hex(expr) -%}
  to_hex(sha256({{ expr }}))
{%- endmacro %}

{% macro spark__sha256_hex(expr) -%}
  sha2({{ expr }}, 256)
{%- endmacro %}
