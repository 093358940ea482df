-- Lifecycle inputs: one row per person, day and event that can change their lifecycle stage
-- (int_lifecycle_stage_changes applies the rule to them). Days are UTC calendar days; nothing after the
-- as-of date. People are those of int_identity_graph (the people of customer_360).
--   known               the day the warehouse first saw the person: their first record of any source
--                       (shop account, order, receipt, review, ticket, email event, loyalty entry,
--                       subscription, referral sent, web event, including anonymous visits of a browser
--                       that later identified as them). A never-identified visitor is not in the graph.
--   revenue_order       each revenue order (test, cancelled and voided excluded; store receipts included)
--   positive_signal     a converted referral the person sent, or a review they rated at least
--                       var('positive_review_min_rating')
--   negative_experience each negative experience (int_negative_experiences)

with graph as (

    select customer_key, identifier from {{ ref('int_identity_graph') }}

),

-- When each shop customer id / email was first seen on a record of each source (each source read once).
sightings as (

    select customer_id, cast(null as {{ dbt.type_string() }}) as email, coalesce(created_at, updated_at) as seen_at
    from {{ ref('stg_shop__customers') }}
    union all
    select customer_id, email, created_at from {{ ref('stg_reviews__reviews') }}
    union all
    select customer_id, email, created_at from {{ ref('stg_subscriptions__subscriptions') }}
    union all
    select null, email, created_at from {{ ref('stg_support__tickets') }}
    union all
    select customer_id, null, occurred_at from {{ ref('stg_loyalty__ledger') }}
    union all
    select customer_id, null, changed_at from {{ ref('stg_loyalty__tier_changes') }}
    union all
    select referrer_customer_id, null, created_at from {{ ref('stg_referrals__referrals') }}
    union all
    select null, email, min(event_at) from {{ ref('int_email_events_enriched') }} group by email
    union all
    select customer_id, email, min(event_at) from {{ ref('int_web_events_enriched') }}
    where customer_id is not null or email is not null
    group by customer_id, email

),

first_sightings_by_pair as (

    select customer_id, email, min(seen_at) as first_seen_at
    from sightings
    where seen_at is not null
    group by customer_id, email

),

first_sightings as (

    select {{ shop_node('customer_id') }} as identifier, first_seen_at
    from first_sightings_by_pair
    where customer_id is not null
    union all
    select {{ email_node('email') }}, first_seen_at
    from first_sightings_by_pair
    where email is not null
    union all
    -- anonymous visits of browsers linked to a person (never-identified browsers are not in the graph).
    -- A browser's first event is its first session's start or an offline event (not a visit, no session):
    -- the browser is the sessions' owner. Reading only those rows leaves most events out (9.7-12.4 s ->
    -- 7.8-8.8 s at the large tier alone, same rows).
    select {{ dbt.concat(["'anon:'", "anonymous_id"]) }}, min(event_at)
    from {{ ref('int_web_events_enriched') }}
    where anonymous_id is not null and (is_session_start or not is_web_visit)
    group by anonymous_id

),

known_candidates as (

    select g.customer_key, f.first_seen_at as known_at
    from first_sightings as f
    inner join graph as g on g.identifier = f.identifier
    union all
    select customer_key, min(ordered_at)
    from {{ ref('int_orders_unioned') }}
    where customer_key is not null
    group by customer_key

),

known as (

    select customer_key, cast(min(known_at) as date) as known_on
    from known_candidates
    where known_at is not null
    group by customer_key

),

revenue_orders as (

    select
        customer_key,
        cast(ordered_at as date) as order_on
    from {{ ref('int_orders_unioned') }}
    where customer_key is not null and is_revenue_order

),

positive_signals as (

    select coalesce(by_shop_id.customer_key, by_email.customer_key) as customer_key, r.created_at as signal_at
    from {{ ref('stg_reviews__reviews') }} as r
    left join graph as by_shop_id on by_shop_id.identifier = {{ shop_node('r.customer_id') }}
    left join graph as by_email on by_email.identifier = {{ email_node('r.email') }}
    where r.rating >= {{ var('positive_review_min_rating', 4) }}

    union all

    select g.customer_key, coalesce(r.converted_at, r.updated_at)
    from {{ ref('stg_referrals__referrals') }} as r
    inner join graph as g on g.identifier = {{ shop_node('r.referrer_customer_id') }}
    where r.is_converted

),

events as (

    select customer_key, known_on as occurred_on, 'known' as event_type
    from known

    union all

    select customer_key, order_on, 'revenue_order'
    from revenue_orders

    union all

    select customer_key, cast(signal_at as date), 'positive_signal'
    from positive_signals
    where customer_key is not null and signal_at is not null

    union all

    select customer_key, cast(experienced_at as date), 'negative_experience'
    from {{ ref('int_negative_experiences') }}
    where experienced_at is not null

)

select
    cast(customer_key as {{ dbt.type_string() }}) as customer_key,
    cast(occurred_on as date) as occurred_on,
    cast(event_type as {{ dbt.type_string() }}) as event_type
from events
where occurred_on <= {{ as_of_date() }}
