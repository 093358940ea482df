-- Product reviews, one row per review: the latest version known as of the as-of date (upsert).

-- Ranked on narrow rows, the chosen ones read whole (macros/dedupe.sql); incremental on DuckDB, reading and
-- writing only the keys whose chosen row changed (macros/materializations.sql).
{%- set not_stored_in = chosen_row_staging_table('review_id', known_at='updated_at') %}

with latest as (

    {{ latest_version_by_row(
        known_raw(source('reviews', 'reviews'), event_time='updated_at'), 'id', not_stored_in=not_stored_in
    ) }}

),

renamed as (

    select
        id as review_id,
        {{ clean_string('product_id') }} as product_id,
        cast(customer_id as {{ dbt.type_bigint() }}) as customer_id,
        {{ normalize_email('customer_email') }} as email,
        cast(rating as {{ dbt.type_int() }}) as rating,
        {{ clean_string('title') }} as title,
        body,
        verified_buyer as is_verified_buyer,
        {{ clean_code('status') }} as status,
        {{ to_utc_timestamp('created_at') }} as created_at,
        {{ to_utc_timestamp('updated_at') }} as updated_at,
        {{ lineage_columns() }}
    from latest

)

select * from renamed
