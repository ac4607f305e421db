{#- Replace the rows of one audience in a shared table (`relation`, which has
    an audience_key column) with the rows of `select_sql`, whose columns are
    `columns`, named and in that order. `audience_key` is a SQL literal.
    `name` names the statements in dbt's log.

    default: a delete and an insert, inside the transaction dbt holds for the
    materialization, so no reader sees the slice half replaced. -#}
{% macro replace_audience_slice(name, relation, audience_key, columns, select_sql) %}
  {{- return(adapter.dispatch('replace_audience_slice', 'tiktok_sync')(name, relation, audience_key, columns, select_sql)) -}}
{% endmacro %}

{% macro default__replace_audience_slice(name, relation, audience_key, columns, select_sql) %}
  {%- call statement(name ~ '_delete') -%}
    delete from {{ relation }} where audience_key = {{ audience_key }}
  {%- endcall -%}
  {%- call statement(name ~ '_insert') -%}
    insert into {{ relation }} ({{ columns | join(', ') }})
    {{ select_sql }}
  {%- endcall -%}
{% endmacro %}

{#- BigQuery runs each statement on its own (dbt-bigquery opens no
    transaction), so between a DELETE and an INSERT a reader, such as the
    sync job reading tiktok_audience_diff, would see the audience empty and
    remove every member from TikTok. One MERGE that deletes the old slice and
    inserts the new one is atomic, and one DML job instead of two
    (https://cloud.google.com/bigquery/docs/reference/standard-sql/dml-syntax#merge_statement:
    `ON FALSE` with `WHEN NOT MATCHED BY SOURCE ... THEN DELETE` replaces rows). -#}
{% macro bigquery__replace_audience_slice(name, relation, audience_key, columns, select_sql) %}
  {%- call statement(name ~ '_merge') -%}
    merge into {{ relation }} as target
    using (
        {{ select_sql }}
    ) as slice
    on false
    when not matched by source and target.audience_key = {{ audience_key }} then delete
    when not matched then insert ({{ columns | join(', ') }})
        values ({% for column in columns %}slice.{{ column }}{{ ', ' if not loop.last }}{% endfor %})
  {%- endcall -%}
{% endmacro %}

{#- Databricks has no transaction around the two statements of default__
    either (dbt-databricks, like dbt-spark, opens none: its begin and commit
    do nothing), so a reader would see the audience empty between the DELETE
    and the INSERT, as on BigQuery. The same single MERGE, which Delta tables
    (Databricks' default table format) run as one atomic commit; NOT MATCHED BY
    SOURCE deletes the old slice
    (https://docs.databricks.com/sql/language-manual/delta-merge-into.html).
    Databricks only, not spark__: plain Spark tables have no MERGE. -#}
{% macro databricks__replace_audience_slice(name, relation, audience_key, columns, select_sql) %}
  {%- call statement(name ~ '_merge') -%}
    merge into {{ relation }} as target
    using (
        {{ select_sql }}
    ) as slice
    on false
    when not matched by source and target.audience_key = {{ audience_key }} then delete
    when not matched then insert ({{ columns | join(', ') }})
        values ({% for column in columns %}slice.{{ column }}{{ ', ' if not loop.last }}{% endfor %})
  {%- endcall -%}
{% endmacro %}

{#- Plain Spark tables (parquet, Hive) have no DELETE: "[UNSUPPORTED_FEATURE.
    TABLE_OPERATION] ... Table `spark_catalog`.`tiktok_sync`.`...` does not
    support DELETE" (Delta has it, but Delta's jars are not part of Spark
    and cannot be downloaded where this is tested). On Spark the shared
    tables are partitioned by audience_key (spark__sync_table_options), and
    an INSERT OVERWRITE with a static partition value replaces that partition
    only, whatever spark.sql.sources.partitionOverwriteMode says
    (https://spark.apache.org/docs/latest/sql-ref-syntax-dml-insert-table.html),
    in one statement: no reader sees the audience empty. Databricks has its
    own MERGE above. -#}
{% macro spark__replace_audience_slice(name, relation, audience_key, columns, select_sql) %}
  {%- set others = columns | reject('equalto', 'audience_key') | list -%}
  {%- call statement(name ~ '_overwrite') -%}
    insert overwrite table {{ relation }}
    partition (audience_key = {{ audience_key }}) ({{ others | join(', ') }})
    select {{ others | join(', ') }}
    from (
    {{ select_sql }}
    ) as slice
  {%- endcall -%}
{% endmacro %}
