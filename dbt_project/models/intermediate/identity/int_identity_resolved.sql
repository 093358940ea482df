-- One row per identifier (shop customer id, normalised email, anonymous web id) with the `customer_key`
-- of the person it belongs to: connected components of int_identity_edges, found by propagating the
-- smallest label along edges (each label as its rank: integers join and compare faster than strings).
-- Labels rank shop ids before emails before anonymous ids, so a person's key is derived from their shop id
-- when they have one, and is stable across rebuilds of the same input.
-- The loop is unrolled `identity_iterations` times (portable SQL, no recursive CTE; on DuckDB each pass
-- revisits only the neighbours of the nodes the previous pass changed: macros/identity_propagation.sql);
-- `is_converged` tells whether another pass would still lower the identifier's label: the singular test
-- `assert_identity_graph_converged` fails if that was not enough for some component.
-- People who asked to be erased keep only a keyed hash (macro erasure_hash) of each identifier here (is_erased; identifier,
-- key and label null): int_identity_graph leaves them out, so every model joining through it drops them,
-- and int_erased_identifiers lets event tables and activation suppress them without knowing who they were.

{%- set iterations = var('identity_iterations', 8) %}

-- The edges once (a CTE read twice below, which DuckDB stores: the view of every source's identifiers is
-- evaluated once), each pair once (most records repeat a pair: every order of a customer).
with edge_pairs as (

    select distinct node_a, node_b from {{ ref('int_identity_edges') }}

),

nodes as (

    select node_a as node from edge_pairs
    union
    select node_b from edge_pairs

),

-- Each node's label, and its rank in label order: labels are propagated as these integers (joins, grouping
-- and comparisons of integers rather than strings), so the smallest rank is the smallest label. Ties (none
-- expected: a label is made from its node) are broken by the node.
node_ids as {{ materialized_cte() }} (

    select
        node,
        label_text,
        row_number() over (order by label_text, node) as node_id
    from (
        select
            node,
            case
                when node like 'shop:%' then {{ dbt.concat(["'1:'", dbt.right(dbt.concat(["'00000000000000000000'", "substr(node, 6)"]), "20")]) }}
                when node like 'email:%' then {{ dbt.concat(["'2:'", "node"]) }}
                else {{ dbt.concat(["'3:'", "node"]) }}
            end as label_text
        from nodes
    ) as labelled

),

pairs as (

    select a.node_id as node_a, b.node_id as node_b
    from edge_pairs as p
    inner join node_ids as a on a.node = p.node_a
    inner join node_ids as b on b.node = p.node_b

),

-- Both directions, and each node is its own neighbour too, so a label never gets worse from one pass to the next.
edges as (

    select node_a, node_b from pairs
    union
    select node_b, node_a from pairs
    union
    select node_id, node_id from node_ids

),

label_0 as (

    select node_id as node, node_id as label from node_ids

),

{{ propagate_labels(iterations) }},

-- One equality join on the requests' nodes (a join on `node = shop or node = email` is a nested loop over
-- every node and request).
erased_nodes as (

    select {{ shop_node('customer_id') }} as node
    from {{ ref('stg_privacy__deletion_requests') }}
    where customer_id is not null
    union
    select {{ email_node('email') }}
    from {{ ref('stg_privacy__deletion_requests') }}
    where email is not null

),

erased_components as (

    select distinct c.label
    from components as c
    inner join node_ids as n on n.node_id = c.node
    inner join erased_nodes as d on d.node = n.node

),

flagged as (

    select
        n.node,
        l.label_text as label,
        c.label in (select label from erased_components) as is_erased,
        u.node is null as is_converged
    from components as c
    inner join node_ids as n on n.node_id = c.node
    inner join node_ids as l on l.node_id = c.label
    left join unsettled as u on u.node = c.node

)

select
    {{ erasure_hash('node') }} as identifier_hash,
    is_erased,
    case when not is_erased then {{ dbt.hash('label') }} end as customer_key,
    case when not is_erased then node end as identifier,
    case
        when node like 'shop:%' then 'shop_customer_id'
        when node like 'email:%' then 'email'
        else 'anonymous_id'
    end as identifier_type,
    case when not is_erased then substr(node, position(':' in node) + 1) end as identifier_value,
    case when not is_erased then label end as component_label,
    is_converged
from flagged
