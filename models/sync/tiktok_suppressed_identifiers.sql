{#- Identifiers that must never be in any TikTok audience (opt-outs, deletion
    requests): one row per distinct valid (id_type, id_hash) of the project's
    suppression list (tiktok_suppression_entries, normalised and hashed by the
    same macros as an audience, so a raw email and its SHA-256 are one row).
    Only hashes are kept; the list's raw values stay where the user keeps
    them. Values that cannot be normalised suppress nothing.

    A table when the var tiktok_sync_suppression names a list, so the diff
    does not normalise the list again each time it is read; without the var
    an empty view, which the diff and the desired members read all the same,
    at no cost. -#}
{{ config(materialized='table' if var('tiktok_sync_suppression', none) else 'view') }}

with

entries as (
    select * from {{ ref('tiktok_suppression_entries') }}
),

final as (
    select distinct id_type, id_hash
    from entries
    where reason_code is null
)

select * from final
