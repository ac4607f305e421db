{#- What a normalised email must look like: deliberately plain (no lookaround,
    character classes only) so every engine's regex flavour reads it the same
    way (RE2, Java, POSIX). Local part: starts with a letter or digit
    (docs/tiktok-api.md §6.1 [H1]),
    dot-separated atoms; domain: dot-separated labels and a letter TLD (or
    punycode). -#}
{% macro email_pattern() -%}
[a-z0-9][a-z0-9_%+'-]*([.][a-z0-9_%+'-]+)*@[a-z0-9]([a-z0-9-]*[a-z0-9])?([.][a-z0-9]([a-z0-9-]*[a-z0-9])?)*[.]([a-z]{2,63}|xn--[a-z0-9-]{1,59})
{%- endmacro %}
