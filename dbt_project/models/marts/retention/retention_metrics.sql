-- Retention KPIs, one row per calendar month from the month of the first revenue order to the as-of month
-- (the as-of month is partial: everything counts up to the end of the as-of date). Revenue orders only
-- (test, cancelled and voided excluded; store receipts included). Definitions (see the YAML for each
-- column):
--   new customer         first revenue order in the month; returning: ordered in the month, first order
--                        in an earlier month
--   repeat-purchase rate customers with at least var('repeat_min_orders') revenue orders by the month end
--                        / customers with at least one
--   N-day repurchase     of the customers whose first order was in the month, the share whose second
--                        revenue order came within N days (calendar days, first order day + N included);
--                        null until N days have passed after the month's last day
--   churn rate           of the customers active at the start of the month (a revenue order in the
--                        var('analysis_window_days') = 365 days before), the share who lapsed during the
--                        month (reached 365 days without an order); lapsing on day L + 365, L = last order
--   participation        shares of the month's active customers (ordered in the month) who were loyalty
--                        members by the month end / had a subscription active at some time in the month

{%- set window_days = var('analysis_window_days', 365) %}
{%- set repurchase_windows = [30, 60, 90, 365] %}

with orders as (

    select * from {{ ref('fct_orders') }}
    where is_revenue_order

),

customer_orders as (

    select * from orders where customer_key is not null

),

graph as (

    select customer_key, identifier from {{ ref('int_identity_graph') }}

),

as_of as (

    select
        {{ as_of_date() }} as as_of_date,
        cast({{ dbt.date_trunc('month', as_of_date()) }} as date) as as_of_month

),

months as (

    select
        m.date_month as calendar_month,
        cast({{ dbt.last_day('m.date_month', 'month') }} as date) as month_last_day,
        case
            when cast({{ dbt.last_day('m.date_month', 'month') }} as date) > a.as_of_date then a.as_of_date
            else cast({{ dbt.last_day('m.date_month', 'month') }} as date)
        end as month_end_date,
        a.as_of_date
    from (
        {{ month_spine('(select min(order_month) from ' ~ ref('fct_orders') ~ ' where is_revenue_order)', as_of_date()) }}
    ) as m
    cross join as_of as a

),

-- Orders, revenue and customers per month ------------------------------------------------------------

monthly_orders as (

    select
        order_month as calendar_month,
        count(*) as orders_count,
        sum(gross_revenue) as gross_revenue,
        sum(discounts) as discounts,
        sum(refunds) as refunds,
        sum(net_revenue) as net_revenue,
        count(customer_key) as customer_orders_count,
        count(distinct customer_key) as active_customers,
        count(distinct case when customer_cohort_month = order_month then customer_key end) as new_customers,
        count(distinct case when customer_cohort_month < order_month then customer_key end) as returning_customers,
        sum(case when customer_cohort_month = order_month then net_revenue else 0 end) as new_customer_net_revenue,
        sum(case when customer_cohort_month < order_month then net_revenue else 0 end)
            as returning_customer_net_revenue,
        sum(case when customer_key is null then net_revenue else 0 end) as anonymous_net_revenue,
        avg(days_since_previous_order) as avg_days_between_orders
    from orders
    group by order_month

),

-- Repeat purchase (cumulative) and N-day repurchase (by first-order month) ---------------------------

customer_milestones as (

    select
        customer_key,
        min(case when customer_order_number = 1 then ordered_at end) as first_order_at,
        min(case when customer_order_number = 2 then ordered_at end) as second_order_at,
        min(case when customer_order_number = {{ var('repeat_min_orders', 2) }} then ordered_at end) as repeat_at
    from customer_orders
    group by customer_key

),

first_order_months as (

    select
        cast({{ dbt.date_trunc('month', 'first_order_at') }} as date) as calendar_month,
        count(*) as first_order_customers
        {%- for days in repurchase_windows %},
        sum(
            case
                when second_order_at is not null
                    and {{ dbt.datediff('first_order_at', 'second_order_at', 'day') }} <= {{ days }}
                then 1 else 0
            end
        ) as repurchased_{{ days }}d_customers
        {%- endfor %}
    from customer_milestones
    group by cast({{ dbt.date_trunc('month', 'first_order_at') }} as date)

),

