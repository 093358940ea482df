-- Referrals, one row per referral: the latest version known as of the as-of date (upsert).

with source as (

    select * from {{ source('referrals', 'referrals') }}

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
        id as referral_id,
        cast(referrer_customer_id as {{ dbt.type_bigint() }}) as referrer_customer_id,
        {{ normalize_email('referee_email') }} as referee_email,
        {{ clean_code('status') }} as status,
        coalesce({{ clean_code('status') }} = 'converted' or converted_at is not null, false) as is_converted,
        cast(converted_order_id as {{ dbt.type_bigint() }}) as converted_order_id,
        {{ to_utc_timestamp('created_at') }} as created_at,
        {{ to_utc_timestamp('updated_at') }} as updated_at,
        {{ to_utc_timestamp('converted_at') }} as converted_at,
        {{ lineage_columns() }}
    from latest

)

select * from renamed
