{#- Seed rows on Spark. dbt-spark's own spark__load_csv_rows hands the values
    to its `session` cursor as bindings, which it pastes into the SQL as
    '<str(value)>' without escaping (dbt/adapters/spark/session.py,
    _fix_binding): an empty CSV cell loads as the string 'None' (which would
    then be hashed as a value) and a value holding a quote breaks the
    statement (phone_corpus: `'; drop table phone_corpus; --` ->
    "[PARSE_SYNTAX_ERROR] Syntax error at or near ';'"). Here every value is
    written as an escaped Spark string literal (tiktok_sync.string_literal) and
    an empty cell as NULL, as every other adapter loads it. The rows go in as an
    inline table of strings, cast once per column: a cast per cell, as
    dbt-spark writes them, made Spark take ~30 s to plan 6,000 rows.

    dbt looks for spark__load_csv_rows in the root project before dbt-spark,
    but not in installed packages: a project that installs this one and loads
    seeds through dbt-spark's `session` method opts in with
      dispatch:
        - macro_namespace: dbt
          search_order: ['<your project>', 'tiktok_sync', 'dbt']
    (https://docs.getdbt.com/reference/project-configs/dispatch-config). -#}
{% macro spark__load_csv_rows(model, agate_table) %}
  {#- dbt-databricks inherits spark__ macros but binds seed values in its own
      loader: leave Databricks (and any other child adapter) to it -#}
  {%- set own_loader = dbt.get(adapter.type() ~ '__load_csv_rows') -%}
  {%- if adapter.type() != 'spark' and own_loader is not none -%}
    {{- return(own_loader(model, agate_table)) -}}
  {%- endif -%}
  {%- set column_override = model['config'].get('column_types', {}) -%}
  {%- set casts = [] -%}
  {%- for col_name in agate_table.column_names -%}
    {%- set type = column_override.get(col_name, adapter.convert_type(agate_table, loop.index0)) -%}
    {%- do casts.append('cast(c' ~ loop.index0 ~ ' as ' ~ type ~ ')') -%}
  {%- endfor -%}
  {%- set statements = [] -%}
  {%- for chunk in agate_table.rows | batch(get_batch_size()) -%}
    {%- set sql -%}
      insert into {{ this.render() }}
      select {{ casts | join(', ') }}
      from values
      {%- for row in chunk %}
      ({%- for value in row -%}
        {{ 'null' if value is none else tiktok_sync.string_literal(value | string) }}
        {%- if not loop.last %}, {% endif -%}
      {%- endfor -%})
      {%- if not loop.last %},{% endif -%}
      {%- endfor %}
      as seed_rows(
      {%- for col_name in agate_table.column_names -%}
        c{{ loop.index0 }}{{ ', ' if not loop.last }}
      {%- endfor -%})
    {%- endset -%}
    {%- do adapter.add_query(sql, abridge_sql_log=True) -%}
    {%- if loop.first -%}{%- do statements.append(sql) -%}{%- endif -%}
  {%- endfor -%}
  {{ return(statements[0] if statements else "") }}
{% endmacro %}
