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
    Without it the phone normaliser's nested steps became one projection
    (EXPLAIN VERBOSE of normalise_phone: 26 MB naming regexp_replace 78,174
    times, 1.5 s to plan), and with jit on the JIT compiler then ran for more
    than ten minutes at 2.3 GB. With the fences: 67 kB, 5 ms to
    plan, 43 ms to run. The fences in identifier_ctes cut the backend CPU of
    306k emails from 11 s to 3.5 s.
    Not "as materialized" CTEs: Redshift, which inherits postgres__ macros,
    has no such syntax. Nor OFFSET 0 on Redshift: see redshift__. -#}
{% macro optimisation_fence() %}
  {{- return(adapter.dispatch('optimisation_fence', 'tiktok_sync')()) -}}
{% endmacro %}

{% macro default__optimisation_fence() -%}
{%- endmacro %}

{% macro postgres__optimisation_fence() -%}
  offset 0
{%- endmacro %}

{#- Redshift: nothing, as on the other engines. Its OFFSET "must be a positive
    integer" (https://docs.aws.amazon.com/redshift/latest/dg/r_ORDER_BY_clause.html),
    so OFFSET 0 may be refused outright, and OFFSET on a distributed engine is a
    global row count that may make the step run in one place; what the fence
    buys was measured on PostgreSQL's planner and JIT, which Redshift does not
    share. Whether Redshift's planner copies the steps' expressions the way
    PostgreSQL's does (the phone normaliser's cost) is for a live cluster to
    show (README "Other engines"). -#}
{% macro redshift__optimisation_fence() -%}
{%- endmacro %}
