{#- Written at the end of a subquery (after its FROM/WHERE) whose computed
    columns the next step refers to more than once: on engines whose planner
    flattens nested subqueries by copying each column's expression into every
    place it is used, this keeps the step a step, so each expression is
    computed once per row. Empty elsewhere (the SQL is unchanged there).

    Postgres pulls a subquery in FROM up into its parent, and folds a WITH
    query referenced once into it (docs, "WITH Queries" > "CTE
    Materialization"), unless it has grouping, aggregates, ORDER BY or
    LIMIT/OFFSET (is_simple_subquery in src/backend/optimizer/prep/
    prepjointree.c): OFFSET 0 keeps the step and returns the same rows.
    Without it the phone normaliser's nested steps became one projection with
    78,174 regexp_replace calls (EXPLAIN VERBOSE of normalise_phone: 26 MB,
    1.5 s to plan); with jit on, the JIT compiler then ran for more than ten
    minutes at 2.3 GB. With the fences: one regexp_replace per step.
    Not "as materialized" CTEs: Redshift, which inherits postgres__ macros,
    has no such syntax; it documents OFFSET in any SELECT (not verified
    there: no Redshift here). -#}
{% macro optimisation_fence() %}
  {{- return(adapter.dispatch('optimisation_fence', 'tiktok_sync')()) -}}
{% endmacro %}

{% macro default__optimisation_fence() -%}
{%- endmacro %}

{% macro postgres__optimisation_fence() -%}
  offset 0
{%- endmacro %}
