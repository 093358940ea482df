-- Every pair of identifiers seen together on one record, plus every identifier seen alone (a self
-- edge), across all sources, once per kind of record (evidence). Node ids are typed strings:
-- `shop:<customer id>`, `email:<normalised email>`, `anon:<anonymous id>`. Identity resolution
-- (int_identity_graph) takes connected components of this.
-- Web and email-tool events come through narrow staging views of the identifiers they carry (a set: no
-- deduplication of the large event sources, only a few columns of them read).

{{ config(materialized=identity_edges_materialization()) }}

{%- set anon_node = dbt.concat(["'anon:'", "anonymous_id"]) %}

with shop_and_email as (

    select customer_id, email, 'shop_customer' as evidence from {{ ref('stg_shop__customers') }}
    union all
    select customer_id, email, 'order' from {{ ref('stg_shop__orders') }}
    union all
    select customer_id, email, 'pos_receipt' from {{ ref('stg_pos__transactions') }}
    union all
    select customer_id, email, 'review' from {{ ref('stg_reviews__reviews') }}
    union all
    select customer_id, email, 'subscription' from {{ ref('stg_subscriptions__subscriptions') }}
    union all
    select customer_id, email, 'web_identify' from {{ ref('stg_web__event_identifiers') }}
    where email is not null and {{ known_as_of('first_seen_at', 'export_date') }}
    union all
    select customer_id, null, 'loyalty' from {{ ref('stg_loyalty__ledger') }}
    union all
    select customer_id, null, 'loyalty_tier' from {{ ref('stg_loyalty__tier_changes') }}
    union all
    select referrer_customer_id, null, 'referral' from {{ ref('stg_referrals__referrals') }}
    union all
    select null, email, 'support_ticket' from {{ ref('stg_support__tickets') }}
    union all
    select null, email, 'esp_event' from {{ ref('stg_esp__recipients') }}
    where {{ known_as_of('first_seen_at', 'export_date') }}
    union all
    select customer_id, email, 'deletion_request' from {{ ref('stg_privacy__deletion_requests') }}

),

-- Each (id, email, evidence) once before the node strings are built: most records repeat one (every order
-- of a customer), and building the strings of 14M records then dropping the copies cost 0.5-0.9 s more a run
-- at the large tier.
identified as (

    select
        case when customer_id is not null then {{ shop_node('customer_id') }} end as shop_node,
        case when email is not null then {{ email_node('email') }} end as email_node,
        evidence
    from (
        select distinct customer_id, email, evidence
        from shop_and_email
        where customer_id is not null or email is not null
    ) as distinct_records

),

-- An anonymous visitor is linked to the shop account or email it identified as. A device seen with more
-- than one shop account (a shared computer) is not allowed to merge those people: its links are dropped.
anonymous_links as (

    select distinct
        {{ anon_node }} as anon_node,
        case when customer_id is not null then {{ shop_node('customer_id') }} else {{ email_node('email') }} end as person_node
    from {{ ref('stg_web__event_identifiers') }}
    where anonymous_id is not null and {{ known_as_of('first_seen_at', 'export_date') }}

),

shared_devices as (

    select anon_node
    from anonymous_links
    where person_node like 'shop:%'
    group by anon_node
    having count(distinct person_node) > 1

)

select shop_node as node_a, email_node as node_b, evidence
from identified where shop_node is not null and email_node is not null

union all

select coalesce(shop_node, email_node), coalesce(shop_node, email_node), evidence
from identified where shop_node is null or email_node is null

union all

select l.anon_node, l.person_node, 'web_identify'
from anonymous_links as l
where not exists (select 1 from shared_devices as s where s.anon_node = l.anon_node)
