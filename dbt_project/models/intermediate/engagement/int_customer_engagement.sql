-- Email, SMS, web and store engagement, one row per person (every customer_key of int_identity_graph), as
-- known at the end of the as-of date. Windows end at as_of_end() (the end of the as-of date) and start
-- `email_engagement_days` / `web_engagement_days` days earlier.
--
-- People attach through int_identity_graph, by the most specific identifier of the event:
--   web event    shop:<customer_id> when the event has a user id, else anon:<anonymous_id>, else
--                email:<traits.email> (macros/identity.sql, web_event_node, which says why)
--   email event  email:<email>
-- Rules (documented in _engagement__models.yml):
--   emails_*_90d            distinct messages received / opened / clicked in the email window
--   best_send_hour          the UTC hour (0-23) with most email opens (all known opens); ties -> earliest
--   web_sessions_30d        distinct sessions with an event in the web window (int_web_events_enriched)
--   top_viewed_category_30d most "Product Viewed" in the web window; ties -> alphabetical
--   first_web_utm_source    the first UTM source seen in the person's first session (first visit)
--   abandoned_checkout_at   the latest "Checkout Started" when no order of the person (int_orders_unioned,
--                           test orders aside) and no "Order Completed" event came at or after it
--   events_attended         "Event Attended" track events (offline check-ins), all time
--   preferred_channel       the channel with most engagement in the email window (90 days):
--                             email = distinct emails opened or clicked, sms = SMS clicks,
--                             web = web sessions, store = store orders + events attended;
--                           ties -> email, sms, web, store; null with no engagement at all

{%- set email_window_start = dbt.dateadd('day', -var('email_engagement_days', 90), as_of_end()) %}
{%- set web_window_start = dbt.dateadd('day', -var('web_engagement_days', 30), as_of_end()) %}

with graph as (

    select customer_key, identifier from {{ ref('int_identity_graph') }}

),

people as (

    select distinct customer_key from graph

),

-- ---- email and sms ----------------------------------------------------------------------------------

