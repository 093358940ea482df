-- Web tracking events (Segment spec: track, identify, page), one row per messageId (append; a message
-- delivered twice is kept once, its first delivery). Context, campaign, page, product and trait fields
-- are pulled out of the JSON; the JSON objects stay for anything else.

with source as (

    select * from {{ source('web', 'events') }}

),

known as (

    select * from source
    where {{ known_as_of(to_utc_timestamp(adapter.quote('timestamp'))) }}

),

deduplicated as (

    {{ first_delivery('known', 'messageId') }}

),

renamed as (

    select
        messageId as message_id,
        {{ clean_code(adapter.quote('type')) }} as event_type,
        {{ clean_string('event') }} as event_name,
        {{ clean_string(adapter.quote('name')) }} as page_name,
        {{ clean_string('anonymousId') }} as anonymous_id,
        {{ clean_string('userId') }} as user_id,
        {{ dbt.safe_cast(clean_string('userId'), dbt.type_bigint()) }} as customer_id,
        {{ normalize_email(json_extract_string('traits', '$.email')) }} as email,
        {{ clean_code(json_extract_string('context', '$.channel')) }} as channel,
        coalesce(
            {{ clean_string(json_extract_string('context', '$.page.url')) }},
            {{ clean_string(json_extract_string('properties', '$.url')) }}
        ) as page_url,
        coalesce(
            {{ clean_string(json_extract_string('properties', '$.path')) }},
            {{ clean_string(json_extract_string('context', '$.page.path')) }}
        ) as page_path,
        {{ clean_string(json_extract_string('context', '$.page.referrer')) }} as page_referrer,
        {{ clean_code(json_extract_string('context', '$.campaign.source')) }} as utm_source,
        {{ clean_code(json_extract_string('context', '$.campaign.medium')) }} as utm_medium,
        {{ clean_string(json_extract_string('context', '$.campaign.name')) }} as utm_campaign,
        {{ clean_string(json_extract_string('properties', '$.product_id')) }} as product_id,
        {{ clean_string(json_extract_string('properties', '$.category')) }} as product_category,
        {{ to_money(json_extract_string('properties', '$.price')) }} as product_price,
        properties,
        traits,
        context,
        {{ to_utc_timestamp(adapter.quote('timestamp')) }} as event_at,
        {{ to_utc_timestamp('sentAt') }} as sent_at,
        {{ to_utc_timestamp('receivedAt') }} as received_at,
        {{ lineage_columns() }}
    from deduplicated

)

select * from renamed
