{#- Run by the package's on-run-start, on every dbt build and run: a model
    with TikTok settings (config meta.tiktok) that is not materialized as
    tiktok_audience would build as a plain view or table and never reach
    TikTok, silently. Fail the whole invocation instead, naming each such
    model and the one-line fix. Reads only the parsed graph (no query), so it
    costs nothing and sees the models of every package, selected or not. -#}
{% macro check_audience_materializations() %}
  {%- if not execute -%}{{ return('') }}{%- endif -%}
  {%- set problems = [] -%}
  {%- for node in graph.nodes.values() | sort(attribute='unique_id') -%}
    {%- if node.resource_type == 'model' and node.config.materialized != 'tiktok_audience' -%}
      {%- set meta = node.config.meta or {} -%}
      {%- if 'tiktok' in meta -%}
        {%- do problems.append("'" ~ node.name ~ "' (" ~ node.original_file_path ~ ", materialized '" ~ node.config.materialized ~ "')") -%}
      {%- endif -%}
    {%- endif -%}
  {%- endfor -%}
  {%- if problems -%}
    {{ exceptions.raise_compiler_error(
        "model " ~ problems | join(', ') ~ " has TikTok settings (meta.tiktok) but is not an audience, "
        ~ "so it would never be synced. Fix: add materialized='tiktok_audience' to its config(...), "
        ~ "or `+materialized: tiktok_audience` for its folder in dbt_project.yml "
        ~ "(README \"Installing it in your dbt project\").") }}
  {%- endif -%}
  {{ return('') }}
{% endmacro %}
