-- Service: people with a negative experience (a review at or below the negative rating, a `bad` CSAT, a
-- late delivery, a refund) in the last `recovery_days` (Naomi). The same window holds them out of every
-- marketing segment.

with candidates as (

    select
        customer_key,
        {{ dbt.concat(["'negative '", "last_negative_experience_reason", "' on '",
                       dbt.cast("cast(last_negative_experience_at as date)", dbt.type_string())]) }}
            as segment_reason,
        last_negative_experience_reason as negative_experience_reason,
        last_negative_experience_at as negative_experience_at,
        last_order_at,
        open_tickets_count
    from {{ ref('customer_360') }}
    where {{ in_recovery_window('last_negative_experience_at') }}

)

{{ segment_members('candidates', ['segment_reason', 'negative_experience_reason', 'negative_experience_at',
                                  'last_order_at', 'open_tickets_count']) }}
