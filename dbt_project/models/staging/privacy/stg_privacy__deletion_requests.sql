-- Right-to-erasure requests, one row per request (append; a request delivered twice is kept once).
--
-- Deliberately NOT limited to the as-of date: an erasure is honoured by every build, including a
-- rebuild of the past, so a past as-of date never brings an erased person back into a mart, a segment
-- or a destination. `is_requested_after_as_of` tells the requests a past as-of date would not yet know.

with source as (

    select * from {{ source('privacy', 'deletion_requests') }}

),

deduplicated as (

    {{ first_delivery('source', 'id') }}

),

renamed as (

    select
        id as deletion_request_id,
        {{ normalize_email('email') }} as email,
        cast(customer_id as {{ dbt.type_bigint() }}) as customer_id,
        {{ to_utc_timestamp('requested_at') }} as requested_at,
        coalesce(not {{ known_as_of(to_utc_timestamp('requested_at')) }}, false) as is_requested_after_as_of,
        {{ lineage_columns() }}
    from deduplicated

)

select * from renamed
