-- Right to erasure: nobody who asked to be erased appears in the identity graph, the order facts or
-- customer_360, by email or by shop customer id.
{{ config(meta={'dagster': {'ref': {'name': 'customer_360'}}}) }}
-- Equality joins only, one per identifier (a join on `a = x or b = y` is a nested loop over every pair of
-- rows: a minute at the large tier); a row matching by both appears twice, and any row fails the test.
with erased as (
    select email, customer_id from {{ ref('stg_privacy__deletion_requests') }}
),

erased_nodes as (
    select {{ email_node('email') }} as identifier from erased where email is not null
    union
    select {{ shop_node('customer_id') }} from erased where customer_id is not null
)

select 'int_identity_graph' as model, g.identifier as found
from {{ ref('int_identity_graph') }} as g
inner join erased_nodes as e on g.identifier = e.identifier
union all
select 'int_orders_unioned', o.order_key
from {{ ref('int_orders_unioned') }} as o
inner join erased as e on o.email = e.email
union all
select 'int_orders_unioned', o.order_key
from {{ ref('int_orders_unioned') }} as o
inner join erased as e on o.shop_customer_id = e.customer_id
union all
select 'customer_360', c.customer_key
from {{ ref('customer_360') }} as c
inner join erased as e on c.email = e.email
union all
select 'customer_360', c.customer_key
from {{ ref('customer_360') }} as c
inner join erased as e on c.shop_customer_id = e.customer_id
