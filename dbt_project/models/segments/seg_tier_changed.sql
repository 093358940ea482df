-- Service: loyalty members whose tier changed in the last `tier_change_days` (Chrissy: silver -> gold),
-- with the old and new tier and whether it went up or down. Enrolment (no previous tier) is not a change.

with candidates as (

    select
        customer_key,
        {{ dbt.concat(["'tier changed from '", "previous_loyalty_tier", "' to '", "loyalty_tier"]) }}
            as segment_reason,
        previous_loyalty_tier,
        loyalty_tier,
        loyalty_tier_changed_at,
        case
            when {{ loyalty_tier_rank('loyalty_tier') }} > {{ loyalty_tier_rank('previous_loyalty_tier') }}
                then 'upgrade'
            when {{ loyalty_tier_rank('loyalty_tier') }} < {{ loyalty_tier_rank('previous_loyalty_tier') }}
                then 'downgrade'
            else 'change'
        end as tier_change_direction,
        loyalty_points_balance
    from {{ ref('customer_360') }}
    where previous_loyalty_tier is not null
        and loyalty_tier_changed_at >= {{ dbt.dateadd('day', -var('tier_change_days', 7), as_of_end()) }}

)

{{ segment_members('candidates', ['segment_reason', 'previous_loyalty_tier', 'loyalty_tier',
                                  'loyalty_tier_changed_at', 'tier_change_direction', 'loyalty_points_balance']) }}
