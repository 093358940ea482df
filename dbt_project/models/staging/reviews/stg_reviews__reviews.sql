-- Product reviews, one row per review: the latest version known as of the as-of date (upsert).

with source as (

    select * from {{ source('reviews', 'reviews') }}

),

known as (

    select * from source
    where {{ known_as_of(to_utc_timestamp('updated_at')) }}

),

latest as (

    {{ latest_version('known', 'id') }}

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
