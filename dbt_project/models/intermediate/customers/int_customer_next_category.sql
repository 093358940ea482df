-- The category each buyer is most likely to buy next, and the product to show from it: "customers who
-- bought A went on to buy B". For every ordered pair of categories (A, B), confidence(A -> B) = the share of
-- A's buyers whose first purchase in B came after their first purchase in A (pairs seen by at least
-- `cross_sell_min_customers` customers). A buyer's candidates are the categories they have never bought
-- and do not subscribe to (Marshall is never recommended his subscription's category); the best
-- confidence from any category they bought wins, ties by name. The product is the category's most bought
-- product (by buyers) that the person neither bought nor subscribes to. Revenue orders as of the as-of date.

with lines as (

    select customer_key, category, product_id, ordered_at
    from {{ ref('int_order_lines_unioned') }}
    where is_revenue_order and customer_key is not null and category is not null
        and ordered_at < {{ as_of_end() }}

),

customer_categories as (

    select customer_key, category, min(ordered_at) as first_bought_at
    from lines
    group by customer_key, category

),

category_buyers as (

    select category, count(*) as buyers from customer_categories group by category

),

pairs as (

    select a.category as from_category, b.category as to_category, count(*) as moved_on
    from customer_categories as a
    inner join customer_categories as b
        on b.customer_key = a.customer_key and b.category <> a.category and b.first_bought_at > a.first_bought_at
    group by a.category, b.category

),

confidence as (

    select p.from_category, p.to_category, cast(p.moved_on as {{ type_double() }}) / cb.buyers as confidence
    from pairs as p
    inner join category_buyers as cb on cb.category = p.from_category
    where p.moved_on >= {{ var('cross_sell_min_customers', 3) }}

),

subscribed as (

    select distinct customer_key, category, product_id
    from {{ ref('int_subscriptions_resolved') }}
    where is_active and customer_key is not null

),

candidates as (

    select cc.customer_key, c.to_category as category, max(c.confidence) as confidence
    from customer_categories as cc
    inner join confidence as c on c.from_category = cc.category
    where not exists (
            select 1 from customer_categories as own
            where own.customer_key = cc.customer_key and own.category = c.to_category
        )
        and not exists (
            select 1 from subscribed as s where s.customer_key = cc.customer_key and s.category = c.to_category
        )
    group by cc.customer_key, c.to_category

),

best_category as (

    select customer_key, category, confidence
    from (
        select
            customer_key,
            category,
            confidence,
            row_number() over (partition by customer_key order by confidence desc, category) as category_rank
        from candidates
    ) as ranked
    where category_rank = 1

),

product_popularity as (

    select category, product_id, count(distinct customer_key) as buyers
    from lines
    where product_id is not null
    group by category, product_id

),

best_product as (

    select customer_key, product_id
    from (
        select
            b.customer_key,
            p.product_id,
            row_number() over (partition by b.customer_key order by p.buyers desc, p.product_id) as product_rank
        from best_category as b
        inner join product_popularity as p on p.category = b.category
        where not exists (
                select 1 from subscribed as s where s.customer_key = b.customer_key and s.product_id = p.product_id
            )
            and not exists (
                select 1 from lines as l where l.customer_key = b.customer_key and l.product_id = p.product_id
            )
    ) as ranked
    where product_rank = 1

)

select
    b.customer_key,
    b.category as recommended_category,
    bp.product_id as recommended_product_id,
    b.confidence as recommendation_confidence
from best_category as b
left join best_product as bp on bp.customer_key = b.customer_key
