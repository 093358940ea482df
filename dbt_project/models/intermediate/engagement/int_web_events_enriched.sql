-- Web tracking events (Segment track / identify / page) with the identifiers that attach them to a person
-- later (anonymous_id, user_id / customer_id, email) and a web session id. Incremental on DuckDB (the large table);
-- rebuilt in full on Spark, whose Parquet tables cannot delete rows (macros/materializations.sql).
--
-- No customer_key here: identities merge later (an anonymous visitor identifies tomorrow), so people are
-- attached downstream, through int_identity_graph, in non-incremental models.
--
-- Sessions: the events of one "session owner" (the browser's anonymous id, else the user id, else the
-- event alone) ordered by (event_at, message_id); an event more than `web_session_timeout_minutes` after
-- the previous one starts a new session (a gap of exactly the timeout stays in the session). The session
-- id is a hash of the owner and the message id of the session's first event: it depends only on the
-- owner's events, never on when they were loaded. Offline events (`Event Attended`, context.channel
-- offline) are not visits: no session.
--
-- Incremental run: the new window is every staging event exported (or happening) within
-- `engagement_lookback_days` of the newest one already stored (late files, late parts of a day). Every
-- session owner touched by the window is re-sessionised from the first stored session the new events can
-- reach (see `reopened`), so a late event that bridges, splits or precedes stored sessions gives exactly
-- the ids a full refresh gives. Owners with stored events that are no longer known as of the as-of date
-- (a past date is being rebuilt) are re-sessionised from those events on, and the post-hook removes them.
--
-- The incremental run stages only the raw partitions from `event_reload_from` on (macros/
-- staging_events.sql), not the staging view, which deduplicates the whole history first: a re-delivery of
-- a message stored from an earlier date is dropped there, as the view keeps the first delivery.
--
-- Full build (and every Spark run): the first delivery of each message and its session are worked out on
-- narrow rows (identifiers, time, channel, and the raw row's file and line), and the chosen raw rows are
-- then read whole once, joined by (file, line). Staging them through stg_web__events for both the payload
-- and the sessions deduplicated the whole history twice (at the large tier, alone: 512 s now, 795 s then).

-- depends_on: {{ ref('stg_web__events') }} (read by an incremental run that finds nothing stored to start from)
-- depends_on: {{ ref('stg_web__event_identifiers') }} (the erased values among its identifiers, on DuckDB)

{{ config(
    materialized=large_table_materialization(),
    tags=['daily_partitioned'],
    unique_key='message_id',
    incremental_strategy='delete+insert',
    on_schema_change='append_new_columns',
    post_hook=large_table_hooks([
        "delete from {{ this }} where not {{ known_as_of('event_at', 'export_date') }}",
        "delete from {{ this }} where {{ is_erased_web_event_in_history(this) }}",
    ]),
) }}

{%- set lookback_days = var('engagement_lookback_days', 3) %}
{#- Set by the Dagster partitioned run: the first export date of the partition range being (re)loaded. -#}
{%- set reload_from = var('reload_from_date', none) %}
{%- set timeout_minutes = var('web_session_timeout_minutes', 30) %}
{%- set stage_from = event_reload_from(this, lookback_days, reload_from) if is_incremental() else none %}
{%- set base_columns = [
    'message_id', 'event_type', 'event_name', 'page_name', 'anonymous_id', 'user_id', 'customer_id', 'email',
    'channel', 'page_url', 'page_path', 'utm_source', 'utm_medium', 'utm_campaign', 'product_id',
    'product_category', 'product_price', 'properties', 'event_at', 'export_date', 'session_owner', 'is_web_visit'
] %}

{%- set session_owner -%}
    case
        when anonymous_id is not null then {{ dbt.concat(["'anon:'", "anonymous_id"]) }}
        when user_id is not null then {{ dbt.concat(["'user:'", "user_id"]) }}
        else {{ dbt.concat(["'message:'", "message_id"]) }}
    end
{%- endset %}
{%- set is_web_visit = "coalesce(channel, 'web') <> 'offline'" %}
{#- Erased people are never stored (only their keyed hashes are known); the second post-hook removes rows
    stored before their erasure request arrived. A day's rows are tested one by one, a whole history through
    the erased values among the known identifiers (macros/identity.sql). -#}
{%- set is_erased = is_erased_web_event() if is_incremental() else is_erased_web_event_in_history() %}
{#- The full build joins the sessions back to the raw rows by their file and line. -#}
{%- set row_key = [] if is_incremental() else ['source_file', 'source_line'] %}

with

{% if is_incremental() %}

staging as {{ inline_cte() }} (

    {%- if stage_from %}
    {{ not_stored_before(stage_web_events(since=stage_from), this, 'message_id', stage_from) }}
    {%- else %}
    select * from {{ ref('stg_web__events') }}
    {%- endif %}

),

staged as {{ inline_cte() }} (

    select
        message_id,
        event_type,
        event_name,
        page_name,
        anonymous_id,
        user_id,
        customer_id,
        email,
        channel,
        page_url,
        page_path,
        utm_source,
        utm_medium,
        utm_campaign,
        product_id,
        product_category,
        product_price,
        properties,
        event_at,
        export_date,
        {{ session_owner }} as session_owner,
        {{ is_web_visit }} as is_web_visit
    from staging
    where not {{ is_erased }}

),

stored_max as (

    select
        coalesce(max(export_date), cast('1900-01-01' as date)) as max_export_date,
        coalesce(max(event_at), cast('1900-01-01 00:00:00' as {{ dbt.type_timestamp() }})) as max_event_at
    from {{ this }}
    where {{ known_as_of('event_at', 'export_date') }}

),

new_events as (

    select s.*
    from staged as s
    cross join stored_max as m
    where s.export_date >= {{ dbt.dateadd('day', -lookback_days, 'm.max_export_date') }}
        or s.event_at >= {{ dbt.dateadd('day', -lookback_days, 'm.max_event_at') }}
        {%- if reload_from %}
            -- a backfill of older export dates (a late file): reload those days too
            or s.export_date >= cast('{{ reload_from }}' as date)
        {%- endif %}

),

-- Where each touched owner's sessions can change: at its earliest new event, stored event no longer known
-- (a past as-of date: the post-hook removes it) or stored copy being replaced (its old time may have been
-- inside a session).
change_points as (

    select session_owner, min(event_at) as changed_from
    from (
        select session_owner, event_at from new_events
        union all
        select session_owner, event_at from {{ this }}
        where not {{ known_as_of('event_at', 'export_date') }}
        union all
        select t.session_owner, t.event_at from {{ this }} as t
        where t.message_id in (select message_id from new_events)
        {%- if stage_from %}
            -- only copies exported from stage_from on can be replaced (not_stored_before dropped the others)
            and t.export_date >= cast('{{ stage_from }}' as date)
        {%- endif %}
    ) as changes
    group by session_owner

),

-- Only the owner's sessions from the first one a change can reach are re-sessionised: that is the session
-- of its first stored visit at most the timeout before the change (a session continues across gaps up to
-- the timeout), else the change itself. Earlier sessions end more than the timeout before any change, so
-- their events, ids and start flags stay as stored. Session ids hash the owner and the session's first
-- message, never a session number, so recomputing from a session start gives the full refresh's ids.
reopened as (

    select
        c.session_owner,
        case
            when min(t.session_started_at) < c.changed_from then min(t.session_started_at)
            else c.changed_from
        end as reopen_from
    from change_points as c
    left join {{ this }} as t
        on t.session_owner = c.session_owner
        and t.is_web_visit
        and t.event_at >= {{ dbt.dateadd('minute', -timeout_minutes, 'c.changed_from') }}
    group by c.session_owner, c.changed_from

),

stored_events as (

    select {% for column in base_columns %}t.{{ column }}{{ ", " if not loop.last }}{% endfor %}
    from {{ this }} as t
    inner join reopened as r on r.session_owner = t.session_owner
    where {{ known_as_of('t.event_at', 't.export_date') }}
        and t.event_at >= r.reopen_from
        and not exists (select 1 from new_events as n where n.message_id = t.message_id)

),

events as {{ inline_cte() }} (

    select {% for column in base_columns %}{{ column }}{{ ", " if not loop.last }}{% endfor %} from new_events
    union all
    select {% for column in base_columns %}{{ column }}{{ ", " if not loop.last }}{% endfor %} from stored_events

),

{% else %}

-- the first delivery of each known message, narrow: its identifiers, time and raw row
first_deliveries as {{ inline_cte() }} (

    {{ stage_web_event_first_deliveries() }}

),

events as {{ inline_cte() }} (

    select
        message_id,
        source_file,
        source_line,
        event_at,
        {{ session_owner }} as session_owner,
        {{ is_web_visit }} as is_web_visit
    from first_deliveries
    where not {{ is_erased }}

),

{% endif %}

-- Sessions are computed on a narrow projection (owner, time, message id) and joined back by message id
-- (unique in `events`), or in a full build by raw row: the window sorts then never carry the events'
-- payloads, which at the large tier spilled tens of GB to disk. Offline events are sorted apart (the
-- partitions include is_web_visit) and get no session.
visits as (

    select
        message_id,
        {%- for column in row_key %}
        {{ column }},
        {%- endfor %}
        session_owner,
        is_web_visit,
        event_at,
        lag(event_at) over (
            partition by session_owner, is_web_visit order by event_at, message_id
        ) as previous_event_at
    from events

),

flagged as (

    select
        message_id,
        {%- for column in row_key %}
        {{ column }},
        {%- endfor %}
        session_owner,
        is_web_visit,
        event_at,
        case
            when previous_event_at is null then 1
            when event_at > {{ dbt.dateadd('minute', timeout_minutes, 'previous_event_at') }} then 1
            else 0
        end as session_start_flag
    from visits

),

numbered as (

    select
        *,
        sum(session_start_flag) over (
            partition by session_owner, is_web_visit order by event_at, message_id
            rows between unbounded preceding and current row
        ) as session_number
    from flagged

),

sessionised as (

    select
        message_id,
        {%- for column in row_key %}
        {{ column }},
        {%- endfor %}
        case when is_web_visit then {{ dbt.hash(dbt.concat(["session_owner", "'|'", "first_value(message_id) over (
            partition by session_owner, is_web_visit, session_number order by event_at, message_id
            rows between unbounded preceding and unbounded following
        )"])) }} end as session_id,
        case when is_web_visit then min(event_at) over (
            partition by session_owner, is_web_visit, session_number
        ) end as session_started_at,
        is_web_visit and session_start_flag = 1 as is_session_start
    from numbered

)

select
    {% for column in base_columns %}e.{{ column }},
    {% endfor -%}
    s.session_id,
    s.session_started_at,
    coalesce(s.is_session_start, false) as is_session_start
{%- if is_incremental() %}
from events as e
left join sessionised as s on s.message_id = e.message_id
{%- else %}
-- every known raw row whole, kept when it is a chosen first delivery of someone not erased
from (
    select
        renamed.*,
        {{ session_owner }} as session_owner,
        {{ is_web_visit }} as is_web_visit
    from ({{ stage_known_web_events() }}) as renamed
) as e
inner join sessionised as s on s.source_file = e.source_file and s.source_line = e.source_line
{%- endif %}
