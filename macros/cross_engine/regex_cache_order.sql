{#- Written at the end of a subquery (after its FROM/WHERE, before
    optimisation_fence()) whose rows the next step matches against regular
    expressions chosen per row, as the phone number patterns are chosen by
    calling code: on engines that keep only a few compiled expressions, rows
    that use the same expressions then follow one another. Empty elsewhere
    (the SQL is unchanged there). Never changes which rows or values come out,
    only the order a step sees them in.

    Postgres keeps the 32 most recently used compiled expressions per backend
    (MAX_CACHED_RES in src/backend/utils/adt/regexp.c) and compiles any other
    anew. The phone patterns are hundreds of distinct constants, so rows in
    arbitrary order over many countries recompiled one for nearly every row:
    20,000 numbers of 80 regions took 8-17 s against 0.3-0.6 s for as many of
    one region; sorted before each step that chooses patterns per row, as fast
    as one region (bench/postgres_phones.py). The
    ORDER BY with the OFFSET 0 of optimisation_fence() keeps the subquery a
    step of its own (not pulled up), so its sorted rows reach the next step
    in that order. Other engines compile a constant expression once per
    query. Redshift: nothing (ORDER BY in a subquery orders nothing there). -#}
{% macro regex_cache_order(columns) %}
  {{- return(adapter.dispatch('regex_cache_order', 'tiktok_sync')(columns)) -}}
{% endmacro %}

{% macro default__regex_cache_order(columns) -%}
{%- endmacro %}

{% macro postgres__regex_cache_order(columns) -%}
  order by {{ columns | join(', ') }}
{%- endmacro %}

{% macro redshift__regex_cache_order(columns) -%}
{%- endmacro %}
