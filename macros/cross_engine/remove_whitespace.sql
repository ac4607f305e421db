{#- Delete every ASCII whitespace character (space, tab, newline, vertical
    tab, form feed, carriage return) anywhere in the value. engines.md §2.2 (1):
    TRIM strips spaces only on most engines and leaves tabs, which changes the
    hash. Other Unicode spaces are left in place on purpose: they then fail the
    ASCII-only validation and are rejected with a reason, instead of being
    removed on one engine and kept on another. -#}
{% macro remove_whitespace(expr) -%}
  {{ return(adapter.dispatch('remove_whitespace', 'tiktok_sync')(expr)) }}
{%- endmacro %}

{% macro default__remove_whitespace(expr) -%}
  {{ tiktok_sync.regex_replace_all(expr, '[\\t\\n\\v\\f\\r ]', '') }}
{%- endmacro %}

{#- Java's `\v` is the class of vertical whitespace, which inside a character
    class also matches U+0085, U+2028 and U+2029: those must stay (and be
    rejected), so Spark spells the vertical tab `\x0B`. -#}
{% macro spark__remove_whitespace(expr) -%}
  {{ tiktok_sync.regex_replace_all(expr, '[\\t\\n\\x0B\\f\\r ]', '') }}
{%- endmacro %}
