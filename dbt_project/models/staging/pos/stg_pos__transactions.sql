-- In-store (POS) purchases, one row per transaction line (append; a line delivered twice is kept once,
-- its first delivery). `pos_order_id` identifies the whole transaction as an order.

-- Ranked on narrow rows, the chosen ones read whole (macros/dedupe.sql); incremental on DuckDB, reading and
-- writing only the lines whose chosen row changed (macros/materializations.sql).
{%- set not_stored_in = chosen_row_staging_table('pos_line_key', known_at='occurred_at') %}

with deduplicated as (

    {{ first_delivery_by_row(
        known_raw(source('pos', 'transactions'), event_time='occurred_at'), 'transaction_id, line_number',
        not_stored_in=not_stored_in,
    ) }}

),

renamed as (

    select
        {{ dbt.concat(["transaction_id", "':'", "cast(line_number as " ~ dbt.type_string() ~ ")"]) }}
            as pos_line_key,
        {{ dbt.concat(["'pos-'", "transaction_id"]) }} as pos_order_id,
        transaction_id,
        cast(line_number as {{ dbt.type_int() }}) as line_number,
        {{ clean_string('store_id') }} as store_id,
        {{ normalize_email('customer_email') }} as email,
        cast(shop_customer_id as {{ dbt.type_bigint() }}) as customer_id,
        {{ clean_string('product_id') }} as product_id,
        {{ clean_string('sku') }} as sku,
        {{ clean_string('category') }} as category,
        cast(quantity as {{ dbt.type_bigint() }}) as quantity,
        cast(unit_price as {{ type_money() }}) as unit_price,
        cast(quantity * unit_price as {{ type_money() }}) as line_amount,
        upper({{ clean_string('currency') }}) as currency,
        {{ to_utc_timestamp('occurred_at') }} as occurred_at,
        {{ lineage_columns() }}
    from deduplicated

)

select * from renamed
