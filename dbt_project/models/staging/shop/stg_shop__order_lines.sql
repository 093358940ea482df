-- Order line items, one row per line of the latest known version of each order (from line_items).
-- Order-level attributes needed to use a line on its own (customer, time, currency, flags) ride along.

-- Incremental on DuckDB (macros/versions.sql): a run unnests only the orders whose chosen version is not
-- stored here yet; the post-hook drops the lines of versions that are no longer chosen.

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

lines as (

    select
        orders.order_id,
        orders.customer_id,
        orders.email,
        orders.created_at as ordered_at,
        orders.source_name,
        orders.currency,
        orders.is_test,
        orders.source_file,
        orders.source_line,
        orders.is_cancelled,
        orders.is_voided,
        line_items.line_item,
        line_items.line_position
    from orders
    {{ unnest_json_array('orders.line_items', 'line_item', 'line_position', 'line_items') }}

),

renamed as (

    select
        {{ dbt.concat(["cast(order_id as " ~ dbt.type_string() ~ ")", "':'",
                       "cast(line_position as " ~ dbt.type_string() ~ ")"]) }} as order_line_key,
        order_id,
        cast(line_position as {{ dbt.type_int() }}) as line_position,
        {{ dbt.safe_cast(json_extract_string('line_item', '$.id'), dbt.type_bigint()) }} as line_item_id,
        {{ clean_string(json_extract_string('line_item', '$.product_id')) }} as product_id,
        {{ clean_string(json_extract_string('line_item', '$.sku')) }} as sku,
        {{ clean_string(json_extract_string('line_item', '$.title')) }} as title,
        {{ clean_string(json_extract_string('line_item', '$.category')) }} as category,
        {{ dbt.safe_cast(json_extract_string('line_item', '$.quantity'), dbt.type_bigint()) }} as quantity,
        {{ to_money(json_extract_string('line_item', '$.price')) }} as price,
        cast(
            {{ dbt.safe_cast(json_extract_string('line_item', '$.quantity'), dbt.type_bigint()) }}
            * {{ to_money(json_extract_string('line_item', '$.price')) }}
            as {{ type_money() }}
        ) as line_amount,
        customer_id,
        email,
        ordered_at,
        source_name,
        currency,
        is_test,
        is_cancelled,
        is_voided,
        line_item as source_line_item,
        -- the order version's raw row
        source_file,
        source_line
    from lines

)

select * from renamed