-- Read three times (the window's events, opens and clicks, opens by hour), evaluated at each read on
-- DuckDB: each read selects a part of the events.
email_events as {{ inline_cte() }} (

    select g.customer_key, e.event_kind, e.message_key, e.event_hour, e.event_at
    from {{ ref('int_email_events_enriched') }} as e
    inner join graph as g on g.identifier = {{ email_node('e.email') }}
    where {{ known_as_of('e.event_at', 'e.export_date') }}

),

-- The window's email events, one row per person and message: distinct messages are then plain counts
-- (distinct counts over every email event of the history cost more). SMS clicks are counted, not
-- distinct; events without a message key count only there.
email_window_messages as (

    select
        customer_key,
        message_key,
        max(case when event_kind = 'email_received' then 1 else 0 end) as is_received,
        max(case when event_kind = 'email_opened' then 1 else 0 end) as is_opened,
        max(case when event_kind = 'email_clicked' then 1 else 0 end) as is_clicked,
        count(case when event_kind = 'sms_clicked' then 1 end) as sms_clicks
    from email_events
    where event_at >= {{ email_window_start }}
    group by customer_key, message_key

),

email_metrics as (

    select
        customer_key,
        count(case when message_key is not null and is_received = 1 then 1 end) as emails_received_90d,
        count(case when message_key is not null and is_opened = 1 then 1 end) as emails_opened_90d,
        count(case when message_key is not null and is_clicked = 1 then 1 end) as emails_clicked_90d,
        count(case when message_key is not null and (is_opened = 1 or is_clicked = 1) then 1 end)
            as email_engagements_90d,
        sum(sms_clicks) as sms_clicks_90d
    from email_window_messages
    group by customer_key

),

email_last as (

    select
        customer_key,
        max(case when event_kind = 'email_opened' then event_at end) as last_email_open_at,
        max(case when event_kind = 'email_clicked' then event_at end) as last_email_click_at
    from email_events
    where event_kind in ('email_opened', 'email_clicked')
    group by customer_key

),

open_hours as (

    select customer_key, event_hour, count(*) as opens
    from email_events
    where event_kind = 'email_opened'
    group by customer_key, event_hour

),

best_send_hour as (

    select customer_key, event_hour as best_send_hour
    from (
        select
            customer_key,
            event_hour,
            row_number() over (partition by customer_key order by opens desc, event_hour) as hour_rank
        from open_hours
    ) as ranked
    where hour_rank = 1

),

-- ---- web --------------------------------------------------------------------------------------------

-- Each event attaches by one node (see the header), so one join to the graph; events of nobody drop out.
-- Read four times (metrics, window sessions, category views, first UTM), evaluated at each read on DuckDB:
-- all but the first read few events (the windows' visits and product views, the first sessions' events
-- with a UTM source), and storing every event of every person first costs more than scanning again.
person_web_events as {{ inline_cte() }} (

    select
        g.customer_key,
        w.message_id,
        w.event_type,
        w.event_name,
        w.product_category,
        w.utm_source,
        w.is_web_visit,
        w.session_id,
        w.event_at
    from (
        select
            {{ web_event_node('customer_id', 'anonymous_id', 'email') }} as person_node,
            message_id,
            event_type,
            event_name,
            product_category,
            utm_source,
            is_web_visit,
            session_id,
            event_at
        from {{ ref('int_web_events_enriched') }}
        where {{ known_as_of('event_at', 'export_date') }}
    ) as w
    inner join graph as g on g.identifier = w.person_node

),

-- The first visit is the session of the person's earliest visit event (by event_at, then message_id).
web_metrics as (

    select
        customer_key,
        count(case when event_name = 'Product Viewed' and event_at >= {{ web_window_start }}
            then 1 end) as product_views_30d,
        max(case when is_web_visit then event_at end) as last_site_visit_at,
        min(case when is_web_visit then event_at end) as first_seen_web_at,
        {{ first_by('session_id', ['event_at', 'message_id'], where='is_web_visit') }} as first_session_id,
        count(case when event_type = 'track' and event_name = 'Event Attended' then 1 end) as events_attended,
        count(case when event_type = 'track' and event_name = 'Event Attended' and event_at >= {{ email_window_start }}
            then 1 end) as events_attended_90d,
        max(case when event_name = 'Checkout Started' then event_at end) as last_checkout_started_at,
        max(case when event_name = 'Order Completed' then event_at end) as last_order_completed_at
    from person_web_events
    group by customer_key

),

-- Sessions with a visit in the 90-day window, and whether one is in the 30-day window: distinct sessions
-- counted over the window's visits only (a distinct count over every event of the history costs more).
window_sessions as (

    select
        customer_key,
        count(*) as web_sessions_90d,
        count(case when last_visit_at >= {{ web_window_start }} then 1 end) as web_sessions_30d
    from (
        select customer_key, session_id, max(event_at) as last_visit_at
        from person_web_events
        where is_web_visit and event_at >= {{ email_window_start }}
        group by customer_key, session_id
    ) as sessions
    group by customer_key

),

first_utm as (

    select
        e.customer_key,
        {{ first_by('e.utm_source', ['e.event_at', 'e.message_id']) }} as first_web_utm_source
    from person_web_events as e
    inner join web_metrics as f
        on f.customer_key = e.customer_key and f.first_session_id = e.session_id
    where e.utm_source is not null
    group by e.customer_key

),

category_views as (

    select customer_key, product_category, count(*) as views
    from person_web_events
    where event_name = 'Product Viewed'
        and product_category is not null
        and event_at >= {{ web_window_start }}
    group by customer_key, product_category

),

top_category as (

    select customer_key, product_category as top_viewed_category_30d
    from (
        select
            customer_key,
            product_category,
            row_number() over (partition by customer_key order by views desc, product_category) as category_rank
        from category_views
    ) as ranked
    where category_rank = 1

),

-- ---- orders -----------------------------------------------------------------------------------------

orders as (

    select
        customer_key,
        max(ordered_at) as last_ordered_at,
        count(case when channel = 'store' and ordered_at >= {{ email_window_start }} then 1 end)
            as store_orders_90d
    from {{ ref('int_orders_unioned') }}
    where customer_key is not null
        and not is_test
    group by customer_key

),

-- ---- per person -------------------------------------------------------------------------------------

combined as (

    select
        p.customer_key,
        coalesce(em.emails_received_90d, 0) as emails_received_90d,
        coalesce(em.emails_opened_90d, 0) as emails_opened_90d,
        coalesce(em.emails_clicked_90d, 0) as emails_clicked_90d,
        el.last_email_open_at,
        el.last_email_click_at,
        coalesce(ws.web_sessions_30d, 0) as web_sessions_30d,
        coalesce(wm.product_views_30d, 0) as product_views_30d,
        tc.top_viewed_category_30d,
        wm.last_site_visit_at,
        case
            when wm.last_checkout_started_at is not null
                and (o.last_ordered_at is null or o.last_ordered_at < wm.last_checkout_started_at)
                and (wm.last_order_completed_at is null or wm.last_order_completed_at < wm.last_checkout_started_at)
            then wm.last_checkout_started_at
        end as abandoned_checkout_at,
        coalesce(wm.events_attended, 0) as events_attended,
        coalesce(em.email_engagements_90d, 0) as email_score,
        coalesce(em.sms_clicks_90d, 0) as sms_score,
        coalesce(ws.web_sessions_90d, 0) as web_score,
        coalesce(o.store_orders_90d, 0) + coalesce(wm.events_attended_90d, 0) as store_score,
        bh.best_send_hour,
        fu.first_web_utm_source,
        wm.first_seen_web_at
    from people as p
    left join email_metrics as em on em.customer_key = p.customer_key
    left join email_last as el on el.customer_key = p.customer_key
    left join best_send_hour as bh on bh.customer_key = p.customer_key
    left join web_metrics as wm on wm.customer_key = p.customer_key
    left join window_sessions as ws on ws.customer_key = p.customer_key
    left join top_category as tc on tc.customer_key = p.customer_key
    left join first_utm as fu on fu.customer_key = p.customer_key
    left join orders as o on o.customer_key = p.customer_key

)

select
    customer_key,
    emails_received_90d,
    emails_opened_90d,
    emails_clicked_90d,
    last_email_open_at,
    last_email_click_at,
    web_sessions_30d,
    product_views_30d,
    top_viewed_category_30d,
    last_site_visit_at,
    abandoned_checkout_at,
    events_attended,
    case
        when email_score + sms_score + web_score + store_score = 0 then null
        when email_score >= sms_score and email_score >= web_score and email_score >= store_score then 'email'
        when sms_score >= web_score and sms_score >= store_score then 'sms'
        when web_score >= store_score then 'web'
        else 'store'
    end as preferred_channel,
    best_send_hour,
    first_web_utm_source,
    first_seen_web_at
from combined
