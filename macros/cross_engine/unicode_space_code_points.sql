{#- The Unicode spaces normalisation deletes like ASCII whitespace: every space
    separator (general category Zs: U+00A0 no-break space, U+1680, U+2000 to
    U+200A, U+202F, U+205F, U+3000 ideographic space), the zero-width space
    U+200B and U+FEFF (zero-width no-break space, the byte-order mark a CSV
    export leaves at the start of a file). Copy-paste and exports leave them
    around values, and TikTok's rule for emails is "remove spaces" (when
    they were not deleted, a leading no-break space turned a valid id into maid_invalid_format and a
    valid email into email_non_ascii). Line and paragraph separators (U+0085,
    U+2028, U+2029) are not spaces: they stay and fail the ASCII-only rules. -#}
{% macro unicode_space_code_points() -%}
  {{- return([160, 5760] + range(8192, 8204) | list + [8239, 8287, 12288, 65279]) -}}
{%- endmacro %}
