-- One row per order of every channel (web, app, store), the order fact BI and the retention marts read.
-- Test, cancelled and voided orders are kept and flagged; only `is_revenue_order` rows are revenue.
-- net_revenue = gross_revenue - discounts - refunds (shipping and tax are not revenue).
-- Anonymous store receipts have no customer_key. Per-customer sequencing (customer_order_number,
-- previous order, first-order month = acquisition cohort) counts revenue orders only.

with orders as (

    select * from {{ ref('int_orders_unioned') }}
    -- staging already ignores records after the as-of date; this guards against orders dated after their
    -- own last update (clock skew in a source), which would fall outside every as-of month
    where ordered_at < {{ as_of_end() }}

),

revenue_sequence as (

    select
        order_key,
        row_number() over (
            partition by customer_key order by ordered_at, order_key
        ) as customer_order_number,
        lag(ordered_at) over (
            partition by customer_key order by ordered_at, order_key
        ) as previous_order_at
    from orders
    where is_revenue_order and customer_key is not null

),

customer_first_orders as (

    select customer_key, min(ordered_at) as customer_first_order_at
    from orders
    where is_revenue_order and customer_key is not null
    group by customer_key

)

select
    cast(o.order_key as {{ dbt.type_string() }}) as order_key,
    cast(o.customer_key as {{ dbt.type_string() }}) as customer_key,
    cast(o.shop_order_id as {{ dbt.type_bigint() }}) as shop_order_id,
    cast(o.pos_transaction_id as {{ dbt.type_string() }}) as pos_transaction_id,
    cast(o.channel as {{ dbt.type_string() }}) as channel,
    cast(o.source_name as {{ dbt.type_string() }}) as source_name,
    cast(o.ordered_at as {{ dbt.type_timestamp() }}) as ordered_at,
    cast(o.ordered_at as date) as order_date,
    cast({{ dbt.date_trunc('month', 'o.ordered_at') }} as date) as order_month,
    cast(o.currency as {{ dbt.type_string() }}) as currency,
    cast(o.gross_revenue as {{ type_money() }}) as gross_revenue,
    cast(o.discounts as {{ type_money() }}) as discounts,
    cast(o.refunds as {{ type_money() }}) as refunds,
    cast(o.net_revenue as {{ type_money() }}) as net_revenue,
    cast(o.shipping as {{ type_money() }}) as shipping,
    cast(o.tax as {{ type_money() }}) as tax,
    cast(o.total_price as {{ type_money() }}) as total_price,
    cast(o.items_count as {{ dbt.type_bigint() }}) as items_count,
    cast(o.financial_status as {{ dbt.type_string() }}) as financial_status,
    cast(o.is_test as {{ dbt.type_boolean() }}) as is_test,
    cast(o.is_cancelled as {{ dbt.type_boolean() }}) as is_cancelled,
    cast(o.is_voided as {{ dbt.type_boolean() }}) as is_voided,
    cast(o.is_revenue_order as {{ dbt.type_boolean() }}) as is_revenue_order,
    cast(o.is_guest_checkout as {{ dbt.type_boolean() }}) as is_guest_checkout,
    cast(o.is_refunded as {{ dbt.type_boolean() }}) as is_refunded,
    cast(o.has_late_delivery as {{ dbt.type_boolean() }}) as has_late_delivery,
    cast(s.customer_order_number as {{ dbt.type_bigint() }}) as customer_order_number,
    cast(coalesce(s.customer_order_number = 1, false) as {{ dbt.type_boolean() }}) as is_first_order,
    cast(s.previous_order_at as {{ dbt.type_timestamp() }}) as previous_order_at,
    cast(
        cast({{ dbt.datediff('s.previous_order_at', 'o.ordered_at', 'second') }} as {{ type_double() }}) / 86400
        as {{ type_double() }}
    ) as days_since_previous_order,
    cast(f.customer_first_order_at as {{ dbt.type_timestamp() }}) as customer_first_order_at,
    cast({{ dbt.date_trunc('month', 'f.customer_first_order_at') }} as date) as customer_cohort_month
from orders as o
left join revenue_sequence as s on s.order_key = o.order_key
left join customer_first_orders as f on f.customer_key = o.customer_key
