-- Loyalty points as lots: every earn (and positive adjustment) is a lot; redemptions, expiries and negative
-- adjustments consume the oldest lots first (FIFO), so each lot's remaining points, and so what expires
-- when, are right even for a member who has both redeemed and earned (Chrissy).
-- Set-based FIFO: a lot's remaining points = its points, clamped to what is left after the member's total
-- consumption is taken from the lots before it: least(points, greatest(0, earned_through_lot - consumed)).
-- This equals a sequential FIFO because a member never consumes more than she has earned so far, and the
-- platform writes an `expire` entry for lots that expired unused (LANDING_ZONE.md ledger types).

with ledger as (

    select * from {{ ref('stg_loyalty__ledger') }}
    where customer_id is not null

),

lots as (

    select
        customer_id,
        ledger_entry_id,
        occurred_at as earned_at,
        expires_at,
        points_delta as points,
        sum(points_delta) over (
            partition by customer_id
            order by occurred_at, ledger_entry_id
            rows between unbounded preceding and current row
        ) as earned_through_lot
    from ledger
    where points_delta > 0

),

consumed as (

    select customer_id, -sum(points_delta) as points_consumed
    from ledger
    where points_delta < 0
    group by customer_id

)

select
    lots.customer_id,
    lots.ledger_entry_id,
    lots.earned_at,
    lots.expires_at,
    lots.points,
    least(
        lots.points,
        greatest(0, lots.earned_through_lot - coalesce(consumed.points_consumed, 0))
    ) as points_remaining,
    lots.expires_at is not null and lots.expires_at < {{ as_of_end() }} as is_expired
from lots
left join consumed on consumed.customer_id = lots.customer_id
