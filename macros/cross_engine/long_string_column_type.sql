{#- The type of a table column that holds free text of no fixed length
    (rejection reasons, audience names, TikTok's error messages): what
    dbt.type_string() gives everywhere but Redshift. There it is TEXT, which
    Redshift creates as VARCHAR(256), 256 bytes: an audience name of 128
    non-ASCII characters, a longer reason text or a TikTok error message would
    fail the INSERT ("An attempt to store a longer string into a column of these
    types results in an error",
    https://docs.aws.amazon.com/redshift/latest/dg/r_Character_types.html).
    VARCHAR(65535) is Redshift's longest; only columns that need it get it,
    as Redshift advises against the maximum width for convenience
    (https://docs.aws.amazon.com/redshift/latest/dg/c_best-practices-smallest-column-size.html):
    hashes, keys, codes and ids keep dbt.type_string(). -#}
{% macro long_string_column_type() %}
  {{- return(adapter.dispatch('long_string_column_type', 'tiktok_sync')()) -}}
{% endmacro %}

{% macro default__long_string_column_type() %}
  {{- return(dbt.type_string()) -}}
{% endmacro %}

{% macro redshift__long_string_column_type() %}
  {{- return('varchar(65535)') -}}
{% endmacro %}
