{#- What each audience should hold in TikTok: its members less the suppressed
    identifiers (tiktok_suppressed_identifiers). Everything the sync job sends
    as an add comes from here or from the diff over it, so a suppressed
    identifier is never sent, whichever path a run takes (an incremental add,
    a customer-file create or REPLACE, a full refresh). -#}
{{ config(materialized='view') }}

with

members as (
    select * from {{ source('tiktok_sync_outputs', 'tiktok_audience_members') }}
),

suppressed as (
    select * from {{ ref('tiktok_suppressed_identifiers') }}
),

final as (
    select
        members.audience_key,
        members.id_type,
        members.id_hash
    from members
    left join suppressed
        on members.id_type = suppressed.id_type
        and members.id_hash = suppressed.id_hash
    where suppressed.id_hash is null
)

select * from final
