-- Marketing: prospects (known, no order yet) who opened or clicked an email or visited the site in the
-- last `nurture_recent_days`, with the category they looked at most in the last 30 days.

with engagement as (

    select
        customer_key,
        top_viewed_category_30d,
        case
            when last_email_click_at >= last_site_visit_at or last_site_visit_at is null then
                case when last_email_click_at >= last_email_open_at or last_email_open_at is null
                    then last_email_click_at else last_email_open_at end
            else
                case when last_site_visit_at >= last_email_open_at or last_email_open_at is null
                    then last_site_visit_at else last_email_open_at end
        end as last_engaged_at,
        last_email_open_at,
        last_email_click_at,
        last_site_visit_at
    from {{ ref('customer_360') }}
    where lifecycle_stage = 'prospect'

),

candidates as (

    select
        customer_key,
        case
            when last_engaged_at = last_email_click_at then 'clicked an email'
            when last_engaged_at = last_site_visit_at then 'visited the site'
            else 'opened an email'
        end as segment_reason,
        last_engaged_at,
        {{ unless_subscribed('customer_key', 'top_viewed_category_30d', 'category') }} as recommended_category
    from engagement
    where last_engaged_at >= {{ dbt.dateadd('day', -var('nurture_recent_days', 30), as_of_end()) }}

)

{{ segment_members('candidates', ['segment_reason', 'last_engaged_at', 'recommended_category']) }}
