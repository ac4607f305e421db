{#- A value in a pre-hashed column (email_sha256, idfa_md5, ...) must be
    exactly `hex_length` hex characters (case is folded: `cleaned` is
    lower-cased), and not the hash of an empty string; in an advertising-id
    column (`is_maid`) not the hash of the all-zero id either. -#}
{% macro hash_rejection_reason(cleaned, hex_length, is_maid=false) -%}
  {{ return(adapter.dispatch('hash_rejection_reason', 'tiktok_sync')(cleaned, hex_length, is_maid)) }}
{%- endmacro %}

{#- Engine differences live in the cross_engine primitives this calls; an engine
    that ever needs more gets its own `<adapter>__hash_rejection_reason`. -#}
{% macro default__hash_rejection_reason(cleaned, hex_length, is_maid=false) -%}
  case
    when not {{ tiktok_sync.regex_full_match(cleaned, '[0-9a-f]*') }} then 'hash_not_hex'
    when length({{ cleaned }}) <> {{ hex_length }} then 'hash_wrong_length'
    when {{ cleaned }} = '{{ tiktok_sync.empty_string_hashes()[hex_length] }}' then 'hash_of_empty_string'
    {%- if is_maid %}
    when {{ cleaned }} in ('{{ tiktok_sync.zeroed_maid_hashes()[hex_length] | join("', '") }}') then 'maid_zeroed'
    {%- endif %}
  end
{%- endmacro %}
