-- Net revenue reconciles: per month, the net revenue and count of fct_orders' revenue orders equal
-- retention_metrics' net_revenue and orders_count, and no month with revenue is missing from
-- retention_metrics. A row is a mismatch.
{{ config(meta={'dagster': {'ref': {'name': 'retention_metrics'}}}) }}

with orders as (

    select order_month, sum(net_revenue) as net_revenue, count(*) as orders_count
    from {{ ref('fct_orders') }}
    where is_revenue_order
    group by order_month

),

metrics as (

    select calendar_month, net_revenue, orders_count from {{ ref('retention_metrics') }}

)

select
    coalesce(o.order_month, m.calendar_month) as calendar_month,
    o.net_revenue as fct_orders_net_revenue,
    m.net_revenue as retention_metrics_net_revenue,
    o.orders_count as fct_orders_orders_count,
    m.orders_count as retention_metrics_orders_count
from orders as o
full outer join metrics as m on m.calendar_month = o.order_month
where coalesce(o.net_revenue, 0) <> coalesce(m.net_revenue, 0)
    or coalesce(o.orders_count, 0) <> coalesce(m.orders_count, 0)
    or m.calendar_month is null
