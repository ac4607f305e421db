{#- One line per configured audience: how many members it has, how many
    input values were empty or rejected, how many of its members are
    suppressed (never sent, removed from TikTok), and what the next sync would
    send. -#}
{{ config(materialized='view') }}

with

targets as (
    select * from {{ ref('tiktok_audience_targets') }}
),

members as (
    select * from {{ source('tiktok_sync_outputs', 'tiktok_audience_members') }}
),

desired_members as (
    select * from {{ ref('tiktok_audience_desired_members') }}
),

identifier_counts as (
    select * from {{ source('tiktok_sync_outputs', 'tiktok_identifier_counts') }}
),

diff as (
    select * from {{ ref('tiktok_audience_diff') }}
),

member_counts as (
    select audience_key, count(*) as member_count
    from members
    group by audience_key
),

desired_counts as (
    select audience_key, count(*) as desired_count
    from desired_members
    group by audience_key
),

input_counts as (
    select
        audience_key,
        max(row_count) as row_count,
        sum(empty_count) as empty_values,
        sum(rejected_count) as rejected_values
    from identifier_counts
    group by audience_key
),

pending as (
    select
        audience_key,
        sum(case when action = 'add' then 1 else 0 end) as pending_adds,
        sum(case when action = 'remove' then 1 else 0 end) as pending_removes
    from diff
    group by audience_key
),

final as (
    select
        targets.audience_key,
        targets.audience_name,
        targets.api,
        targets.mode,
        targets.audience_id,
        targets.advertiser_id,
        coalesce(input_counts.row_count, 0) as row_count,
        coalesce(desired_counts.desired_count, 0) as member_count,
        coalesce(member_counts.member_count, 0) - coalesce(desired_counts.desired_count, 0)
            as suppressed_members,
        coalesce(input_counts.empty_values, 0) as empty_values,
        coalesce(input_counts.rejected_values, 0) as rejected_values,
        coalesce(pending.pending_adds, 0) as pending_adds,
        coalesce(pending.pending_removes, 0) as pending_removes
    from targets
    left join member_counts
        on targets.audience_key = member_counts.audience_key
    left join desired_counts
        on targets.audience_key = desired_counts.audience_key
    left join input_counts
        on targets.audience_key = input_counts.audience_key
    left join pending
        on targets.audience_key = pending.audience_key
)

select * from final
