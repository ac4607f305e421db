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

final as (

    -- The app backend stores some advertising ids already hashed, and records which in
    -- advertising_id_format. Only that record may route a value to a *_md5 or *_sha256
    -- column: 32 hex digits is just as well a UUID without hyphens, which the idfa/gaid
    -- columns hash (sorting it by shape into *_md5 would send the raw device id).
    select
        device_id,
        customer_id,
        case when platform = 'ios' and advertising_id_format = 'raw' then advertising_id end as idfa,
        case when platform = 'android' and advertising_id_format = 'raw' then advertising_id end as gaid,
        case when platform = 'ios' and advertising_id_format = 'md5' then advertising_id end as idfa_md5,
        case when platform = 'android' and advertising_id_format = 'md5' then advertising_id end as gaid_md5,
        case when platform = 'ios' and advertising_id_format = 'sha256' then advertising_id end as idfa_sha256,
        case when platform = 'android' and advertising_id_format = 'sha256' then advertising_id end as gaid_sha256

    from devices_of_active_customers

)

select * from final
