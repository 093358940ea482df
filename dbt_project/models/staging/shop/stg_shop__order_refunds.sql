-- Refunds, one row per refund of the latest known version of each order (from refunds).
-- A refund dated after the as-of date is ignored, like every other record.

with orders as (

    select * from {{ ref('stg_shop__orders') }}

),

refunds as (

    select
        orders.order_id,
        orders.customer_id,
        orders.email,
        orders.currency,
        orders.is_test,
        refund_items.refund,
        refund_items.refund_position
    from orders
    {{ unnest_json_array('orders.refunds', 'refund', 'refund_position', 'refund_items') }}

),

renamed as (

    select
        {{ dbt.concat(["cast(order_id as " ~ dbt.type_string() ~ ")", "':'",
                       "cast(refund_position as " ~ dbt.type_string() ~ ")"]) }} as order_refund_key,
        order_id,
        cast(refund_position as {{ dbt.type_int() }}) as refund_position,
        {{ dbt.safe_cast(json_extract_string('refund', '$.id'), dbt.type_bigint()) }} as refund_id,
        {{ parse_utc_timestamp(json_extract_string('refund', '$.created_at')) }} as refunded_at,
        {{ to_money(json_extract_string('refund', '$.amount')) }} as amount,
        {{ clean_string(json_extract_string('refund', '$.reason')) }} as reason,
        customer_id,
        email,
        currency,
        is_test,
        refund as source_refund
    from refunds

)

select * from renamed
where refunded_at is null or refunded_at < {{ as_of_end() }}