repeat_months as (

    select cast({{ dbt.date_trunc('month', 'repeat_at') }} as date) as calendar_month, count(*) as new_repeat_customers
    from customer_milestones
    where repeat_at is not null
    group by cast({{ dbt.date_trunc('month', 'repeat_at') }} as date)

),

-- Activity over the trailing window, as activation / lapse events per customer -------------------------

order_days as (

    select distinct customer_key, order_date from customer_orders

),

order_day_gaps as (

    select
        customer_key,
        order_date,
        lag(order_date) over (partition by customer_key order by order_date) as previous_order_date,
        lead(order_date) over (partition by customer_key order by order_date) as next_order_date
    from order_days

),

activity_event_rows as (

    -- (re)activated: an order after more than the window without one
    select order_date as event_on, 1 as activations, 0 as lapses
    from order_day_gaps
    where previous_order_date is null
        or {{ dbt.datediff('previous_order_date', 'order_date', 'day') }} > {{ window_days }}

    union all

    -- lapsed: the window has passed since the last order with no order in between
    select cast({{ dbt.dateadd('day', window_days, 'order_date') }} as date), 0, 1
    from order_day_gaps
    where next_order_date is null
        or {{ dbt.datediff('order_date', 'next_order_date', 'day') }} > {{ window_days }}

),

activity_events as (

    select event_on, sum(activations) as activations, sum(lapses) as lapses
    from activity_event_rows
    group by event_on

),

activity_months as (

    select
        m.calendar_month,
        sum(case when e.event_on < m.calendar_month then e.activations - e.lapses else 0 end)
            as active_at_month_start,
        sum(case when e.event_on >= m.calendar_month and e.event_on <= m.month_end_date then e.lapses else 0 end)
            as churned_customers,
        sum(case when e.event_on <= m.month_end_date then e.activations - e.lapses else 0 end)
            as active_at_month_end
    from months as m
    cross join activity_events as e
    group by m.calendar_month

),

-- Loyalty and subscription participation of the month's active customers ------------------------------

month_customers as (

    select distinct customer_key, order_month as calendar_month from customer_orders

),

loyalty_joins as (

    select g.customer_key, cast(min(l.joined_at) as date) as joined_on
    from (
        select customer_id, occurred_at as joined_at from {{ ref('stg_loyalty__ledger') }}
        union all
        select customer_id, changed_at from {{ ref('stg_loyalty__tier_changes') }}
    ) as l
    inner join graph as g on g.identifier = {{ shop_node('l.customer_id') }}
    group by g.customer_key

),

subscription_periods as (

    select
        coalesce(by_shop_id.customer_key, by_email.customer_key) as customer_key,
        cast(s.created_at as date) as started_on,
        -- an inactive subscription without a cancellation date ended when it was last updated
        cast(coalesce(s.cancelled_at, case when not s.is_active then s.updated_at end) as date) as ended_on
    from {{ ref('stg_subscriptions__subscriptions') }} as s
    left join graph as by_shop_id on by_shop_id.identifier = {{ shop_node('s.customer_id') }}
    left join graph as by_email on by_email.identifier = {{ email_node('s.email') }}

),

participation as (

    select
        c.calendar_month,
        count(distinct case when l.joined_on <= m.month_end_date then c.customer_key end) as loyalty_member_customers,
        count(distinct case when sp.customer_key is not null then c.customer_key end) as subscriber_customers
    from month_customers as c
    inner join months as m on m.calendar_month = c.calendar_month
    left join loyalty_joins as l on l.customer_key = c.customer_key
    left join subscription_periods as sp
        on sp.customer_key = c.customer_key
        and sp.started_on <= m.month_end_date
        and (sp.ended_on is null or sp.ended_on >= m.calendar_month)
    group by c.calendar_month

),

-- Referrals, email and reviews (records of people still in the identity graph: erased people excluded) --

referrals as (

    select
        cast({{ dbt.date_trunc('month', 'r.created_at') }} as date) as calendar_month,
        count(*) as referrals_sent,
        sum(case when r.is_converted then 1 else 0 end) as referrals_converted
    from {{ ref('stg_referrals__referrals') }} as r
    inner join graph as g on g.identifier = {{ shop_node('r.referrer_customer_id') }}
    group by cast({{ dbt.date_trunc('month', 'r.created_at') }} as date)

),

