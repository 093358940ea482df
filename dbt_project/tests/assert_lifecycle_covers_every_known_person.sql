-- Every person of the identity graph (the people of customer_360) has a lifecycle stage, and nobody else
-- has one. A row here is a person missing from int_customer_lifecycle (a source linked in the identity
-- graph but not dated in int_lifecycle_events) or a stage for someone unknown.
{{ config(meta={'dagster': {'ref': {'name': 'int_customer_lifecycle'}}}) }}

with identified as (

    select distinct customer_key
    from {{ ref('int_identity_graph') }}

),

staged as (

    select customer_key from {{ ref('int_customer_lifecycle') }}

)

select i.customer_key, 'person without a lifecycle stage' as problem
from identified as i
where not exists (select 1 from staged as s where s.customer_key = i.customer_key)

union all

select s.customer_key, 'lifecycle stage for an unknown person'
from staged as s
where not exists (select 1 from identified as i where i.customer_key = s.customer_key)
