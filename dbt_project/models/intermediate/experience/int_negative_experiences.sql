-- Every negative experience a person had, with its date and reason: a review rated at or below
-- `negative_review_max_rating`, a support ticket rated `bad`, a late delivery, a refund. Service recovery
-- (Naomi) and the promotional hold-out are driven by the latest one.

with graph as (

    select customer_key, identifier from {{ ref('int_identity_graph') }}

),

reviews as (

    select
        coalesce(by_shop_id.customer_key, by_email.customer_key) as customer_key,
        r.created_at as experienced_at,
        'review' as reason,
        r.review_id as source_id,
        cast(r.rating as {{ dbt.type_string() }}) as detail
    from {{ ref('stg_reviews__reviews') }} as r
    left join graph as by_shop_id on by_shop_id.identifier = {{ shop_node('r.customer_id') }}
    left join graph as by_email on by_email.identifier = {{ email_node('r.email') }}
    where r.rating <= {{ var('negative_review_max_rating', 2) }}

),

tickets as (

    select
        g.customer_key,
        coalesce(t.solved_at, t.updated_at) as experienced_at,
        'csat' as reason,
        cast(t.ticket_id as {{ dbt.type_string() }}) as source_id,
        t.subject as detail
    from {{ ref('stg_support__tickets') }} as t
    inner join graph as g on g.identifier = {{ email_node('t.email') }}
    where t.satisfaction = 'bad'

),

late_deliveries as (

    select customer_key, delivered_at as experienced_at, 'late_delivery' as reason, order_key as source_id,
        cast(null as {{ dbt.type_string() }}) as detail
    from {{ ref('int_orders_unioned') }}
    where has_late_delivery and customer_key is not null and delivered_at is not null

),

refunds as (

    select customer_key, last_refunded_at as experienced_at, 'refund' as reason, order_key as source_id,
        cast(null as {{ dbt.type_string() }}) as detail
    from {{ ref('int_orders_unioned') }}
    where is_refunded and customer_key is not null and last_refunded_at is not null

),

unioned as (

    select * from reviews
    union all
    select * from tickets
    union all
    select * from late_deliveries
    union all
    select * from refunds

)

select
    {{ dbt.hash(dbt.concat(["reason", "':'", "source_id"])) }} as negative_experience_key,
    customer_key,
    experienced_at,
    reason,
    source_id,
    detail
from unioned
where customer_key is not null
