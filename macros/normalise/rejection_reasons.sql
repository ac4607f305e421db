{#- Every reason an input value can be rejected for: code -> one line that
    tells the user what is wrong and what to do. The codes are stable (the
    sync job counts them, users filter on them); the texts may improve. -#}
{% macro rejection_reasons() %}
  {%- set reasons = {
    'email_invalid_format': 'Not a valid email address (needs one @, a name starting with a letter or digit, and a domain with a dot). Fix the address upstream.',
    'email_non_ascii': 'Email contains non-ASCII characters (accents, emoji, full-width or non-breaking spaces); engines lower-case these differently, so it is not sent. Clean it upstream.',
    'email_too_long': 'Email is longer than 254 characters, the limit for an address. Check the column holds one address.',
    'email_md5_not_supported': 'Looks like an MD5 hash; TikTok accepts emails only as SHA-256. Send the address or its SHA-256.',
    'maid_invalid_format': 'Not a mobile advertising id: expected a UUID (8-4-4-4-12 hex, or the same 32 hex digits without hyphens) or its SHA-256 (64 hex). Put MD5 hashes in the idfa_md5 / gaid_md5 column.',
    'maid_zeroed': 'All-zero advertising id (00000000-0000-0000-0000-000000000000, in any spelling, or its SHA-256 or MD5): the device limited ad tracking, so it identifies nobody. Nothing to fix; leave it out upstream if you like.',
    'hash_not_hex': 'A pre-hashed column holds characters other than 0-9 and a-f. Check it is really a hash (and not the raw value).',
    'hash_wrong_length': 'A pre-hashed column holds a value of the wrong length: SHA-256 is 64 hex characters, MD5 is 32.',
    'phone_not_normalised': 'The phone number could not be normalised to E.164. Write it in international format, e.g. +44 20 7183 8750.',
    'hash_of_empty_string': 'This is the hash of an empty string: the value was missing before it was hashed upstream.',
  } -%}
  {%- do reasons.update(tiktok_sync.phone_rejection_reasons()) -%}
  {{ return(reasons) }}
{% endmacro %}
