{#- The characters normalisation deletes anywhere in a value, as the inside of
    a regex bracket expression: the six ASCII whitespace characters (tab, line
    feed, vertical tab, form feed, carriage return, space) and the Unicode
    spaces of unicode_space_code_points().

    The Unicode spaces are written as code points, `\x{hhhh}` (RE2's and
    Java's spelling), never as literal characters that an engine or a client
    could re-encode; regex_literal spells them as each engine's regex reads a
    code point. Listed one by one, no ranges, so no
    engine has to read a range between two escapes. -#}
{% macro whitespace_characters() -%}
  {%- set escapes = [] -%}
  {%- for code_point in tiktok_sync.unicode_space_code_points() -%}
    {%- do escapes.append('\\x{%04x}' | format(code_point)) -%}
  {%- endfor -%}
  {{- return('\\t\\n\\v\\f\\r ' ~ escapes | join('')) -}}
{%- endmacro %}
