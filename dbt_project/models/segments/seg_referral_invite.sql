-- Marketing: loyal customers and advocates with positive sentiment and nothing open (no open ticket, no
-- negative experience in the recovery window): the people most likely to refer a friend.

with candidates as (

    select
        customer_key,
        {{ dbt.concat(["lifecycle_stage", "', '", dbt.cast("orders_count", dbt.type_string()), "' orders, positive'"]) }}
            as segment_reason,
        lifecycle_stage,
        loyalty_tier,
        orders_count,
        referrals_sent,
        referrals_converted
    from {{ ref('customer_360') }}
    where lifecycle_stage in ('loyal', 'advocate')
        and sentiment = 'positive'
        and open_tickets_count = 0

)

{{ segment_members('candidates', ['segment_reason', 'lifecycle_stage', 'loyalty_tier', 'orders_count',
                                  'referrals_sent', 'referrals_converted']) }}
