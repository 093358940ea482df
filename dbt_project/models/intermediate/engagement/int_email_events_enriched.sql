-- Email and SMS events from the email tool, with the identifiers that attach them to a person later
-- (email, phone_number), a normalised event kind and the UTC hour (for best_send_hour). Incremental on
-- DuckDB; rebuilt in full on Spark (macros/materializations.sql).
--
-- No customer_key here: identities merge later, so people are attached downstream through
-- int_identity_graph (email:<email>) in non-incremental models.
--
-- Incremental run: every staging event exported (or happening) within `engagement_lookback_days` of the
-- newest one already stored is re-selected and replaced by its id (late files, late parts of a day).
-- Each row depends on its own event only, so the result equals a full refresh. The post-hook removes
-- events no longer known as of the as-of date (a past date is being rebuilt).
--
-- The incremental run stages only the raw partitions from `event_reload_from` on (macros/
-- staging_events.sql), not the staging view, which deduplicates the whole history first: a re-delivery of
-- an event stored from an earlier date is dropped there, as the view keeps the first delivery.

-- depends_on: {{ ref('stg_esp__recipients') }} (the erased values among its emails, on DuckDB)
{{ config(
    materialized=large_table_materialization(),
    tags=['daily_partitioned'],
    unique_key='email_event_id',
    incremental_strategy='delete+insert',
    on_schema_change='append_new_columns',
    post_hook=large_table_hooks([
        "delete from {{ this }} where not {{ known_as_of('event_at', 'export_date') }}",
        "delete from {{ this }} where {{ is_erased_email_in_history(this) }}",
    ]),
) }}

{%- set lookback_days = var('engagement_lookback_days', 3) %}
{#- Set by the Dagster partitioned run: the first export date of the partition range being (re)loaded. -#}
{%- set reload_from = var('reload_from_date', none) %}
{%- set stage_from = event_reload_from(this, lookback_days, reload_from) if is_incremental() else none %}

with staging as (

    {%- if stage_from %}
    {{ not_stored_before(stage_esp_email_events(since=stage_from), this, 'email_event_id', stage_from) }}
    {%- else %}
    select * from {{ ref('stg_esp__email_events') }}
    {%- endif %}

),

staged as (

    select
        email_event_id,
        metric,
        channel,
        case metric
            when 'Received Email' then 'email_received'
            when 'Opened Email' then 'email_opened'
            when 'Clicked Email' then 'email_clicked'
            when 'Bounced Email' then 'email_bounced'
            when 'Unsubscribed' then 'email_unsubscribed'
            when 'Marked Email as Spam' then 'email_spam_complaint'
            when 'Subscribed to List' then 'email_subscribed'
            when 'Received SMS' then 'sms_received'
            when 'Clicked SMS' then 'sms_clicked'
            when 'Unsubscribed from SMS' then 'sms_unsubscribed'
            when 'Subscribed to SMS' then 'sms_subscribed'
            else 'other'
        end as event_kind,
        email,
        phone_number,
        campaign_id,
        flow_id,
        message_id,
        -- one message sent to one person: counts "emails received / opened / clicked" without double counting
        coalesce(message_id, email_event_id) as message_key,
        subject,
        url,
        bounce_type,
        coalesce(metric = 'Bounced Email' and bounce_type = 'hard', false) as is_hard_bounce,
        event_at,
        cast(extract(hour from event_at) as {{ dbt.type_int() }}) as event_hour,
        export_date
    from staging
    -- Erased people are never stored (only their keyed hashes are known); the second post-hook removes
    -- rows stored before their erasure request arrived. A day's rows are tested one by one, a whole history
    -- through the erased values among the known emails (macros/identity.sql).
    where not {{ is_erased_node(email_node('email')) if is_incremental() else is_erased_email_in_history() }}

)

select s.*
from staged as s

{% if is_incremental() %}

cross join (
    select
        coalesce(max(export_date), cast('1900-01-01' as date)) as max_export_date,
        coalesce(max(event_at), cast('1900-01-01 00:00:00' as {{ dbt.type_timestamp() }})) as max_event_at
    from {{ this }}
    where {{ known_as_of('event_at', 'export_date') }}
) as m
where s.export_date >= {{ dbt.dateadd('day', -lookback_days, 'm.max_export_date') }}
    or s.event_at >= {{ dbt.dateadd('day', -lookback_days, 'm.max_event_at') }}
    {%- if reload_from %}
        -- a backfill of older export dates (a late file): reload those days too
        or s.export_date >= cast('{{ reload_from }}' as date)
    {%- endif %}

{% endif %}
