-- The identifiers web events carry together: one row per distinct (anonymous id, shop customer id, email) and
-- export date, with the earliest event time of that day's file(s), for the events that name a customer id or an
-- email (identify calls, logged-in visits). Identity resolution reads this narrow table, not stg_web__events:
-- it needs no deduplication by messageId (a re-delivered message names the same people, and the pairs are a
-- set), so only these few columns of the raw files are scanned, and anonymous-only traffic, most of the
-- events, is left out early. The columns are derived as in stg_web__events (web_event_identifiers in
-- macros/staging_events.sql).
--
-- Readers take the rows known as of the as-of date: known_as_of('first_seen_at', 'export_date') (a row's
-- identifiers were seen by then when its earliest event was).
--
-- Incremental on DuckDB (a table rebuilt in full elsewhere, like the other large tables): a run reads only the
-- raw partitions from `engagement_lookback_days` before the newest stored export date (or from
-- `reload_from_date`, a backfill of older days) to the as-of date, and replaces those export dates' rows
-- (delete+insert by export_date). The post-hook drops export dates after the as-of date (a past date rebuilt).
-- The whole history at the large tier took 9 to 10 s a day; a day takes well under one.

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

    select * from {{ known_raw(source('web', 'events'), since, event_time=none) }} as known

),

identifiers as (

    select
        {%- set identifiers = web_event_identifiers() %}
        {{ identifiers['anonymous_id'] }} as anonymous_id,
        {{ identifiers['customer_id'] }} as customer_id,
        {{ identifiers['email'] }} as email,
        dt as export_date,
        {{ to_utc_timestamp(adapter.quote('timestamp')) }} as event_at
    from source

)

select anonymous_id, customer_id, email, export_date, min(event_at) as first_seen_at
from identifiers
where customer_id is not null or email is not null
group by anonymous_id, customer_id, email, export_date
