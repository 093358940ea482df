-- The people the email tool sent to or heard from: one row per distinct normalised email of the email and
-- SMS events known as of the as-of date. Identity resolution reads this narrow view, not
-- stg_esp__email_events: a set of emails needs no deduplication by event id, so only two columns of the
-- raw files are scanned. The email is normalised exactly as in stg_esp__email_events.

with source as (

    select * from {{ source('esp', 'email_events') }}

),

recipients as (

    select {{ normalize_email('email') }} as email
    from source
    where {{ known_as_of(to_utc_timestamp(adapter.quote('timestamp'))) }}

)

select distinct email
from recipients
where email is not null
