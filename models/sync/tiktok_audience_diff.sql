{#- What must change in TikTok: desired members against what TikTok has
    acknowledged for the audience's current TikTok id. A view, so it always
    reflects the state at read time: once the sync job records a batch, the
    batch is gone from here. add_only audiences never remove, except what is
    suppressed (tiktok_suppressed_identifiers: an opt-out or a deletion
    request outranks add_only); audiences whose model was deleted are not here
    at all (see tiktok_orphaned_audiences).

    Changes sent without an answer (tiktok_sync_unconfirmed_changes) may or
    may not have been applied, so they count both ways: an unconfirmed add is
    removed if the member has left the audience meanwhile (add_only: sent
    again, since it never removes), and a member with an unconfirmed remove is
    added again if it is still wanted. Without that,
    a change TikTok applied but never acknowledged (a timeout, a dropped
    connection, a crash) would stay in TikTok for good. -#}
{{ config(materialized='view') }}

with

targets as (
    select * from {{ ref('tiktok_audience_targets') }}
),

members as (
    select * from {{ ref('tiktok_audience_desired_members') }}
),

suppressed as (
    select * from {{ ref('tiktok_suppressed_identifiers') }}
),

acknowledged as (
    select * from {{ ref('tiktok_sync_acknowledged_members') }}
),

unconfirmed as (
    select * from {{ ref('tiktok_sync_unconfirmed_changes') }}
),

desired as (
    select
        targets.audience_key,
        members.id_type,
        members.id_hash
    from members
    inner join targets
        on members.audience_key = targets.audience_key
),

acknowledged_for_current_audience as (
    select
        acknowledged.audience_key,
        acknowledged.id_type,
        acknowledged.id_hash
    from acknowledged
    inner join targets
        on acknowledged.audience_key = targets.audience_key
        and acknowledged.audience_id = targets.audience_id
),

unconfirmed_for_current_audience as (
    select distinct
        unconfirmed.audience_key,
        unconfirmed.id_type,
        unconfirmed.id_hash,
        unconfirmed.action
    from unconfirmed
    inner join targets
        on unconfirmed.audience_key = targets.audience_key
        and unconfirmed.audience_id = targets.audience_id
),

maybe_removed as (
    select audience_key, id_type, id_hash
    from unconfirmed_for_current_audience
    where action = 'remove'
),

maybe_added as (
    select audience_key, id_type, id_hash
    from unconfirmed_for_current_audience
    where action = 'add'
),

-- desired and not surely in TikTok: never acknowledged, or a remove of it is unconfirmed
adds as (
    select
        desired.audience_key,
        desired.id_type,
        desired.id_hash,
        'add' as action
    from desired
    left join acknowledged_for_current_audience as acknowledged
        on desired.audience_key = acknowledged.audience_key
        and desired.id_type = acknowledged.id_type
        and desired.id_hash = acknowledged.id_hash
    left join maybe_removed
        on desired.audience_key = maybe_removed.audience_key
        and desired.id_type = maybe_removed.id_type
        and desired.id_hash = maybe_removed.id_hash
    where acknowledged.id_hash is null
        or maybe_removed.id_hash is not null

    union all

    -- add_only never removes: an unconfirmed add of a member that has left is finished
    -- instead, so the state ends up saying what TikTok holds
    select
        maybe_added.audience_key,
        maybe_added.id_type,
        maybe_added.id_hash,
        'add' as action
    from maybe_added
    inner join targets
        on maybe_added.audience_key = targets.audience_key
    left join desired
        on maybe_added.audience_key = desired.audience_key
        and maybe_added.id_type = desired.id_type
        and maybe_added.id_hash = desired.id_hash
    left join acknowledged_for_current_audience as acknowledged
        on maybe_added.audience_key = acknowledged.audience_key
        and maybe_added.id_type = acknowledged.id_type
        and maybe_added.id_hash = acknowledged.id_hash
    left join suppressed
        on maybe_added.id_type = suppressed.id_type
        and maybe_added.id_hash = suppressed.id_hash
    where desired.id_hash is null
        and acknowledged.id_hash is null
        and targets.mode = 'add_only'
        and suppressed.id_hash is null
),

-- possibly in TikTok and no longer desired: acknowledged, or an add of it is unconfirmed;
-- removed from mirror audiences, and from every audience when it is suppressed
removes as (
    select
        acknowledged.audience_key,
        acknowledged.id_type,
        acknowledged.id_hash,
        'remove' as action
    from acknowledged_for_current_audience as acknowledged
    inner join targets
        on acknowledged.audience_key = targets.audience_key
    left join desired
        on acknowledged.audience_key = desired.audience_key
        and acknowledged.id_type = desired.id_type
        and acknowledged.id_hash = desired.id_hash
    left join suppressed
        on acknowledged.id_type = suppressed.id_type
        and acknowledged.id_hash = suppressed.id_hash
    where desired.id_hash is null
        and (targets.mode = 'mirror' or suppressed.id_hash is not null)

    union all

    select
        maybe_added.audience_key,
        maybe_added.id_type,
        maybe_added.id_hash,
        'remove' as action
    from maybe_added
    inner join targets
        on maybe_added.audience_key = targets.audience_key
    left join desired
        on maybe_added.audience_key = desired.audience_key
        and maybe_added.id_type = desired.id_type
        and maybe_added.id_hash = desired.id_hash
    left join acknowledged_for_current_audience as acknowledged
        on maybe_added.audience_key = acknowledged.audience_key
        and maybe_added.id_type = acknowledged.id_type
        and maybe_added.id_hash = acknowledged.id_hash
    left join suppressed
        on maybe_added.id_type = suppressed.id_type
        and maybe_added.id_hash = suppressed.id_hash
    where desired.id_hash is null
        and acknowledged.id_hash is null
        and (targets.mode = 'mirror' or suppressed.id_hash is not null)
),

changes as (
    select * from adds
    union all
    select * from removes
),

final as (
    select
        changes.audience_key,
        targets.audience_id,
        targets.advertiser_id,
        targets.api,
        changes.id_type,
        changes.id_hash,
        changes.action
    from changes
    inner join targets
        on changes.audience_key = targets.audience_key
)

select * from final
