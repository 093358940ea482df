-- Lifecycle stage changes: one row per person and day on which their stage changed; the first row is the
-- day they became known (from_stage null). The rule is the macro lifecycle_stage(), evaluated only on the
-- few days a person's inputs (int_lifecycle_events) can change their stage, never per person x day:
--   * the day they became known,
--   * the day of their 1st, var('repeat_min_orders')-th and var('loyal_min_orders')-th revenue order,
--   * the day of their first positive signal (positive signals never expire),
--   * the day of each negative experience, and the day its recovery window is over: a negative
--     experience on day D blocks `advocate` on days D .. D + var('recovery_days') - 1, so a person who
--     still qualifies is an advocate again on day D + var('recovery_days').
-- A stage holds from the end of `changed_on` until `next_changed_on` (exclusive). Days after the as-of
-- date are not evaluated.

{%- set recovery_days = var('recovery_days', 30) %}
{%- set repeat_min = var('repeat_min_orders', 2) %}
{%- set loyal_min = var('loyal_min_orders', 4) %}

with events as (

    select customer_key, occurred_on, event_type from {{ ref('int_lifecycle_events') }}

),

known as (

    select customer_key, min(occurred_on) as known_on
    from events
    where event_type = 'known'
    group by customer_key

),

revenue_orders as (

    select
        customer_key,
        occurred_on as order_on,
        row_number() over (partition by customer_key order by occurred_on) as order_number
    from events
    where event_type = 'revenue_order'

),

first_positive as (

    select customer_key, min(occurred_on) as positive_on
    from events
    where event_type = 'positive_signal'
    group by customer_key

),

negatives as (

    select distinct
        customer_key,
        occurred_on as negative_on,
        cast({{ dbt.dateadd('day', recovery_days, 'occurred_on') }} as date) as recovered_on
    from events
    where event_type = 'negative_experience'

),

candidate_days as (

    select customer_key, known_on as change_on from known
    union
    select customer_key, order_on from revenue_orders
    where order_number in (1, {{ repeat_min }}, {{ loyal_min }})
    union
    select customer_key, positive_on from first_positive
    union
    select customer_key, negative_on from negatives
    union
    select customer_key, recovered_on from negatives

),

-- A person's stage starts on the day they became known; inputs dated before it count from that day.
candidates as (

    select c.customer_key, c.change_on
    from candidate_days as c
    inner join known as k on k.customer_key = c.customer_key
    where c.change_on >= k.known_on
        and c.change_on <= {{ as_of_date() }}

),

order_counts as (

    select c.customer_key, c.change_on, count(o.order_on) as orders_count
    from candidates as c
    left join revenue_orders as o
        on o.customer_key = c.customer_key
        and o.order_on <= c.change_on
    group by c.customer_key, c.change_on

),

negative_counts as (

    select c.customer_key, c.change_on, count(n.negative_on) as open_negative_experiences
    from candidates as c
    left join negatives as n
        on n.customer_key = c.customer_key
        and n.negative_on <= c.change_on
        and n.recovered_on > c.change_on
    group by c.customer_key, c.change_on

),

states as (

    select
        c.customer_key,
        c.change_on,
        oc.orders_count,
        coalesce(p.positive_on <= c.change_on, false) as has_positive_signal,
        nc.open_negative_experiences > 0 as has_recent_negative_experience
    from candidates as c
    inner join order_counts as oc on oc.customer_key = c.customer_key and oc.change_on = c.change_on
    inner join negative_counts as nc on nc.customer_key = c.customer_key and nc.change_on = c.change_on
    left join first_positive as p on p.customer_key = c.customer_key

),

staged as (

    select
        customer_key,
        change_on,
        orders_count,
        has_positive_signal,
        has_recent_negative_experience,
        {{ lifecycle_stage('orders_count', 'has_positive_signal', 'has_recent_negative_experience') }}
            as lifecycle_stage
    from states

),

with_previous as (

    select
        customer_key,
        change_on,
        orders_count,
        has_positive_signal,
        has_recent_negative_experience,
        lifecycle_stage,
        lag(lifecycle_stage) over (partition by customer_key order by change_on) as previous_stage
    from staged

),

changes as (

    select *
    from with_previous
    where previous_stage is null or previous_stage <> lifecycle_stage

)

select
    cast(customer_key as {{ dbt.type_string() }}) as customer_key,
    cast(change_on as date) as changed_on,
    cast(previous_stage as {{ dbt.type_string() }}) as from_stage,
    cast(lifecycle_stage as {{ dbt.type_string() }}) as to_stage,
    cast(
        lead(change_on) over (partition by customer_key order by change_on) as date
    ) as next_changed_on,
    cast(
        row_number() over (partition by customer_key order by change_on) as {{ dbt.type_bigint() }}
    ) as stage_change_number,
    cast(orders_count as {{ dbt.type_bigint() }}) as orders_count,
    cast(has_positive_signal as {{ dbt.type_boolean() }}) as has_positive_signal,
    cast(has_recent_negative_experience as {{ dbt.type_boolean() }}) as has_recent_negative_experience
from changes
