-- One row per order line from every channel (shop line items and POS receipt lines), with the order's
-- customer_key and whether the order counts as revenue. Input of favourite products and categories and of
-- cross-sell recommendations.

with shop_lines as (

    select
        {{ dbt.concat(["'shop-'", "cast(order_id as " ~ dbt.type_string() ~ ")"]) }} as order_key,
        order_line_key as line_key,
        product_id,
        sku,
        category,
        quantity,
        line_amount
    from {{ ref('stg_shop__order_lines') }}

),

pos_lines as (

    select
        pos_order_id as order_key,
        {{ dbt.concat(["'pos-'", "pos_line_key"]) }} as line_key,
        product_id,
        sku,
        category,
        quantity,
        line_amount
    from {{ ref('stg_pos__transactions') }}

),

lines as (

    select * from shop_lines
    union all
    select * from pos_lines

)

select
    {{ dbt.concat(["lines.order_key", "'/'", "lines.line_key"]) }} as order_line_key,
    lines.order_key,
    orders.customer_key,
    orders.ordered_at,
    orders.channel,
    orders.is_revenue_order,
    lines.product_id,
    lines.sku,
    lines.category,
    lines.quantity,
    lines.line_amount
from lines
inner join {{ ref('int_orders_unioned') }} as orders on orders.order_key = lines.order_key
