{#- The audience normalisation exactly as audience models get it
    (audience_identifiers_sql), over a fixed set of input cases, so dbt unit
    tests can pin every rule. -#}
{%- set settings = {'audience_key': 'identifier_cases'} -%}
{%- set id_columns = tiktok_sync.identifier_columns().keys() | list -%}
{%- set cases_sql = 'select * from ' ~ ref('identifier_cases') -%}

{{ tiktok_sync.audience_identifiers_sql(cases_sql, settings, id_columns, 'country_code') }}
