{{
    config(
        meta={
            'tiktok': {
                'api': 'streaming',
                'mode': 'add_only',
            }
        }
    )
}}

{#- A device counts while the app was opened in the last 30 days up to demo_day. -#}
{%- set active_window_days = 30 -%}

with

demo_app_devices as (

    select * from {{ ref('demo_app_devices') }}

),

demo_crm_customers as (

    select * from {{ ref('demo_crm_customers') }}

),

active_customers as (

    select *

    from demo_crm_customers

    where
        signup_day <= {{ var('demo_day') }}
        and (churn_day is null or churn_day > {{ var('demo_day') }})

),

recently_seen_devices as (

    select *

    from demo_app_devices

    where
        last_seen_day <= {{ var('demo_day') }}
        and last_seen_day > {{ var('demo_day') }} - {{ active_window_days }}

),

devices_of_active_customers as (

    select recently_seen_devices.*

    from recently_seen_devices

    inner join active_customers
        on recently_seen_devices.customer_id = active_customers.customer_id

),

devices_with_id_shape as (

    -- The app backend stores some advertising ids already hashed. Sort each value into
    -- the column its shape says it is: 64 hex digits is a SHA-256, 32 an MD5, anything
    -- else a raw id (the materialization validates and rejects what is not a UUID).
    select
        device_id,
        customer_id,
        platform,
        advertising_id,
        case
            when {{ tiktok_sync.regex_full_match(tiktok_sync.remove_whitespace('advertising_id'), '[0-9a-fA-F]{64}') }}
                then 'sha256'
            when {{ tiktok_sync.regex_full_match(tiktok_sync.remove_whitespace('advertising_id'), '[0-9a-fA-F]{32}') }}
                then 'md5'
            else 'raw'
        end as advertising_id_shape

    from devices_of_active_customers

),

final as (

    select
        device_id,
        customer_id,
        case when platform = 'ios' and advertising_id_shape = 'raw' then advertising_id end as idfa,
        case when platform = 'android' and advertising_id_shape = 'raw' then advertising_id end as gaid,
        case when platform = 'ios' and advertising_id_shape = 'md5' then advertising_id end as idfa_md5,
        case when platform = 'android' and advertising_id_shape = 'md5' then advertising_id end as gaid_md5,
        case when platform = 'ios' and advertising_id_shape = 'sha256' then advertising_id end as idfa_sha256,
        case when platform = 'android' and advertising_id_shape = 'sha256' then advertising_id end as gaid_sha256

    from devices_with_id_shape

)

select * from final
