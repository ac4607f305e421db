{#- Rendered as every audience model's pre-hook (dbt_project.yml) and
    renders nothing. Its only job is the ref() below: dbt records it as a
    dependency, so the calling codes seed is loaded before any audience
    model normalises phone numbers, also on a fresh warehouse. -#}
{% macro audience_dependencies() %}
  {%- set _ = ref('country_calling_codes') -%}
{% endmacro %}
