{#- Materialization of every model under models/audiences/ (dbt_project.yml).
    The model's SQL is the audience, plain SQL with identifier columns named
    by convention; this builds the model's table of normalised, hashed
    identifiers (one row per input value, valid or rejected) and replaces the
    audience's slice of the shared member tables. Settings come from
    config(meta={'tiktok': {...}}) and are checked before anything runs. -#}
{% materialization tiktok_audience, default %}
  {%- set settings = tiktok_sync.audience_config(model) -%}
  {%- set target_relation = this.incorporate(type='table') -%}
  {%- set existing_relation = load_cached_relation(this) -%}

  {{ run_hooks(pre_hooks, inside_transaction=False) }}
  {{ run_hooks(pre_hooks, inside_transaction=True) }}

  {#- Which identifier columns does the model have? Matched by name. -#}
  {%- set model_columns = [] -%}
  {%- for column in get_columns_in_query(sql) -%}
    {%- do model_columns.append(column | lower) -%}
  {%- endfor -%}
  {%- set id_columns = tiktok_sync.present_identifier_columns(model_columns) -%}
  {%- if not id_columns -%}
    {{ exceptions.raise_compiler_error(
        "audience model '" ~ model.name ~ "' (" ~ model.original_file_path ~ ") has no identifier column. "
        ~ "Select at least one of " ~ tiktok_sync.identifier_columns().keys() | join(', ')
        ~ " (columns are matched by name; rename yours with `as email` etc.). It has: " ~ model_columns | join(', ')) }}
  {%- endif -%}
  {%- set country_column = 'country_code' if 'country_code' in model_columns else none -%}

  {%- set session_settings = tiktok_sync.audience_session_settings() -%}
  {%- if session_settings | trim -%}
    {%- call statement('audience_session_settings', auto_begin=True) -%}
      {{ session_settings }}
    {%- endcall -%}
  {%- endif -%}

  {#- the model's table (statement 'main'); how it replaces the old one is per engine -#}
  {%- set backup_relation = tiktok_sync.replace_audience_table(target_relation, existing_relation,
        tiktok_sync.audience_identifiers_sql(sql, settings, id_columns, country_column)) -%}

  {{ tiktok_sync.write_audience_slices(target_relation, settings, id_columns, sql) }}
  {{ tiktok_sync.upsert_audience_setting(settings) }}

  {{ run_hooks(post_hooks, inside_transaction=True) }}
  {{ adapter.commit() }}
  {%- if backup_relation is not none -%}
    {{ drop_relation_if_exists(backup_relation) }}
  {%- endif -%}
  {{ run_hooks(post_hooks, inside_transaction=False) }}

  {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}
