{#- Delete every whitespace character of whitespace_characters() anywhere in
    the value: ASCII whitespace and the Unicode spaces.
    TRIM strips spaces only on most engines and leaves tabs, which changes the
    hash. Other non-ASCII characters (line separators, homoglyphs) are left in
    place on purpose: they then fail the ASCII-only validation and are
    rejected with a reason, instead of being removed on one engine and kept on
    another. With `replacement` (a literal string, no regex specials), each
    whitespace character becomes that instead: the phone normaliser reads
    extensions on the value with every whitespace character a space. -#}
{% macro remove_whitespace(expr, replacement='') -%}
  {{ return(adapter.dispatch('remove_whitespace', 'tiktok_sync')(expr, replacement)) }}
{%- endmacro %}

{% macro default__remove_whitespace(expr, replacement='') -%}
  {{ tiktok_sync.regex_replace_all(expr, '[' ~ tiktok_sync.whitespace_characters() ~ ']', replacement) }}
{%- endmacro %}

{#- Java's `\v` is the class of vertical whitespace, which inside a character
    class also matches U+0085, U+2028 and U+2029: those must stay (and be
    rejected), so Spark spells the vertical tab `\x0B`. -#}
{% macro spark__remove_whitespace(expr, replacement='') -%}
  {{ tiktok_sync.regex_replace_all(expr, '[' ~ tiktok_sync.whitespace_characters() | replace('\\v', '\\x0B') ~ ']', replacement) }}
{%- endmacro %}
