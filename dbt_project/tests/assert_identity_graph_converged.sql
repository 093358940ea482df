-- Identity resolution converged: both ends of every edge belong to the same person. A row here means
-- var('identity_iterations') was too small for some component (raise it).
{{ config(meta={'dagster': {'ref': {'name': 'int_identity_graph'}}}) }}
with graph as (
    select identifier, component_label from {{ ref('int_identity_graph') }}
)
select e.node_a, e.node_b, a.component_label as label_a, b.component_label as label_b
from {{ ref('int_identity_edges') }} as e
inner join graph as a on a.identifier = e.node_a
inner join graph as b on b.identifier = e.node_b
where a.component_label <> b.component_label
