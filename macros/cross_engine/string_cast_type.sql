{#- The type a value is cast to inside a query when it must be a string
    (identifier_ctes, the phone normaliser): dbt.type_string() everywhere but
    Redshift. There dbt.type_string() is TEXT, which Redshift turns into
    VARCHAR(256) in a table and does not document in an expression, while a
    VARCHAR without a length "used in an expression" takes "the size of the
    input expression (up to 65535)"
    (https://docs.aws.amazon.com/redshift/latest/dg/r_Character_types.html):
    a raw value of more than 256 bytes stays whole, so its length, mask and
    fingerprint are what the other engines compute. -#}
{% macro string_cast_type() %}
  {{- return(adapter.dispatch('string_cast_type', 'tiktok_sync')()) -}}
{% endmacro %}

{% macro default__string_cast_type() %}
  {{- return(dbt.type_string()) -}}
{% endmacro %}

{% macro redshift__string_cast_type() %}
  {{- return('varchar') -}}
{% endmacro %}
