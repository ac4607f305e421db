{#- Why `cleaned` (whitespace removed, lower-cased) is not an email TikTok
    can match, or null when it is. The pattern is deliberately plain (no
    lookaround, character classes only) so every engine's regex flavour reads
    it the same way (engines.md §2.2 (4)). Local part: must start with a letter
    or digit [H1], dot-separated atoms; domain: dot-separated labels and a
    letter TLD (or punycode). Non-ASCII is rejected rather than hashed, because
    engines lower-case it differently (engines.md §2.2 (8)). -#}
{% macro email_pattern() -%}
[a-z0-9][a-z0-9_%+'-]*([.][a-z0-9_%+'-]+)*@[a-z0-9]([a-z0-9-]*[a-z0-9])?([.][a-z0-9]([a-z0-9-]*[a-z0-9])?)*[.]([a-z]{2,63}|xn--[a-z0-9-]{1,59})
{%- endmacro %}

{% macro email_rejection_reason(cleaned, raw_without_whitespace) -%}
  case
    {#- checked before lower-casing: some non-ASCII letters lower-case to
        ASCII ones (the Kelvin sign becomes k), a homoglyph we must not hash #}
    when not {{ tiktok_sync.regex_full_match(raw_without_whitespace, '[!-~]*') }} then 'email_non_ascii'
    when {{ tiktok_sync.regex_full_match(cleaned, '[0-9a-f]{32}') }} then 'email_md5_not_supported'
    when length({{ cleaned }}) > 254 then 'email_too_long'
    when not {{ tiktok_sync.regex_full_match(cleaned, tiktok_sync.email_pattern()) }} then 'email_invalid_format'
  end
{%- endmacro %}
