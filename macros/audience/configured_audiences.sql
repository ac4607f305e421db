{#- The audience models of this project, from dbt's graph: one dict of
    settings per model materialized as tiktok_audience, sorted by key. Only
    complete at execution time (the graph is partial while dbt parses). -#}
{% macro configured_audiences() %}
  {%- set audiences = [] -%}
  {%- if execute -%}
    {%- for node in graph.nodes.values() | sort(attribute='name') -%}
      {%- if node.resource_type == 'model' and node.config.materialized == 'tiktok_audience' -%}
        {%- do audiences.append(tiktok_sync.audience_config(node)) -%}
      {%- endif -%}
    {%- endfor -%}
  {%- endif -%}
  {{ return(audiences) }}
{% endmacro %}
