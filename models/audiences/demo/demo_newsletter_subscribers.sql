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

    -- Only identifiers that arrive already hashed: the partner's email hash, and the
    -- phones the CRM holds as a SHA-256 (64 hex digits once whitespace is removed).
    -- Everything else in the phone column is left out of this audience on purpose.
    select
        customer_id,
        email_sha256_from_partner as email_sha256,
        case
            when {{ tiktok_sync.regex_full_match(tiktok_sync.remove_whitespace('phone'), '[0-9a-fA-F]{64}') }}
                then phone
        end as phone_sha256

    from newsletter_subscribers

)

select * from final
