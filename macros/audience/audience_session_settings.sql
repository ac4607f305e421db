{#- Settings for the rest of the audience materialization's transaction, run
    before the audience's SQL: its normalisers are large expressions whose time
    goes to regular expressions and string functions, which a JIT compiler
    cannot make faster. Empty where there is nothing to set.

    Postgres compiles a query with LLVM once its estimated cost passes
    jit_above_cost (on by default since Postgres 12), which for these
    expressions costs far more than it saves: the phone normaliser over
    100,000 numbers spent 11.4 s of 14.8 s compiling (EXPLAIN ANALYZE, "JIT:
    Timing"), and ran in about 5 s with jit off (bench/postgres_phones.py has
    both). SET LOCAL lasts until the materialization commits, so the user's
    other models keep the server's setting. Redshift has no jit setting. -#}
{% macro audience_session_settings() %}
  {{- return(adapter.dispatch('audience_session_settings', 'tiktok_sync')()) -}}
{% endmacro %}

{% macro default__audience_session_settings() -%}
{%- endmacro %}

{% macro postgres__audience_session_settings() -%}
  set local jit = off
{%- endmacro %}

{% macro redshift__audience_session_settings() -%}
{%- endmacro %}
