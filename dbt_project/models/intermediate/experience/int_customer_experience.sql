-- Experience and sentiment facts per person: reviews, support tickets and CSAT, and the latest negative
-- experience with its reason (from int_negative_experiences).

with graph as (

    select customer_key, identifier from {{ ref('int_identity_graph') }}

),

reviews as (

    select
        coalesce(by_shop_id.customer_key, by_email.customer_key) as customer_key,
        r.rating,
        r.created_at,
        r.review_id
    from {{ ref('stg_reviews__reviews') }} as r
    left join graph as by_shop_id on by_shop_id.identifier = {{ shop_node('r.customer_id') }}
    left join graph as by_email on by_email.identifier = {{ email_node('r.email') }}

),

review_facts as (

    select
        customer_key,
        count(*) as reviews_count,
        avg(cast(rating as {{ type_double() }})) as avg_review_rating,
        max(created_at) as last_review_at
    from reviews
    where customer_key is not null
    group by customer_key

),

last_reviews as (

    select customer_key, rating as last_review_rating,
        row_number() over (partition by customer_key order by created_at desc, review_id desc) as recency_rank
    from reviews
    where customer_key is not null

),

tickets as (

    select g.customer_key, t.ticket_id, t.is_open, t.satisfaction, coalesce(t.solved_at, t.updated_at) as rated_at
    from {{ ref('stg_support__tickets') }} as t
    inner join graph as g on g.identifier = {{ email_node('t.email') }}

),

ticket_facts as (

    select
        customer_key,
        count(*) as tickets_count,
        sum(case when is_open then 1 else 0 end) as open_tickets_count
    from tickets
    group by customer_key

),

last_csat as (

    select customer_key, satisfaction as last_csat,
        row_number() over (partition by customer_key order by rated_at desc, ticket_id desc) as recency_rank
    from tickets
    where satisfaction in ('good', 'bad')

),

last_negative as (

    select customer_key, experienced_at, reason,
        row_number() over (
            partition by customer_key order by experienced_at desc, reason, negative_experience_key
        ) as recency_rank
    from {{ ref('int_negative_experiences') }}

),

people as (

    select customer_key from review_facts
    union
    select customer_key from ticket_facts
    union
    select customer_key from last_negative

)

select
    p.customer_key,
    coalesce(r.reviews_count, 0) as reviews_count,
    r.avg_review_rating,
    lr.last_review_rating,
    r.last_review_at,
    coalesce(t.tickets_count, 0) as tickets_count,
    coalesce(t.open_tickets_count, 0) as open_tickets_count,
    lc.last_csat,
    ln.experienced_at as last_negative_experience_at,
    ln.reason as last_negative_experience_reason
from people as p
left join review_facts as r on r.customer_key = p.customer_key
left join last_reviews as lr on lr.customer_key = p.customer_key and lr.recency_rank = 1
left join ticket_facts as t on t.customer_key = p.customer_key
left join last_csat as lc on lc.customer_key = p.customer_key and lc.recency_rank = 1
left join last_negative as ln on ln.customer_key = p.customer_key and ln.recency_rank = 1
