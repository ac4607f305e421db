{#- Replace this audience's slice of the shared tables with what its model
    just built: distinct valid identifiers into tiktok_audience_members,
    rejected values (masked) into tiktok_rejected_identifiers, and per-column
    counts into tiktok_identifier_counts. Slices of other audiences are left
    alone, so `dbt build --select one_audience` refreshes just that one, and
    a deleted model's slice stays until the sync job reports it orphaned. -#}
{% macro write_audience_slices(identifiers_relation, settings, id_columns, audience_sql) %}
  {%- set key_literal = tiktok_sync.string_literal(settings.audience_key) -%}
  {%- set now = dbt.current_timestamp() -%}
  {%- set shared = {} -%}
  {%- for name in ['tiktok_audience_members', 'tiktok_rejected_identifiers', 'tiktok_identifier_counts'] -%}
    {%- do shared.update({name: api.Relation.create(database=target.get('database'), schema=target.schema, identifier=name, type='table')}) -%}
  {%- endfor -%}

  {%- set members_sql -%}
    select distinct audience_key, id_type, id_hash, {{ now }} as built_at
    from {{ identifiers_relation }}
    where reason_code is null
  {%- endset -%}
  {{ tiktok_sync.replace_audience_slice('tiktok_members', shared.tiktok_audience_members, key_literal,
       ['audience_key', 'id_type', 'id_hash', 'built_at'], members_sql) }}

  {%- set rejected_sql -%}
    select audience_key, source_column, reason_code, reason, masked_value, value_length, value_fingerprint, {{ now }} as built_at
    from {{ identifiers_relation }}
    where reason_code is not null
  {%- endset -%}
  {{ tiktok_sync.replace_audience_slice('tiktok_rejected', shared.tiktok_rejected_identifiers, key_literal,
       ['audience_key', 'source_column', 'reason_code', 'reason', 'masked_value', 'value_length', 'value_fingerprint', 'built_at'],
       rejected_sql) }}

  {%- set counts_sql -%}
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
        {{ key_literal }} as audience_key,
        id_columns.source_column,
        total.row_count,
        total.row_count - coalesce(per_column.value_count, 0) as empty_count,
        coalesce(per_column.valid_count, 0) as valid_count,
        coalesce(per_column.rejected_count, 0) as rejected_count,
        {{ now }} as built_at
    from id_columns
    cross join total
    left join per_column
        on id_columns.source_column = per_column.source_column
  {%- endset -%}
  {{ tiktok_sync.replace_audience_slice('tiktok_counts', shared.tiktok_identifier_counts, key_literal,
       ['audience_key', 'source_column', 'row_count', 'empty_count', 'valid_count', 'rejected_count', 'built_at'],
       counts_sql) }}
{% endmacro %}
