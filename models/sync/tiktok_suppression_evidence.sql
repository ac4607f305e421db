{#- Evidence of what happened to each suppression-list entry at TikTok: the
    entries (tiktok_suppression_entries: the list's own columns, the value's
    hash) joined by (id_type, id_hash) with the ledger. One row per entry and
    batch that carried its hash: acknowledged (when, and TikTok's request_id),
    or sent and still unanswered. An entry no batch carried, or one that could
    not be normalised, has one row without a batch: it never reached TikTok
    (as this project sent it).

    is_possibly_held: TikTok may still hold the identifier in that audience
    id - the ledger's own state (an acknowledged add not undone by a later
    acknowledged remove, REPLACE or deleted audience; or an add sent without
    an answer), as the diff reads it. Nothing raw is read or stored. -#}

with

entries as (
    select * from {{ ref('tiktok_suppression_entries') }}
),

changes as (
    select * from {{ source('tiktok_sync_state', 'tiktok_sync_changes') }}
),

batches as (
    select * from {{ source('tiktok_sync_state', 'tiktok_sync_batches') }}
),

acknowledged_members as (
    select * from {{ ref('tiktok_sync_acknowledged_members') }}
),

unconfirmed_changes as (
    select * from {{ ref('tiktok_sync_unconfirmed_changes') }}
),

acknowledged_batches as (
    select
        run_id,
        audience_key,
        batch_no,
        batch_seq,
        kind,
        audience_id,
        advertiser_id,
        request_id,
        event_at
    from batches
    where event = 'acknowledged'
),

sent_batches as (
    select
        run_id,
        audience_key,
        batch_no,
        event_at
    from batches
    where event = 'sent'
),

carried as (
    select
        changes.id_type,
        changes.id_hash,
        changes.audience_key,
        acknowledged_batches.audience_id,
        acknowledged_batches.advertiser_id,
        changes.action,
        'acknowledged' as outcome,
        acknowledged_batches.kind as batch_kind,
        changes.run_id,
        acknowledged_batches.batch_seq,
        sent_batches.event_at as sent_at,
        acknowledged_batches.event_at as acknowledged_at,
        acknowledged_batches.request_id as tiktok_request_id
    from changes
    inner join acknowledged_batches
        on changes.run_id = acknowledged_batches.run_id
        and changes.audience_key = acknowledged_batches.audience_key
        and changes.batch_no = acknowledged_batches.batch_no
    left join sent_batches
        on changes.run_id = sent_batches.run_id
        and changes.audience_key = sent_batches.audience_key
        and changes.batch_no = sent_batches.batch_no

    union all

    select
        id_type,
        id_hash,
        audience_key,
        audience_id,
        advertiser_id,
        action,
        'unconfirmed' as outcome,
        cast(null as {{ tiktok_sync.string_cast_type() }}) as batch_kind,
        run_id,
        cast(null as {{ dbt.type_bigint() }}) as batch_seq,
        sent_at,
        cast(null as {{ dbt.type_timestamp() }}) as acknowledged_at,
        cast(null as {{ tiktok_sync.string_cast_type() }}) as tiktok_request_id
    from unconfirmed_changes
),

possibly_held as (
    select distinct audience_key, audience_id, id_type, id_hash
    from (
        select audience_key, audience_id, id_type, id_hash
        from acknowledged_members

        union all

        select audience_key, audience_id, id_type, id_hash
        from unconfirmed_changes
        where action = 'add'
    ) as held
),

final as (
    select
        entries.*,
        carried.audience_key,
        carried.audience_id,
        carried.advertiser_id,
        carried.action,
        carried.outcome,
        carried.batch_kind,
        carried.run_id,
        carried.batch_seq,
        carried.sent_at,
        carried.acknowledged_at,
        carried.tiktok_request_id,
        case when possibly_held.id_hash is not null then true else false end as is_possibly_held
    from entries
    left join carried
        on entries.id_type = carried.id_type
        and entries.id_hash = carried.id_hash
    left join possibly_held
        on carried.audience_key = possibly_held.audience_key
        and carried.audience_id = possibly_held.audience_id
        and carried.id_type = possibly_held.id_type
        and carried.id_hash = possibly_held.id_hash
)

select * from final
