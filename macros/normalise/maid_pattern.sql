{#- A mobile advertising id as TikTok hashes it: the lower-case hyphenated
    UUID, 8-4-4-4-12 hex digits (docs/tiktok-api.md §6.3 [H2]). -#}
{% macro maid_pattern() -%}
[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}
{%- endmacro %}
