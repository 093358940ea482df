-- Product subscriptions, one row per subscription: the latest version known as of the as-of date (upsert).

-- Ranked on narrow rows, the chosen ones read whole (macros/dedupe.sql); incremental on DuckDB, reading and
-- writing only the keys whose chosen row changed (macros/materializations.sql).
{%- set not_stored_in = chosen_row_staging_table('subscription_id', known_at='updated_at') %}

with latest as (

    {{ latest_version_by_row(
        known_raw(source('subscriptions', 'subscriptions'), event_time='updated_at'), 'id', not_stored_in=not_stored_in
    ) }}

),

renamed as (

    select
        id as subscription_id,
        cast(customer_id as {{ dbt.type_bigint() }}) as customer_id,
        {{ normalize_email('email') }} as email,
        {{ clean_string('product_id') }} as product_id,
        {{ clean_string('sku') }} as sku,
        {{ clean_string('category') }} as category,
        {{ clean_code('status') }} as status,
        coalesce({{ clean_code('status') }} = 'active' and cancelled_at is null, false) as is_active,
        cast(interval_days as {{ dbt.type_int() }}) as interval_days,
        cast(price as {{ type_money() }}) as price,
        {{ to_utc_timestamp('created_at') }} as created_at,
        {{ to_utc_timestamp('updated_at') }} as updated_at,
        {{ to_utc_timestamp('cancelled_at') }} as cancelled_at,
        {{ to_utc_timestamp('next_charge_at') }} as next_charge_at,
        {{ lineage_columns() }}
    from latest

)

select * from renamed
