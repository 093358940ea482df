-- Loyalty tier changes, one row per change (append; a change delivered twice is kept once).

with source as (

    select * from {{ source('loyalty', 'tier_changes') }}

),

known as (

    select * from source
    where {{ known_as_of(to_utc_timestamp('changed_at')) }}

),

deduplicated as (

    {{ first_delivery('known', 'id') }}

),

renamed as (

    select
        id as tier_change_id,
        cast(customer_id as {{ dbt.type_bigint() }}) as customer_id,
        {{ clean_code('previous_tier') }} as previous_tier,
        {{ clean_code('tier') }} as tier,
        {{ clean_string('reason') }} as reason,
        {{ to_utc_timestamp('changed_at') }} as changed_at,
        {{ lineage_columns() }}
    from deduplicated

)

select * from renamed
