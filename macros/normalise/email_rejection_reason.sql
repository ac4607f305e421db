{#- Why `cleaned` (whitespace removed, lower-cased) is not an email TikTok
    can match (see email_pattern), or null when it is. Non-ASCII is rejected
    rather than hashed, because engines lower-case it differently. -#}
{% macro email_rejection_reason(cleaned, raw_without_whitespace) -%}
  {{ return(adapter.dispatch('email_rejection_reason', 'tiktok_sync')(cleaned, raw_without_whitespace)) }}
{%- endmacro %}

{#- Engine differences live in the cross_engine primitives this calls; an engine
    that ever needs more gets its own `<adapter>__email_rejection_reason`. -#}
{% macro default__email_rejection_reason(cleaned, raw_without_whitespace) -%}
  case
    {#- checked before lower-casing: some non-ASCII letters lower-case to
        ASCII ones (the Kelvin sign becomes k), a homoglyph we must not hash #}
    when not {{ tiktok_sync.regex_full_match(raw_without_whitespace, '[!-~]*') }} then 'email_non_ascii'
    when {{ tiktok_sync.is_hex_hash(cleaned, 32) }} then 'email_md5_not_supported'
    when length({{ cleaned }}) > 254 then 'email_too_long'
    when not {{ tiktok_sync.regex_full_match(cleaned, tiktok_sync.email_pattern()) }} then 'email_invalid_format'
  end
{%- endmacro %}
