-- Service: loyalty members with points expiring within `points_expiring_days` (Chrissy): balance, the
-- points that expire (FIFO: redemptions and expiries consumed the oldest lots first) and when.

with candidates as (

    select
        customer_key,
        {{ dbt.concat([dbt.cast("points_expiring_30d", dbt.type_string()), "' points expire on '",
                       dbt.cast("cast(next_points_expiry_at as date)", dbt.type_string())]) }} as segment_reason,
        loyalty_tier,
        loyalty_points_balance,
        points_expiring_30d as points_expiring,
        next_points_expiry_at as points_expire_at
    from {{ ref('customer_360') }}
    where points_expiring_30d > 0

)

{{ segment_members('candidates', ['segment_reason', 'loyalty_tier', 'loyalty_points_balance', 'points_expiring',
                                  'points_expire_at']) }}
