-- Web events rolled up per session owner, session, UTC day and identifier set (anonymous id, customer id,
-- email): what the person-level models need of the whole web history (first and last visits, the first
-- session and its first UTM source, checkouts, offline events attended, product views per day), in about a
-- third of int_web_events_enriched's rows. int_customer_engagement and int_lifecycle_events read this instead
-- of every event. Day grain keeps the engagement windows exact: they start at midnight UTC.
--
-- Incremental on DuckDB (rebuilt in full on Spark, like the events: macros/materializations.sql), by whole
-- session owners (delete+insert on session_owner). A run recomputes every owner with an event in the window
-- int_web_events_enriched took its new events from (exported, or happening, within `engagement_lookback_days`
-- of the newest stored here, or from `reload_from_date`), every owner with a row no longer known as of the
-- as-of date, and every owner with a row exported from that model's staging bound on (a stored copy of a
-- message it replaces can belong to another owner). That model rewrites only the events of such owners (it
-- re-sessionises the owners of its new events, of replaced copies and of events no longer known), so the
-- other owners' rows are unchanged. The
-- post-hooks delete rows no longer known (a past date rebuilt: the recomputed owners' known rows are
-- reinserted) and rows of erased people, as int_web_events_enriched's do: the rows' three identifiers are the
-- ones its erasure hook tests, so the same events go.

-- depends_on: {{ ref('int_erased_identifiers') }} (read by the erasure post-hook)

{{ config(
    materialized=large_table_materialization(),
    tags=['daily_partitioned'],
    unique_key='session_owner',
    incremental_strategy='delete+insert',
    on_schema_change='fail',
    post_hook=large_table_hooks([
        "delete from {{ this }} where not {{ known_as_of('last_event_at', 'last_export_date') }}",
        "delete from {{ this }} where {{ is_erased_web_event() }}",
    ]),
) }}

{%- set lookback_days = var('engagement_lookback_days', 3) %}
{%- set reload_from = var('reload_from_date', none) %}

with

{% if is_incremental() %}

stored_max as (

    select
        coalesce(max(last_export_date), cast('1900-01-01' as date)) as max_export_date,
        coalesce(max(last_event_at), cast('1900-01-01 00:00:00' as {{ dbt.type_timestamp() }})) as max_event_at
    from {{ this }}
    where {{ known_as_of('last_event_at', 'last_export_date') }}

),

-- The same window int_web_events_enriched selects its new events by, from this table's newest rows: those
-- are at most as new as the events table's before its run, so the window here holds all its new events.
touched_owners as (

    select w.session_owner
    from {{ ref('int_web_events_enriched') }} as w
    cross join stored_max as m
    where w.export_date >= {{ dbt.dateadd('day', -lookback_days, 'm.max_export_date') }}
        or w.event_at >= {{ dbt.dateadd('day', -lookback_days, 'm.max_event_at') }}
        {%- if reload_from %}
        or w.export_date >= cast('{{ reload_from }}' as date)
        {%- endif %}
    union
    -- owners that may have lost an event: rows no longer known, and rows holding a copy that the events
    -- table can have replaced by a copy of another owner (it replaces only copies exported from its staging
    -- bound on: macros/staging_events.sql, event_reload_from)
    select t.session_owner
    from {{ this }} as t
    cross join stored_max as m
    where not {{ known_as_of('t.last_event_at', 't.last_export_date') }}
        or t.last_export_date >= {{ dbt.dateadd('day', -lookback_days, 'm.max_export_date') }}
        or t.last_export_date >= cast({{ dbt.dateadd('day', -(lookback_days + 2), 'm.max_event_at') }} as date)
        {%- if reload_from %}
        or t.last_export_date >= cast('{{ reload_from }}' as date)
        {%- endif %}

),

events as (

    select *
    from {{ ref('int_web_events_enriched') }}
    where session_owner in (select session_owner from touched_owners)

)

{% else %}

events as (

    select * from {{ ref('int_web_events_enriched') }}

)

{% endif %}

select
    session_owner,
    session_id,
    cast(event_at as date) as activity_date,
    anonymous_id,
    customer_id,
    email,
    count(*) as events,
    min(event_at) as first_event_at,
    max(event_at) as last_event_at,
    max(export_date) as last_export_date,
    min(case when is_web_visit then event_at end) as first_visit_at,
    {{ first_by('message_id', ['event_at', 'message_id'], where='is_web_visit') }} as first_visit_message_id,
    max(case when is_web_visit then event_at end) as last_visit_at,
    count(case when event_name = 'Product Viewed' then 1 end) as product_views,
    count(case when event_type = 'track' and event_name = 'Event Attended' then 1 end) as events_attended,
    max(case when event_name = 'Checkout Started' then event_at end) as last_checkout_started_at,
    max(case when event_name = 'Order Completed' then event_at end) as last_order_completed_at,
    min(case when utm_source is not null then event_at end) as first_utm_at,
    {{ first_by('message_id', ['event_at', 'message_id'], where='utm_source is not null') }} as first_utm_message_id,
    {{ first_by('utm_source', ['event_at', 'message_id'], where='utm_source is not null') }} as first_utm_source
from events
group by session_owner, session_id, cast(event_at as date), anonymous_id, customer_id, email
