-- Shop orders, one row per order: the latest version known as of the as-of date (upsert; refunds and
-- status changes arrive as new versions). Test, cancelled and voided orders are kept and flagged.
-- The nested line items, refunds and fulfillments stay as JSON here and are unnested by
-- stg_shop__order_lines, stg_shop__order_refunds and stg_shop__order_fulfillments.

-- Ranked on narrow rows, the chosen ones read whole (macros/dedupe.sql).
--
-- Incremental on DuckDB (macros/materializations.sql): each run still ranks every known version (narrow
-- rows: seconds at the large tier), but reads and writes only the orders whose chosen version is not the
-- stored one (new orders, new versions, and, when a past date is rebuilt, versions no longer known whose
-- order has an earlier one). The post-hook removes the orders with no version known as of the as-of date.
{%- set not_stored_in = chosen_row_staging_table('order_id', known_at='updated_at') %}

with latest as (

    {{ latest_version_by_row(
        known_raw(source('shop', 'orders'), event_time='updated_at'), 'id', not_stored_in=not_stored_in
    ) }}

),

renamed as (

    select
        cast(id as {{ dbt.type_bigint() }}) as order_id,
        cast(order_number as {{ dbt.type_bigint() }}) as order_number,
        cast(customer_id as {{ dbt.type_bigint() }}) as customer_id,
        {{ normalize_email('email') }} as email,
        {{ clean_code('financial_status') }} as financial_status,
        {{ clean_code('fulfillment_status') }} as fulfillment_status,
        {{ clean_code('source_name') }} as source_name,
        upper({{ clean_string('currency') }}) as currency,
        cast(subtotal_price as {{ type_money() }}) as subtotal_price,
        cast(total_discounts as {{ type_money() }}) as total_discounts,
        cast(total_shipping as {{ type_money() }}) as total_shipping,
        cast(total_tax as {{ type_money() }}) as total_tax,
        cast(total_price as {{ type_money() }}) as total_price,
        discount_codes,
        {{ clean_string('landing_site') }} as landing_site,
        {{ clean_code("regexp_extract(landing_site, '[?&]utm_source=([^&#]*)', 1)") }} as landing_utm_source,
        {{ clean_code("regexp_extract(landing_site, '[?&]utm_medium=([^&#]*)', 1)") }} as landing_utm_medium,
        {{ clean_string("regexp_extract(landing_site, '[?&]utm_campaign=([^&#]*)', 1)") }} as landing_utm_campaign,
        coalesce(test, false) as is_test,
        cancelled_at is not null as is_cancelled,
        coalesce({{ clean_code('financial_status') }} = 'voided', false) as is_voided,
        customer_id is null as is_guest_checkout,
        line_items,
        refunds,
        fulfillments,
        {{ to_utc_timestamp('created_at') }} as created_at,
        {{ to_utc_timestamp('updated_at') }} as updated_at,
        {{ to_utc_timestamp('cancelled_at') }} as cancelled_at,
        {{ lineage_columns() }}
    from latest

)

select * from renamed
