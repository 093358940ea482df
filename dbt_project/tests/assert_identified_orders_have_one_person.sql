-- Every order placed with an identifier (shop account or email) belongs to exactly one person: it has a
-- customer_key (order_key is unique, so no order fans out to two people).
{{ config(meta={'dagster': {'ref': {'name': 'int_orders_unioned'}}}) }}
select order_key, shop_customer_id, email
from {{ ref('int_orders_unioned') }}
where customer_key is null and (shop_customer_id is not null or email is not null)
