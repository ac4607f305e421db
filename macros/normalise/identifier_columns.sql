{#- The identifier columns an audience model may have, by name (the naming
    convention is the whole configuration). kind says how a value is read:
    raw values are normalised then hashed, or passed through when they are
    already a hash of the right shape (docs/tiktok-api.md §0, "Already-hashed input");
    hashed columns must hold a hash of exactly that shape. A raw advertising-id
    column yields SHA-256 only: MD5 types come from the *_md5 columns alone, so
    no raw id can leave as an "MD5". is_maid: the all-zero id's
    hashes are rejected there (maid_zeroed). -#}
{% macro identifier_columns() %}
  {{ return({
    'email':        {'kind': 'email',  'id_type': 'EMAIL_SHA256'},
    'phone':        {'kind': 'phone',  'id_type': 'PHONE_SHA256'},
    'idfa':         {'kind': 'maid',   'id_type': 'IDFA_SHA256'},
    'gaid':         {'kind': 'maid',   'id_type': 'GAID_SHA256'},
    'email_sha256': {'kind': 'hashed', 'id_type': 'EMAIL_SHA256', 'hex_length': 64},
    'phone_sha256': {'kind': 'hashed', 'id_type': 'PHONE_SHA256', 'hex_length': 64},
    'idfa_sha256':  {'kind': 'hashed', 'id_type': 'IDFA_SHA256',  'hex_length': 64, 'is_maid': true},
    'gaid_sha256':  {'kind': 'hashed', 'id_type': 'GAID_SHA256',  'hex_length': 64, 'is_maid': true},
    'idfa_md5':     {'kind': 'hashed', 'id_type': 'IDFA_MD5',     'hex_length': 32, 'is_maid': true},
    'gaid_md5':     {'kind': 'hashed', 'id_type': 'GAID_MD5',     'hex_length': 32, 'is_maid': true},
  }) }}
{% endmacro %}
