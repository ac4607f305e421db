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

    -- Raw identifiers exactly as the CRM holds them: the audience materialization
    -- normalises and hashes them, and passes values that are already a SHA-256 through.
    select
        customer_id,
        email,
        phone,
        country_code

    from high_value_customers

)

select * from final
