-- Purchase facts per person (revenue orders only: test, cancelled and voided excluded; store receipts
-- included): counts, first/last order, lifetime gross/refunds/net, AOV, rhythm, last-365-day figures,
-- online vs store, favourite category and product, late deliveries and refunded orders.

with orders as (

    select * from {{ ref('int_orders_unioned') }}
    where customer_key is not null and is_revenue_order

),

ordered as (

    select
        customer_key,
        ordered_at,
        lag(ordered_at) over (partition by customer_key order by ordered_at, order_key) as previous_ordered_at
    from orders

),

rhythm as (

    select
        customer_key,
        avg(cast({{ dbt.datediff('previous_ordered_at', 'ordered_at', 'second') }} as {{ type_double() }})) / 86400 as avg_days_between_orders
    from ordered
    where previous_ordered_at is not null
    group by customer_key

),

first_orders as (

    select customer_key, channel, source_name, landing_utm_source,
        row_number() over (partition by customer_key order by ordered_at, order_key) as order_rank
    from orders

),

totals as (

    select
        customer_key,
        count(*) as orders_count,
        min(ordered_at) as first_order_at,
        max(ordered_at) as last_order_at,
        sum(gross_revenue) as lifetime_gross_revenue,
        sum(discounts) as lifetime_discounts,
        sum(refunds) as lifetime_refunds,
        sum(net_revenue) as lifetime_net_revenue,
        sum(case when ordered_at >= {{ dbt.dateadd('day', -var('analysis_window_days', 365), as_of_end()) }}
            then 1 else 0 end) as orders_last_365d,
        sum(case when ordered_at >= {{ dbt.dateadd('day', -var('analysis_window_days', 365), as_of_end()) }}
            then net_revenue else 0 end) as net_revenue_last_365d,
        sum(case when channel in ('web', 'app') then 1 else 0 end) as online_orders_count,
        sum(case when channel = 'store' then 1 else 0 end) as store_orders_count,
        sum(case when has_late_delivery then 1 else 0 end) as late_deliveries_count,
        sum(case when is_refunded then 1 else 0 end) as refunded_orders_count
    from orders
    group by customer_key

),

category_ranks as (

    select
        customer_key,
        category,
        row_number() over (
            partition by customer_key order by sum(line_amount) desc, sum(quantity) desc, category
        ) as category_rank
    from {{ ref('int_order_lines_unioned') }}
    where customer_key is not null and is_revenue_order and category is not null
    group by customer_key, category

),

product_ranks as (

    select
        customer_key,
        product_id,
        row_number() over (
            partition by customer_key order by sum(quantity) desc, sum(line_amount) desc, product_id
        ) as product_rank
    from {{ ref('int_order_lines_unioned') }}
    where customer_key is not null and is_revenue_order and product_id is not null
    group by customer_key, product_id

)

select
    t.customer_key,
    t.orders_count,
    t.first_order_at,
    t.last_order_at,
    t.lifetime_gross_revenue,
    t.lifetime_discounts,
    t.lifetime_refunds,
    t.lifetime_net_revenue,
    {{ money_divide("t.lifetime_net_revenue", "t.orders_count") }} as average_order_value,
    r.avg_days_between_orders,
    t.orders_last_365d,
    t.net_revenue_last_365d,
    t.online_orders_count,
    t.store_orders_count,
    t.late_deliveries_count,
    t.refunded_orders_count,
    c.category as top_category,
    p.product_id as favorite_product_id,
    f.channel as first_order_channel,
    f.source_name as first_order_source_name,
    f.landing_utm_source as first_order_utm_source
from totals as t
left join rhythm as r on r.customer_key = t.customer_key
left join category_ranks as c on c.customer_key = t.customer_key and c.category_rank = 1
left join product_ranks as p on p.customer_key = t.customer_key and p.product_rank = 1
left join first_orders as f on f.customer_key = t.customer_key and f.order_rank = 1
