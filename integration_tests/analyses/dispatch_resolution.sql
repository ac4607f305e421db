{#- Which implementation adapter.dispatch picks, on the target's adapter, for
    every macro of the package that dispatches (every X that has a default__X):
    one row per macro, `dispatched_macro` and `implementation`
    (e.g. sha256_hex, redshift__sha256_hex). Child adapters inherit their
    parent's implementations (dbt-redshift declares postgres, dbt-databricks
    spark), so this is where "Redshift runs the Postgres SQL" can be seen.

    tests/test_dispatch_resolution.py compiles it for Redshift and Databricks
    without a warehouse and compares it with what the package means each engine
    to get. To see it for your own target: dbt compile --select dispatch_resolution
    (compiling only: nothing runs). -#}
{%- set dispatched = [] -%}
{%- for name in tiktok_sync.keys() | sort -%}
  {%- if name.startswith('default__') -%}
    {%- do dispatched.append(name[9:]) -%}
  {%- endif -%}
{%- endfor -%}
{%- for name in dispatched %}
select '{{ name }}' as dispatched_macro, '{{ adapter.dispatch(name, 'tiktok_sync').macro.name }}' as implementation
{%- if not loop.last %}
union all
{%- endif %}
{%- endfor %}
