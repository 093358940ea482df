-- One row per loyalty member (shop customer id): points balance, points expiring in the next
-- `points_expiring_days` and when the next lot expires (from the FIFO lots), and the current and previous
-- tier with the date it changed.

with lots as (

    select * from {{ ref('int_loyalty_lots_consumed') }}

),

balances as (

    select
        customer_id,
        sum(case when not is_expired then points_remaining else 0 end) as loyalty_points_balance,
        sum(
            case
                when not is_expired and points_remaining > 0
                    and expires_at < {{ dbt.dateadd('day', var('points_expiring_days', 30), as_of_end()) }}
                then points_remaining else 0
            end
        ) as points_expiring_30d,
        min(case when not is_expired and points_remaining > 0 then expires_at end) as next_points_expiry_at
    from lots
    group by customer_id

),

ledger_members as (

    select customer_id, min(occurred_at) as joined_loyalty_at
    from {{ ref('stg_loyalty__ledger') }}
    where customer_id is not null
    group by customer_id

),

tier_changes as (

    select
        customer_id,
        tier,
        previous_tier,
        changed_at,
        row_number() over (partition by customer_id order by changed_at desc, tier_change_id desc) as recency_rank
    from {{ ref('stg_loyalty__tier_changes') }}
    where customer_id is not null

),

latest_tier as (

    select customer_id, tier, previous_tier, changed_at from tier_changes where recency_rank = 1

),

members as (

    select customer_id from ledger_members
    union
    select customer_id from latest_tier

)

select
    m.customer_id,
    coalesce(b.loyalty_points_balance, 0) as loyalty_points_balance,
    coalesce(b.points_expiring_30d, 0) as points_expiring_30d,
    b.next_points_expiry_at,
    t.tier as loyalty_tier,
    t.previous_tier as previous_loyalty_tier,
    t.changed_at as loyalty_tier_changed_at,
    l.joined_loyalty_at
from members as m
left join balances as b on b.customer_id = m.customer_id
left join latest_tier as t on t.customer_id = m.customer_id
left join ledger_members as l on l.customer_id = m.customer_id
