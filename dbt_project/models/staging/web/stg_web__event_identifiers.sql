-- The identifiers web events carry together: one row per distinct (anonymous id, shop customer id, email)
-- of the events known as of the as-of date that name a customer id or an email (identify calls, logged-in
-- visits). Identity resolution reads this narrow view, not stg_web__events: it needs no deduplication by
-- messageId (a re-delivered message names the same people, and the pairs are a set), so only these few
-- columns of the raw files are scanned, and anonymous-only traffic, most of the events, is left out early.
-- The columns are derived as in stg_web__events (web_event_identifiers in macros/staging_events.sql).

with source as (

    select * from {{ source('web', 'events') }}

),

identifiers as (

    select
        {%- set identifiers = web_event_identifiers() %}
        {{ identifiers['anonymous_id'] }} as anonymous_id,
        {{ identifiers['customer_id'] }} as customer_id,
        {{ identifiers['email'] }} as email
    from source
    where {{ known_as_of(to_utc_timestamp(adapter.quote('timestamp'))) }}

)

select distinct anonymous_id, customer_id, email
from identifiers
where customer_id is not null or email is not null
