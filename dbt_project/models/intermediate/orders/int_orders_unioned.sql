-- Order facts, one row per order from every channel: shop orders (web, app, and pos-sourced shop orders)
-- and in-store POS receipts, with the person (customer_key) who placed them.
-- gross = merchandise before discounts; net_revenue = gross - discounts - refunds (shipping and tax are
-- not revenue). Test, cancelled and voided orders are kept, flagged, and never revenue.
-- An anonymous POS receipt (no email, no shop id) has no customer_key: it counts in store revenue but
-- belongs to nobody. Erased people are absent: their identifiers are not in int_identity_graph.

with graph as (

    select customer_key, identifier from {{ ref('int_identity_graph') }}

),

refunds as (

    select order_id, sum(amount) as refunds, max(refunded_at) as last_refunded_at, count(*) as refunds_count
    from {{ ref('stg_shop__order_refunds') }}
    group by order_id

),

fulfillments as (

    select
        order_id,
        max(case when is_delivered_late then 1 else 0 end) as has_late_delivery,
        max(promised_delivery_at) as promised_delivery_at,
        max(delivered_at) as delivered_at
    from {{ ref('stg_shop__order_fulfillments') }}
    group by order_id

),

lines as (

    select order_id, sum(quantity) as items_count, sum(line_amount) as lines_amount
    from {{ ref('stg_shop__order_lines') }}
    group by order_id

),

shop_orders as (

    select
        {{ dbt.concat(["'shop-'", "cast(o.order_id as " ~ dbt.type_string() ~ ")"]) }} as order_key,
        o.order_id as shop_order_id,
        cast(null as {{ dbt.type_string() }}) as pos_transaction_id,
        o.customer_id,
        o.email,
        case o.source_name when 'pos' then 'store' when 'app' then 'app' else 'web' end as channel,
        o.source_name,
        o.created_at as ordered_at,
        o.currency,
        coalesce(o.subtotal_price, l.lines_amount, 0) as gross_revenue,
        coalesce(o.total_discounts, 0) as discounts,
        coalesce(r.refunds, 0) as refunds,
        coalesce(o.total_shipping, 0) as shipping,
        coalesce(o.total_tax, 0) as tax,
        coalesce(o.total_price, 0) as total_price,
        coalesce(l.items_count, 0) as items_count,
        o.financial_status,
        o.landing_utm_source,
        o.is_test,
        o.is_cancelled,
        o.is_voided,
        o.is_guest_checkout,
        coalesce(f.has_late_delivery, 0) = 1 as has_late_delivery,
        f.promised_delivery_at,
        f.delivered_at,
        r.last_refunded_at,
        coalesce(r.refunds_count, 0) as refunds_count
    from {{ ref('stg_shop__orders') }} as o
    left join refunds as r on r.order_id = o.order_id
    left join fulfillments as f on f.order_id = o.order_id
    left join lines as l on l.order_id = o.order_id

),

pos_orders as (

    select
        pos_order_id as order_key,
        cast(null as {{ dbt.type_bigint() }}) as shop_order_id,
        max(transaction_id) as pos_transaction_id,
        max(customer_id) as customer_id,
        max(email) as email,
        'store' as channel,
        'pos' as source_name,
        min(occurred_at) as ordered_at,
        max(currency) as currency,
        sum(line_amount) as gross_revenue,
        cast(0 as {{ type_money() }}) as discounts,
        cast(0 as {{ type_money() }}) as refunds,
        cast(0 as {{ type_money() }}) as shipping,
        cast(0 as {{ type_money() }}) as tax,
        sum(line_amount) as total_price,
        sum(quantity) as items_count,
        'paid' as financial_status,
        cast(null as {{ dbt.type_string() }}) as landing_utm_source,
        false as is_test,
        false as is_cancelled,
        false as is_voided,
        max(customer_id) is null as is_guest_checkout,
        false as has_late_delivery,
        cast(null as {{ dbt.type_timestamp() }}) as promised_delivery_at,
        cast(null as {{ dbt.type_timestamp() }}) as delivered_at,
        cast(null as {{ dbt.type_timestamp() }}) as last_refunded_at,
        0 as refunds_count
    from {{ ref('stg_pos__transactions') }}
    group by pos_order_id

),

all_orders as (

    select * from shop_orders
    union all
    select * from pos_orders

)

select
    o.order_key,
    coalesce(by_shop_id.customer_key, by_email.customer_key) as customer_key,
    o.shop_order_id,
    o.pos_transaction_id,
    o.customer_id as shop_customer_id,
    o.email,
    o.channel,
    o.source_name,
    o.ordered_at,
    o.currency,
    cast(o.gross_revenue as {{ type_money() }}) as gross_revenue,
    cast(o.discounts as {{ type_money() }}) as discounts,
    cast(o.refunds as {{ type_money() }}) as refunds,
    cast(o.gross_revenue - o.discounts - o.refunds as {{ type_money() }}) as net_revenue,
    cast(o.shipping as {{ type_money() }}) as shipping,
    cast(o.tax as {{ type_money() }}) as tax,
    cast(o.total_price as {{ type_money() }}) as total_price,
    o.items_count,
    o.financial_status,
    o.landing_utm_source,
    o.is_test,
    o.is_cancelled,
    o.is_voided,
    not (o.is_test or o.is_cancelled or o.is_voided) as is_revenue_order,
    o.is_guest_checkout,
    o.has_late_delivery,
    o.promised_delivery_at,
    o.delivered_at,
    o.refunds > 0 as is_refunded,
    o.refunds_count,
    o.last_refunded_at
from all_orders as o
left join graph as by_shop_id
    on by_shop_id.identifier = {{ shop_node('o.customer_id') }}
left join graph as by_email
    on by_email.identifier = {{ email_node('o.email') }}
-- Orders of erased people: they had an identifier, but it is no longer in the graph.
where coalesce(by_shop_id.customer_key, by_email.customer_key) is not null
    or (o.customer_id is null and o.email is null)
