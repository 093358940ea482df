-- The people the email tool sent to or heard from: one row per distinct normalised email of the email and
-- SMS events and export date, with the earliest event time of that export date. Identity resolution reads
-- this narrow table, not stg_esp__email_events: a set of emails needs no deduplication by event id, so only
-- three columns of the raw files are scanned. The email is normalised exactly as in stg_esp__email_events.
--
-- Readers take the rows known as of the as-of date: known_as_of('first_seen_at', 'export_date').
-- Kept by export date like stg_web__event_identifiers (see there): a run re-reads only the raw partitions
-- from `engagement_lookback_days` before the newest stored export date, or from `reload_from_date`.

-- Built in the runs' unpartitioned dbt step (no `daily_partitioned` tag): Dagster gives every dbt step of a
-- backfill the same reload_from_date.
{{ config(
    materialized=large_table_materialization(),
    unique_key='export_date',
    incremental_strategy='delete+insert',
    on_schema_change='append_new_columns',
    post_hook=large_table_hooks([
        "delete from {{ this }} where export_date is null or export_date > {{ as_of_date() }}",
    ]),
) }}

{%- set since = export_dates_from(var('engagement_lookback_days', 3), var('reload_from_date', none))
    if is_incremental() else none %}

with source as (

    select * from {{ known_raw(source('esp', 'email_events'), since, event_time=none) }} as known

),

recipients as (

    select
        {{ normalize_email('email') }} as email,
        dt as export_date,
        {{ to_utc_timestamp(adapter.quote('timestamp')) }} as event_at
    from source

)

select email, export_date, min(event_at) as first_seen_at
from recipients
where email is not null
group by email, export_date
