{{
    config(
        meta={
            'tiktok': {
                'api': 'streaming',
                'mode': 'mirror',
            }
        }
    )
}}

{%- set is_sha256 = tiktok_sync.regex_full_match(tiktok_sync.remove_whitespace('phone'), '[0-9a-fA-F]{64}') %}

with

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

high_value_customers as (

    select *

    from active_customers

    where lifetime_value >= 500

),

final as (

    -- Identifiers exactly as the CRM holds them: the audience materialization normalises
    -- and hashes them. Phones the CRM already holds as a SHA-256 (64 hex digits once
    -- whitespace is removed) go in phone_sha256, which only checks their shape.
    select
        customer_id,
        email,
        case when not {{ is_sha256 }} then phone end as phone,
        case when {{ is_sha256 }} then phone end as phone_sha256,
        country_code

    from high_value_customers

)

select * from final
