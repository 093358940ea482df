-- One row per subscription (its latest version, as staged) with the person it belongs to: by shop customer
-- id, else by email. Feeds the per-person subscription facts and the rule that a promotion never names a
-- product or category the person actively subscribes to (Marshall).

with graph as (

    select customer_key, identifier from {{ ref('int_identity_graph') }}

)

select
    s.subscription_id,
    coalesce(by_shop_id.customer_key, by_email.customer_key) as customer_key,
    s.product_id,
    s.category,
    s.is_active
from {{ ref('stg_subscriptions__subscriptions') }} as s
left join graph as by_shop_id on by_shop_id.identifier = {{ shop_node('s.customer_id') }}
left join graph as by_email on by_email.identifier = {{ email_node('s.email') }}
