{#- The SELECT that turns one audience model's SQL into its identifier rows:
    one row per non-empty identifier value, valid (id_hash set) or rejected
    (reason set, raw value only masked). This is what the audience model's
    own table holds; the shared member and rejection tables are filled from
    it. `id_columns` are the identifier columns the model has. -#}
{% macro audience_identifiers_sql(audience_sql, settings, id_columns, country_column=none) %}
  {%- set key_literal = tiktok_sync.string_literal(settings.audience_key) -%}
with

{{ tiktok_sync.identifier_rows_ctes(audience_sql, id_columns, country_column) }},

final as (
    select
        {{ key_literal }} as audience_key,
        source_column,
        case when reason_code is null then id_type end as id_type,
        id_hash,
        reason_code,
        {{ tiktok_sync.rejection_reason_text('reason_code') | indent(8) }} as reason,
        -- rejected values are kept only masked (first and last character),
        -- with a fingerprint to find the row upstream: never the raw value
        case
            when reason_code is not null
                then substr(raw_value, 1, 1) || '***' || substr(raw_value, length(raw_value), 1)
        end as masked_value,
        case when reason_code is not null then length(raw_value) end as value_length,
        case when reason_code is not null then {{ tiktok_sync.sha256_hex('raw_value') }} end as value_fingerprint
    from identifiers
)

select * from final
{% endmacro %}
