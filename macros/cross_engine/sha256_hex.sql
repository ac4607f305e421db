{#- SHA-256 of a string's UTF-8 bytes as 64 lowercase hex characters.
    BigQuery and Postgres return bytes, so hex-encode
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

{#- Redshift has neither sha256() nor the convert_to() and encode() of
    postgres__ (https://docs.aws.amazon.com/redshift/latest/dg/c_unsupported-postgresql-functions.html:
    CONVERT_TO, ENCODE); SHA2(string, 256) returns the hash as hex text
    (https://docs.aws.amazon.com/redshift/latest/dg/SHA2.html), of the UTF-8
    bytes a VARCHAR holds. The page does not say which letter case: lower()
    makes it the lowercase TikTok matches. (An invalid bit length would return
    an empty string, not an error; 256 is a valid one.) -#}
{% macro redshift__sha256_hex(expr) -%}
  lower(sha2({{ expr }}, 256))
{%- endmacro %}
