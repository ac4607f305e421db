{{
    config(
        meta={
            'tiktok': {
                'api': 'customer_file',
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

newsletter_subscribers as (

    select *

    from active_customers

    where is_newsletter_subscriber

),

final as (

    -- Only the partner's email hash, as delivered: a customer-file audience takes one
    -- identifier type (TikTok gives each one a single calculate_type), so the phones that
    -- arrive already hashed go to demo_high_value_customers instead.
    select
        customer_id,
        email_sha256_from_partner as email_sha256

    from newsletter_subscribers

)

select * from final