emails as (

    select
        cast({{ dbt.date_trunc('month', 'e.event_at') }} as date) as calendar_month,
        sum(case when e.event_kind = 'email_received' then 1 else 0 end) as emails_received,
        sum(case when e.event_kind = 'email_unsubscribed' then 1 else 0 end) as email_unsubscribes
    from {{ ref('int_email_events_enriched') }} as e
    inner join graph as g on g.identifier = {{ email_node('e.email') }}
    where e.event_kind in ('email_received', 'email_unsubscribed')
    group by cast({{ dbt.date_trunc('month', 'e.event_at') }} as date)

),

reviews as (

    select
        cast({{ dbt.date_trunc('month', 'r.created_at') }} as date) as calendar_month,
        count(*) as reviews_count,
        avg(cast(r.rating as {{ type_double() }})) as avg_review_rating
    from {{ ref('stg_reviews__reviews') }} as r
    left join graph as by_shop_id on by_shop_id.identifier = {{ shop_node('r.customer_id') }}
    left join graph as by_email on by_email.identifier = {{ email_node('r.email') }}
    where r.rating is not null
        and coalesce(by_shop_id.customer_key, by_email.customer_key) is not null
    group by cast({{ dbt.date_trunc('month', 'r.created_at') }} as date)

),

joined as (

    select
        m.calendar_month,
        m.month_end_date,
        m.month_end_date < m.month_last_day as is_partial_month,
        m.as_of_date,
        m.month_last_day,
        coalesce(o.orders_count, 0) as orders_count,
        coalesce(o.gross_revenue, 0) as gross_revenue,
        coalesce(o.discounts, 0) as discounts,
        coalesce(o.refunds, 0) as refunds,
        coalesce(o.net_revenue, 0) as net_revenue,
        coalesce(o.customer_orders_count, 0) as customer_orders_count,
        coalesce(o.active_customers, 0) as active_customers,
        coalesce(o.new_customers, 0) as new_customers,
        coalesce(o.returning_customers, 0) as returning_customers,
        coalesce(o.new_customer_net_revenue, 0) as new_customer_net_revenue,
        coalesce(o.returning_customer_net_revenue, 0) as returning_customer_net_revenue,
        coalesce(o.anonymous_net_revenue, 0) as anonymous_net_revenue,
        o.avg_days_between_orders,
        sum(coalesce(f.first_order_customers, 0)) over (
            order by m.calendar_month rows between unbounded preceding and current row
        ) as customers_to_date,
        sum(coalesce(r.new_repeat_customers, 0)) over (
            order by m.calendar_month rows between unbounded preceding and current row
        ) as repeat_customers_to_date,
        coalesce(f.first_order_customers, 0) as first_order_customers,
        {%- for days in repurchase_windows %}
        coalesce(f.repurchased_{{ days }}d_customers, 0) as repurchased_{{ days }}d_customers,
        {%- endfor %}
        coalesce(a.active_at_month_start, 0) as active_at_month_start,
        coalesce(a.churned_customers, 0) as churned_customers,
        coalesce(a.active_at_month_end, 0) as active_at_month_end,
        coalesce(p.loyalty_member_customers, 0) as loyalty_member_customers,
        coalesce(p.subscriber_customers, 0) as subscriber_customers,
        coalesce(rf.referrals_sent, 0) as referrals_sent,
        coalesce(rf.referrals_converted, 0) as referrals_converted,
        coalesce(e.emails_received, 0) as emails_received,
        coalesce(e.email_unsubscribes, 0) as email_unsubscribes,
        coalesce(rv.reviews_count, 0) as reviews_count,
        rv.avg_review_rating
    from months as m
    left join monthly_orders as o on o.calendar_month = m.calendar_month
    left join first_order_months as f on f.calendar_month = m.calendar_month
    left join repeat_months as r on r.calendar_month = m.calendar_month
    left join activity_months as a on a.calendar_month = m.calendar_month
    left join participation as p on p.calendar_month = m.calendar_month
    left join referrals as rf on rf.calendar_month = m.calendar_month
    left join emails as e on e.calendar_month = m.calendar_month
    left join reviews as rv on rv.calendar_month = m.calendar_month

)

