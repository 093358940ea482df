-- Reconciliation: the sum of customers' lifetime net revenue equals the net revenue of the revenue orders
-- that belong to a person (anonymous store receipts belong to nobody), and the same for order counts.
{{ config(meta={'dagster': {'ref': {'name': 'customer_360'}}}) }}
with customers as (
    select sum(lifetime_net_revenue) as net_revenue, sum(orders_count) as orders
    from {{ ref('customer_360') }}
),
orders as (
    select sum(net_revenue) as net_revenue, count(*) as orders
    from {{ ref('int_orders_unioned') }}
    where is_revenue_order and customer_key is not null
)
select customers.net_revenue as customer_net_revenue, orders.net_revenue as order_net_revenue,
    customers.orders as customer_orders, orders.orders as order_count
from customers cross join orders
where coalesce(customers.net_revenue, 0) <> coalesce(orders.net_revenue, 0)
    or coalesce(customers.orders, 0) <> coalesce(orders.orders, 0)
