{#- The is-already-hashed test (docs/tiktok-api.md §0, "Already-hashed input"): the
    whole value is exactly `hex_length` hex characters (64 = SHA-256, 32 =
    MD5). Anchored on every engine (most engines match anywhere unless
    anchored); an unanchored test would take any string containing a hash
    for one. `cleaned` is
    whitespace-free and lower-cased. -#}
{% macro is_hex_hash(cleaned, hex_length) -%}
  {{ return(adapter.dispatch('is_hex_hash', 'tiktok_sync')(cleaned, hex_length)) }}
{%- endmacro %}

{% macro default__is_hex_hash(cleaned, hex_length) -%}
  {{ tiktok_sync.regex_full_match(cleaned, '[0-9a-f]{' ~ hex_length ~ '}') }}
{%- endmacro %}
