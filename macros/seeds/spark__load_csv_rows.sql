{#- Seed rows on Spark. dbt-spark's own spark__load_csv_rows hands the values
    to its `session` cursor as bindings, which it pastes into the SQL as
    '<str(value)>' without escaping (dbt/adapters/spark/session.py,
    _fix_binding): an empty CSV cell loads as the string 'None' (which would
    then be hashed as a value) and a value holding a quote breaks the
    statement (phone_corpus: `'; drop table phone_corpus; --` ->
    "[PARSE_SYNTAX_ERROR] Syntax error at or near ';'"). Here every value is
    written as an escaped Spark literal (tiktok_sync.string_literal) and an
    empty cell as NULL, as every other adapter loads it.

    dbt looks for spark__load_csv_rows in the root project before dbt-spark,
    but not in installed packages: a project that installs this one and loads
    seeds through dbt-spark's `session` method opts in with
      dispatch:
        - macro_namespace: dbt
          search_order: ['<your project>', 'tiktok_sync', 'dbt']
    (https://docs.getdbt.com/reference/project-configs/dispatch-config). -#}
{% macro spark__load_csv_rows(model, agate_table) %}
  {%- set column_override = model['config'].get('column_types', {}) -%}
  {%- set types = [] -%}
  {%- for col_name in agate_table.column_names -%}
    {%- do types.append(column_override.get(col_name, adapter.convert_type(agate_table, loop.index0))) -%}
  {%- endfor -%}
  {%- set statements = [] -%}
  {%- for chunk in agate_table.rows | batch(get_batch_size()) -%}
    {%- set sql -%}
      insert into {{ this.render() }} values
      {%- for row in chunk %}
      ({%- for value in row -%}
        {%- if value is none -%}
          cast(null as {{ types[loop.index0] }})
        {%- else -%}
          cast({{ tiktok_sync.string_literal(value | string) }} as {{ types[loop.index0] }})
        {%- endif -%}
        {%- if not loop.last %}, {% endif -%}
      {%- endfor -%})
      {%- if not loop.last %},{% endif -%}
      {%- endfor %}
    {%- endset -%}
    {%- do adapter.add_query(sql, abridge_sql_log=True) -%}
    {%- if loop.first -%}{%- do statements.append(sql) -%}{%- endif -%}
  {%- endfor -%}
  {{ return(statements[0] if statements else "") }}
{% endmacro %}
