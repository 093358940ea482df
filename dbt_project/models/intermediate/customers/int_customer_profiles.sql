-- One row per person (customer_key) with who they are: the shop account behind the key (the lowest shop
-- id of the person, the one their key derives from) and its name, phone and address; else the person's
-- email only (a guest buyer, a newsletter subscriber, a store customer who gave an email).

with graph as (

    select * from {{ ref('int_identity_graph') }}

),

people as (

    select
        customer_key,
        min(case when identifier_type = 'shop_customer_id'
            then cast(identifier_value as {{ dbt.type_bigint() }}) end) as shop_customer_id,
        min(case when identifier_type = 'email' then identifier_value end) as any_email
    from graph
    group by customer_key

)

select
    p.customer_key,
    p.shop_customer_id,
    coalesce(c.email, p.any_email) as email,
    c.first_name,
    c.last_name,
    c.phone,
    c.city,
    c.country_code,
    c.created_at as signed_up_at,
    c.has_accepted_marketing
from people as p
left join {{ ref('stg_shop__customers') }} as c on c.customer_id = p.shop_customer_id
