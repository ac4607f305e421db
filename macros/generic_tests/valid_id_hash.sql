{#- id_hash is lowercase hex of the length its id_type implies: 32 for the
    MD5 types, 64 for every SHA-256 type; rows without an id_type are not
    checked (rejected identifiers). -#}
{% test valid_id_hash(model, column_name, id_type_column='id_type') %}
select *
from {{ model }}
where {{ id_type_column }} is not null
    and (
        {{ column_name }} is null
        or not {{ tiktok_sync.regex_full_match(column_name, '[0-9a-f]*') }}
        or length({{ column_name }}) <> case
            when {{ id_type_column }} like '%_MD5' then 32
            else 64
        end
    )
{% endtest %}