select
    cast(calendar_month as date) as calendar_month,
    cast(month_end_date as date) as month_end_date,
    cast(is_partial_month as {{ dbt.type_boolean() }}) as is_partial_month,
    -- orders and revenue
    cast(orders_count as {{ dbt.type_bigint() }}) as orders_count,
    cast(gross_revenue as {{ type_money() }}) as gross_revenue,
    cast(discounts as {{ type_money() }}) as discounts,
    cast(refunds as {{ type_money() }}) as refunds,
    cast(net_revenue as {{ type_money() }}) as net_revenue,
    {{ money_divide("net_revenue", "orders_count") }} as average_order_value,
    -- customers
    cast(active_customers as {{ dbt.type_bigint() }}) as active_customers,
    cast(new_customers as {{ dbt.type_bigint() }}) as new_customers,
    cast(returning_customers as {{ dbt.type_bigint() }}) as returning_customers,
    cast(new_customer_net_revenue as {{ type_money() }}) as new_customer_net_revenue,
    cast(returning_customer_net_revenue as {{ type_money() }}) as returning_customer_net_revenue,
    cast(anonymous_net_revenue as {{ type_money() }}) as anonymous_net_revenue,
    {{ safe_ratio('returning_customer_net_revenue', 'net_revenue') }} as returning_customer_revenue_share,
    cast(customer_orders_count as {{ dbt.type_bigint() }}) as customer_orders_count,
    {{ safe_ratio('customer_orders_count', 'active_customers') }} as purchase_frequency,
    cast(avg_days_between_orders as {{ type_double() }}) as avg_days_between_orders,
    -- repeat purchase
    cast(customers_to_date as {{ dbt.type_bigint() }}) as customers_to_date,
    cast(repeat_customers_to_date as {{ dbt.type_bigint() }}) as repeat_customers_to_date,
    {{ safe_ratio('repeat_customers_to_date', 'customers_to_date') }} as repeat_purchase_rate,
    cast(first_order_customers as {{ dbt.type_bigint() }}) as first_order_customers,
    {%- for days in repurchase_windows %}
    cast(
        case
            when cast({{ dbt.dateadd('day', days, 'month_last_day') }} as date) <= as_of_date
                then {{ safe_ratio('repurchased_' ~ days ~ 'd_customers', 'first_order_customers') }}
        end
        as {{ type_double() }}
    ) as repurchase_rate_{{ days }}d,
    {%- endfor %}
    -- churn
    cast(active_at_month_start as {{ dbt.type_bigint() }}) as active_customers_at_month_start,
    cast(churned_customers as {{ dbt.type_bigint() }}) as churned_customers,
    {{ safe_ratio('churned_customers', 'active_at_month_start') }} as churn_rate,
    cast(active_at_month_end as {{ dbt.type_bigint() }}) as active_customers_at_month_end,
    -- programmes and engagement
    cast(loyalty_member_customers as {{ dbt.type_bigint() }}) as loyalty_member_customers,
    {{ safe_ratio('loyalty_member_customers', 'active_customers') }} as loyalty_participation_rate,
    cast(subscriber_customers as {{ dbt.type_bigint() }}) as subscriber_customers,
    {{ safe_ratio('subscriber_customers', 'active_customers') }} as subscription_participation_rate,
    cast(referrals_sent as {{ dbt.type_bigint() }}) as referrals_sent,
    cast(referrals_converted as {{ dbt.type_bigint() }}) as referrals_converted,
    {{ safe_ratio('referrals_converted', 'referrals_sent') }} as referral_conversion_rate,
    cast(emails_received as {{ dbt.type_bigint() }}) as emails_received,
    cast(email_unsubscribes as {{ dbt.type_bigint() }}) as email_unsubscribes,
    {{ safe_ratio('email_unsubscribes', 'emails_received') }} as email_unsubscribe_rate,
    cast(reviews_count as {{ dbt.type_bigint() }}) as reviews_count,
    cast(avg_review_rating as {{ type_double() }}) as avg_review_rating
from joined
