-- Subscriptions and referrals per person: active subscriptions with the products and categories they
-- cover (Marshall is never promoted what he already subscribes to), referrals sent and converted.

with graph as (

    select customer_key, identifier from {{ ref('int_identity_graph') }}

),

subscriptions as (

    select customer_key, subscription_id, product_id, category, is_active
    from {{ ref('int_subscriptions_resolved') }}

),

active as (

    select
        customer_key,
        count(*) as active_subscriptions_count,
        {{ dbt.listagg("distinct product_id", "','", "order by product_id") }} as subscribed_product_ids,
        {{ dbt.listagg("distinct category", "','", "order by category") }} as subscribed_categories
    from subscriptions
    where is_active and customer_key is not null
    group by customer_key

),

referrals as (

    select
        g.customer_key,
        count(*) as referrals_sent,
        sum(case when r.is_converted then 1 else 0 end) as referrals_converted,
        min(case when r.is_converted then r.converted_at end) as first_referral_converted_at
    from {{ ref('stg_referrals__referrals') }} as r
    inner join graph as g on g.identifier = {{ shop_node('r.referrer_customer_id') }}
    group by g.customer_key

),

people as (

    select customer_key from active
    union
    select customer_key from referrals

)

select
    p.customer_key,
    coalesce(a.active_subscriptions_count, 0) as active_subscriptions_count,
    a.subscribed_product_ids,
    a.subscribed_categories,
    coalesce(r.referrals_sent, 0) as referrals_sent,
    coalesce(r.referrals_converted, 0) as referrals_converted,
    r.first_referral_converted_at
from people as p
left join active as a on a.customer_key = p.customer_key
left join referrals as r on r.customer_key = p.customer_key
