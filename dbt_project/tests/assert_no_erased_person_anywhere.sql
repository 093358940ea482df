-- Right to erasure: nobody who asked to be erased appears in the identity graph, the order facts or
-- customer_360, by email or by shop customer id.
{{ config(meta={'dagster': {'ref': {'name': 'customer_360'}}}) }}
with erased as (
    select email, customer_id from {{ ref('stg_privacy__deletion_requests') }}
)
select 'int_identity_graph' as model, g.identifier as found
from {{ ref('int_identity_graph') }} as g
inner join erased as e
    on g.identifier = {{ email_node('e.email') }} or g.identifier = {{ shop_node('e.customer_id') }}
union all
select 'int_orders_unioned', o.order_key
from {{ ref('int_orders_unioned') }} as o
inner join erased as e on o.email = e.email or o.shop_customer_id = e.customer_id
union all
select 'customer_360', c.customer_key
from {{ ref('customer_360') }} as c
inner join erased as e on c.email = e.email or c.shop_customer_id = e.customer_id
