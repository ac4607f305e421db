{#- Mobile advertising ids (IDFA / GAID): TikTok hashes the lower-case,
    hyphenated UUID (docs/tiktok-api.md §6.3 [H2]). The all-zero id is what iOS and Android report when
    the user limited ad tracking: it identifies nobody, so it is rejected.
    `cleaned` is whitespace-free and lower-cased, and a UUID written without
    hyphens is already hyphenated (identifier_ctes), so this one comparison
    catches the zero id in every spelling. -#}

{% macro maid_rejection_reason(cleaned) -%}
  {{ return(adapter.dispatch('maid_rejection_reason', 'tiktok_sync')(cleaned)) }}
{%- endmacro %}

{#- Engine differences live in the cross_engine primitives this calls; an engine
    that ever needs more gets its own `<adapter>__maid_rejection_reason`. -#}
{% macro default__maid_rejection_reason(cleaned) -%}
  case
    when {{ cleaned }} = '00000000-0000-0000-0000-000000000000' then 'maid_zeroed'
    when not {{ tiktok_sync.regex_full_match(cleaned, tiktok_sync.maid_pattern()) }} then 'maid_invalid_format'
  end
{%- endmacro %}
