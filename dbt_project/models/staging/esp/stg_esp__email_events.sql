-- Email and SMS engagement and consent events from the email tool (Klaviyo-style metrics), one row per
-- event id (append; an event delivered twice is kept once, its first delivery).

with source as (

    select * from {{ source('esp', 'email_events') }}

),

known as (

    select * from source
    where {{ known_as_of(to_utc_timestamp(adapter.quote('timestamp'))) }}

),

deduplicated as (

    {{ first_delivery('known', 'id') }}

),

renamed as (

    select
        id as email_event_id,
        {{ clean_string('metric') }} as metric,
        case when metric like '%SMS%' then 'sms' else 'email' end as channel,
        {{ normalize_email('email') }} as email,
        {{ clean_string('phone_number') }} as phone_number,
        {{ clean_string('campaign_id') }} as campaign_id,
        {{ clean_string('flow_id') }} as flow_id,
        {{ clean_string('message_id') }} as message_id,
        {{ clean_string(json_extract_string('properties', '$.subject')) }} as subject,
        {{ clean_string(json_extract_string('properties', '$.url')) }} as url,
        {{ clean_code(json_extract_string('properties', '$.bounce_type')) }} as bounce_type,
        properties,
        {{ to_utc_timestamp(adapter.quote('timestamp')) }} as event_at,
        {{ lineage_columns() }}
    from deduplicated

)

select * from renamed
