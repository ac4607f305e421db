{#- Deprecated, renders nothing. Audience models used it as their pre-hook
    (`+pre-hook: "{{ tiktok_sync.audience_dependencies() }}"`) so that dbt
    loaded the calling-code seed before them; the lookup is now a macro read
    inline (macros/normalise/country_calling_codes.sql), so there is nothing to
    declare. Kept so projects that still have the line parse and build as
    before; remove the line at leisure. -#}
{% macro audience_dependencies() %}
{% endmacro %}
