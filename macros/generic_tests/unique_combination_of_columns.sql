{#- No two rows share the same values in `combination_of_columns` (the
    model's key). Same contract as dbt-utils' test of that name, written here
    because the project depends on no dbt package. -#}
{% test unique_combination_of_columns(model, combination_of_columns) %}
with

grouped as (
    select
        {{ combination_of_columns | join(', ') }},
        count(*) as row_count
    from {{ model }}
    group by {{ combination_of_columns | join(', ') }}
)

select * from grouped
where row_count > 1
{% endtest %}
