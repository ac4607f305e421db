{#- Email normalisation (docs/tiktok-api.md §0; TikTok Help "remove spaces and
    convert to lowercase" [H2, H3]). `cleaned` is the value with every ASCII
    whitespace character removed and lower-cased. Returns the string to hash.
    With var tiktok_sync_email_strip_plus_and_dots (opt-in; older TikTok Help
    text [H5], Segment [S5]) it also drops a "+tag" and every "." before "@".
    Only call on values that passed email_rejection_reason. -#}
{% macro normalize_email(cleaned) -%}
  {{ return(adapter.dispatch('normalize_email', 'tiktok_sync')(cleaned)) }}
{%- endmacro %}

{#- Engine differences live in the cross_engine primitives this calls; an engine
    that ever needs more gets its own `<adapter>__normalize_email`. -#}
{% macro default__normalize_email(cleaned) -%}
  {%- if var('tiktok_sync_email_strip_plus_and_dots', false) -%}
    {%- set without_tag = tiktok_sync.regex_replace_all(cleaned, '[+][^@]*@', '@') -%}
    {{ dbt.replace(dbt.split_part(without_tag, "'@'", 1), "'.'", "''") }} || '@' || {{ dbt.split_part(cleaned, "'@'", 2) }}
  {%- else -%}
    {{ cleaned }}
  {%- endif -%}
{%- endmacro %}
