{#- Replace this audience's slice of the shared tables with what its model
    just built: distinct valid identifiers into tiktok_audience_members,
    rejected values (masked) into tiktok_rejected_identifiers, and per-column
    counts into tiktok_identifier_counts. Slices of other audiences are left
    alone, so `dbt build --select one_audience` refreshes just that one, and
    a deleted model's slice stays until the sync job reports it orphaned. -#}
{% macro write_audience_slices(identifiers_relation, settings, id_columns, audience_sql) %}
  {%- set key_literal = "'" ~ (settings.audience_key | replace("'", "''")) ~ "'" -%}
  {%- set now = dbt.current_timestamp() -%}
  {%- set shared = {} -%}
  {%- for name in ['tiktok_audience_members', 'tiktok_rejected_identifiers', 'tiktok_identifier_counts'] -%}
    {%- do shared.update({name: api.Relation.create(database=target.database, schema=target.schema, identifier=name, type='table')}) -%}
  {%- endfor -%}

  {%- call statement('tiktok_members_slice') -%}
    delete from {{ shared.tiktok_audience_members }} where audience_key = {{ key_literal }}
  {%- endcall -%}
  {%- call statement('tiktok_members_insert') -%}
    insert into {{ shared.tiktok_audience_members }} (audience_key, id_type, id_hash, built_at)
    select distinct audience_key, id_type, id_hash, {{ now }}
    from {{ identifiers_relation }}
    where reason_code is null
  {%- endcall -%}

  {%- call statement('tiktok_rejected_slice') -%}
    delete from {{ shared.tiktok_rejected_identifiers }} where audience_key = {{ key_literal }}
  {%- endcall -%}
  {%- call statement('tiktok_rejected_insert') -%}
    insert into {{ shared.tiktok_rejected_identifiers }}
        (audience_key, source_column, reason_code, reason, masked_value, value_length, value_fingerprint, built_at)
    select audience_key, source_column, reason_code, reason, masked_value, value_length, value_fingerprint, {{ now }}
    from {{ identifiers_relation }}
    where reason_code is not null
  {%- endcall -%}

  {%- call statement('tiktok_counts_slice') -%}
    delete from {{ shared.tiktok_identifier_counts }} where audience_key = {{ key_literal }}
  {%- endcall -%}
  {%- call statement('tiktok_counts_insert') -%}
    insert into {{ shared.tiktok_identifier_counts }}
        (audience_key, source_column, row_count, empty_count, valid_count, rejected_count, built_at)
    with total as (
        select count(*) as row_count from ({{ audience_sql }}) audience
    ),
    per_column as (
        select
            source_column,
            count(*) as value_count,
            sum(case when reason_code is null then 1 else 0 end) as valid_count,
            sum(case when reason_code is not null then 1 else 0 end) as rejected_count
        from {{ identifiers_relation }}
        group by source_column
    ),
    id_columns as (
        {%- for column in id_columns %}
        select '{{ column }}' as source_column
        {%- if not loop.last %} union all{% endif %}
        {%- endfor %}
    )
    select
        {{ key_literal }},
        id_columns.source_column,
        total.row_count,
        total.row_count - coalesce(per_column.value_count, 0),
        coalesce(per_column.valid_count, 0),
        coalesce(per_column.rejected_count, 0),
        {{ now }}
    from id_columns
    cross join total
    left join per_column
        on id_columns.source_column = per_column.source_column
  {%- endcall -%}
{% endmacro %}
