-- Fulfillments (shipments), one row per fulfillment of the latest known version of each order
-- (from fulfillments), with promised and actual delivery times for late-delivery detection.

-- Incremental on DuckDB (macros/versions.sql): a run unnests only the orders whose chosen version is not
-- stored here yet; the post-hook drops the fulfillments of versions that are no longer chosen.

{{ config(
    materialized=large_table_materialization(),
    unique_key='order_id',
    incremental_strategy='delete+insert',
    on_schema_change='append_new_columns',
    post_hook=large_table_hooks([
        "{{ delete_stale_versions(ref('stg_shop__orders'), 'order_id') }}",
    ]),
) }}

with orders as (

    {%- if is_incremental() %}
    {{ versions_not_stored(ref('stg_shop__orders'), 'order_id') }}
    {%- else %}
    select * from {{ ref('stg_shop__orders') }}
    {%- endif %}

),

fulfillments as (

    select
        orders.order_id,
        orders.customer_id,
        orders.email,
        orders.is_test,
        orders.source_file,
        orders.source_line,
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
        fulfillment as source_fulfillment,
        -- the order version's raw row
        source_file,
        source_line
    from fulfillments

)

select
    *,
    coalesce(delivered_at > promised_delivery_at, false) as is_delivered_late
from renamed
