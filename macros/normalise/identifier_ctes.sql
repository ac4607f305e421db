{#- The one entry point that turns an identifier column of `source_cte` into
    rows of (source_column, id_type, id_hash, reason_code, raw_value).
    Renders CTE definitions (no leading `with`, no trailing comma); the last
    one is named `<column>__identifiers`. One row per non-empty input value:
    nulls and values that are empty once whitespace is removed are not
    identifiers and produce no row (the caller counts them).
    - id_hash is the lowercase hex hash to send, null when rejected;
    - reason_code is null when valid, else a key of rejection_reasons();
    - raw_value is the input as given: PII, for masking only, never stored.
    `country_column` (phone only) names the per-row ISO-3166 country column;
    `calling_codes` is the country calling codes relation (phone only). -#}
{% macro identifier_ctes(source_cte, column, country_column=none, calling_codes=none) %}
  {%- set spec = tiktok_sync.identifier_columns()[column] -%}
  {%- set string_type = tiktok_sync.string_cast_type() -%}
  {%- set raw = 'cast(' ~ column ~ ' as ' ~ string_type ~ ')' -%}
{{ column }}__values as (
    select
        {{ raw }} as raw_value
        {%- if spec.kind == 'phone' %},
        {{ 'cast(' ~ country_column ~ ' as ' ~ string_type ~ ')' if country_column else 'cast(null as ' ~ string_type ~ ')' }} as country_code
        {%- endif %}
    from {{ source_cte }}
    where {{ column }} is not null
        and {{ tiktok_sync.has_non_whitespace(raw) }}
),

{#- compact_value (whitespace removed, case kept) serves both `cleaned` and the
    email's non-ASCII test, so whitespace is removed once (bench/README.md).
    optimisation_fence() here and after the steps below: the later steps use
    `cleaned` and the reason code many times, and Postgres would otherwise
    flatten the steps and compute them again for every use. Not for phones:
    only the few values of 64 characters or more read `cleaned` (__shaped),
    and unfenced Postgres computes it for those alone. -#}
{{ column }}__non_empty as (
    select
        raw_value,
        {%- if spec.kind == 'phone' %}
        country_code,
        {%- endif %}
        {{ tiktok_sync.remove_whitespace('raw_value') }} as compact_value,
        lower({{ tiktok_sync.remove_whitespace('raw_value') }}) as cleaned
    from {{ column }}__values
    {%- if spec.kind != 'phone' %}
    {{ tiktok_sync.optimisation_fence() }}
    {%- endif %}
),
{%- if spec.kind == 'hashed' %}

{{ column }}__identifiers as (
    select
        '{{ column }}' as source_column,
        '{{ spec.id_type }}' as id_type,
        reason_code,
        case when reason_code is null then cleaned end as id_hash,
        raw_value
    from (
        select
            raw_value,
            cleaned,
            {{ tiktok_sync.hash_rejection_reason('cleaned', spec.hex_length, spec.get('is_maid', false)) }} as reason_code
        from {{ column }}__non_empty
        {{ tiktok_sync.optimisation_fence() }}
    ) checked
)
{%- elif spec.kind == 'email' %}

{{ column }}__identifiers as (
    {{ tiktok_sync.email_identifiers_select(column, column ~ '__values', column ~ '__non_empty') }}
)
{%- elif spec.kind == 'maid' %}

{#- A raw advertising-id column holds raw ids: a UUID (any case), or the same
    32 hex digits without hyphens, which are hyphenated 8-4-4-4-12 into the
    canonical form and hashed like it. Neither is ever sent as it is: earlier
    versions sent a 32-hex value out as IDFA_MD5 / GAID_MD5, i.e. the raw
    device id itself. 64 hex digits cannot be a raw id (a UUID has 32), so
    they are taken as its SHA-256 and passed through. Every row yields a
    *_SHA256 type; MD5 types come only from the *_md5 columns. -#}
{{ column }}__identifiers as (
    select
        '{{ column }}' as source_column,
        '{{ spec.id_type }}' as id_type,
        reason_code,
        case
            when reason_code is not null then null
            when shape = 'sha256' then cleaned
            else {{ tiktok_sync.sha256_hex('canonical') }}
        end as id_hash,
        raw_value
    from (
        select
            raw_value,
            cleaned,
            canonical,
            shape,
            case
                when shape = 'sha256' then {{ tiktok_sync.hash_rejection_reason('cleaned', 64, true) }}
                -- 32 hex digits that are the MD5 of nothing or of the zero id: hashes, not an id
                when shape = 'uuid_hex' and cleaned = '{{ tiktok_sync.empty_string_hashes()[32] }}' then 'hash_of_empty_string'
                when shape = 'uuid_hex' and cleaned in ('{{ tiktok_sync.zeroed_maid_hashes()[32] | join("', '") }}') then 'maid_zeroed'
                else {{ tiktok_sync.maid_rejection_reason('canonical') }}
            end as reason_code
        from (
            select
                raw_value,
                cleaned,
                shape,
                case
                    when shape = 'uuid_hex' then
                        substr(cleaned, 1, 8) || '-' || substr(cleaned, 9, 4) || '-' || substr(cleaned, 13, 4)
                        || '-' || substr(cleaned, 17, 4) || '-' || substr(cleaned, 21, 12)
                    else cleaned
                end as canonical
            from (
                {{ tiktok_sync.maid_shaped_select(column ~ '__values', column ~ '__non_empty') | indent(16) }}
                {{ tiktok_sync.optimisation_fence() }}
            ) shaped
        ) canonicalised
        {{ tiktok_sync.optimisation_fence() }}
    ) checked
)
{%- elif spec.kind == 'phone' %}

{{ column }}__shaped as (
    select
        raw_value,
        country_code,
        cleaned,
        {{ tiktok_sync.is_hex_hash('cleaned', 64) }} as is_sha256
    from {{ column }}__non_empty
),

{#- The raw value is its own input_id: phone_normalised_select passes input_id
    through and returns exactly one row per input row, so its rows need no
    numbering (a sort of every phone) and no join back. Engines that inline
    CTEs (DuckDB) would clean every phone once per branch: a value shorter than
    64 characters cannot be a SHA-256, so the length test spares both branches
    cleaning and matching almost every row (bench/README.md). The test below is
    `not is_sha256` of __shaped, written out on __values for that reason. -#}
{{ column }}__to_normalise as (
    select raw_value as input_id, raw_value, country_code
    from {{ column }}__values
    where length(raw_value) < 64
        or not {{ tiktok_sync.is_hex_hash('lower(' ~ tiktok_sync.remove_whitespace('raw_value') ~ ')', 64) }}
),

{{ column }}__e164 as (
    {{ tiktok_sync.phone_normalised_select(column ~ '__to_normalise', calling_codes) }}
),

{{ column }}__identifiers as (
    select
        '{{ column }}' as source_column,
        'PHONE_SHA256' as id_type,
        reason_code,
        case when reason_code is null then cleaned end as id_hash,
        raw_value
    from (
        select
            raw_value,
            cleaned,
            {{ tiktok_sync.hash_rejection_reason('cleaned', 64) }} as reason_code
        from {{ column }}__shaped
        where length(raw_value) >= 64 and is_sha256
    ) prehashed

    union all

    select
        '{{ column }}' as source_column,
        'PHONE_SHA256' as id_type,
        reason_code,
        case
            when reason_code is not null then null
            {%- if var('tiktok_sync_phone_hash_with_plus', false) %}
            else {{ tiktok_sync.sha256_hex("'+' || e164_digits") }}
            {%- else %}
            else {{ tiktok_sync.sha256_hex('e164_digits') }}
            {%- endif %}
        end as id_hash,
        raw_value
    from (
        select
            input_id as raw_value,
            e164_digits,
            -- a number the normaliser returned nothing for is never sent
            coalesce(reason_code, case when e164_digits is null then 'phone_not_normalised' end) as reason_code
        from {{ column }}__e164
    ) normalised
)
{%- endif %}
{% endmacro %}
