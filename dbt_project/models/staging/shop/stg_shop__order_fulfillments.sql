-- Fulfillments (shipments), one row per fulfillment of the latest known version of each order
-- (from fulfillments), with promised and actual delivery times for late-delivery detection.

with orders as (

    select * from {{ ref('stg_shop__orders') }}

),

fulfillments as (

    select
        orders.order_id,
        orders.customer_id,
        orders.email,
        orders.is_test,
        fulfillment_items.fulfillment,
        fulfillment_items.fulfillment_position
    from orders
    {{ unnest_json_array('orders.fulfillments', 'fulfillment', 'fulfillment_position', 'fulfillment_items') }}

),

renamed as (

    select
        {{ dbt.concat(["cast(order_id as " ~ dbt.type_string() ~ ")", "':'",
                       "cast(fulfillment_position as " ~ dbt.type_string() ~ ")"]) }} as order_fulfillment_key,
        order_id,
        cast(fulfillment_position as {{ dbt.type_int() }}) as fulfillment_position,
        {{ dbt.safe_cast(json_extract_string('fulfillment', '$.id'), dbt.type_bigint()) }} as fulfillment_id,
        {{ clean_string(json_extract_string('fulfillment', '$.carrier')) }} as carrier,
        {{ clean_code(json_extract_string('fulfillment', '$.status')) }} as status,
        {{ parse_utc_timestamp(json_extract_string('fulfillment', '$.shipped_at')) }} as shipped_at,
        {{ parse_utc_timestamp(json_extract_string('fulfillment', '$.promised_delivery_at')) }} as promised_delivery_at,
        {{ parse_utc_timestamp(json_extract_string('fulfillment', '$.delivered_at')) }} as delivered_at,
        customer_id,
        email,
        is_test,
        fulfillment as source_fulfillment
    from fulfillments

)

select
    *,
    coalesce(delivered_at > promised_delivery_at, false) as is_delivered_late
from renamed
