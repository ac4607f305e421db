{#- Hashes of the empty string: a pipeline that hashed a missing value
    produces them, and they would match nobody (or everybody who had the
    same bug). Rejected with reason hash_of_empty_string. -#}
{% macro empty_string_hashes() %}
  {{ return({
    64: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    32: 'd41d8cd98f00b204e9800998ecf8427e',
  }) }}
{% endmacro %}
