{#- Delete every ASCII whitespace character (space, tab, newline, vertical
    tab, form feed, carriage return) anywhere in the value. engines.md §2.2 (1):
    TRIM strips spaces only on most engines and leaves tabs, which changes the
    hash. Other Unicode spaces are left in place on purpose: they then fail the
    ASCII-only validation and are rejected with a reason, instead of being
    removed on one engine and kept on another. -#}
{% macro remove_whitespace(expr) -%}
  {{ tiktok_sync.regex_replace_all(expr, '[\\t\\n\\v\\f\\r ]', '') }}
{%- endmacro %}
