{#
  propagate_labels(iterations)
      the CTEs of identity resolution's label propagation, ending in `components` (node, label): every node
      takes the smallest label among itself and its neighbours, `iterations` times. They read two CTEs the
      model defines: `edges` (node_a, node_b, a self edge per node) and `label_0` (node, label: one per node).
      Then `unsettled` (node): the nodes whose label one more pass would lower. None means converged: every
      node already has the smallest label among its neighbours, so both ends of every edge have the same
      label. Worked out here because the edges are at hand (an independent check re-reads every source).

  Both forms give the same labels after every pass (so the same result, converged or not):
    default   each pass recomputes every node from all its neighbours (9.2M edges x 3.75M nodes per pass at
              the large tier). Each pass reads the previous one once: engines that inline CTEs (Spark) copy
              nothing twice.
    duckdb    semi-naive: a pass revisits only the neighbours of the nodes whose label went down in the
              previous pass, and keeps the nodes whose label goes down again. A node none of whose
              neighbours changed has already taken their labels, so its label cannot go down: most of the
              graph (people of two to five identifiers) settles in the first passes, and the later passes
              read a few nodes. The final label of a node is its smallest: labels only go down. Here each
              pass's CTEs are read several times, and DuckDB stores them once.
#}
{% macro propagate_labels(iterations) -%}
    {{ return(adapter.dispatch('propagate_labels', 'customer360')(iterations)) }}
{%- endmacro %}

{% macro default__propagate_labels(iterations) -%}
{% for i in range(1, iterations + 1) %}
label_{{ i }} as (

    select e.node_a as node, min(l.label) as label
    from edges as e
    inner join label_{{ i - 1 }} as l on l.node = e.node_b
    group by e.node_a

),
{% endfor %}
components as (

    select node, label from label_{{ iterations }}

),

unsettled as (

    {{ nodes_lowered_by('label_' ~ iterations) }}

)
{%- endmacro %}

{% macro duckdb__propagate_labels(iterations) -%}
{% for i in range(1, iterations + 1) %}
-- pass {{ i }}: the smallest label among the neighbours that changed in pass {{ i - 1 }} (pass 1: all nodes)
proposed_{{ i }} as materialized (

    select e.node_a as node, min(f.label) as label
    from edges as e
    inner join {{ 'label_0' if i == 1 else 'changed_' ~ (i - 1) }} as f on f.node = e.node_b
    group by e.node_a

),

-- the nodes whose label goes down in pass {{ i }}, with their new label
changed_{{ i }} as materialized (

    select p.node, p.label
    from proposed_{{ i }} as p
    inner join (
        {%- if i == 1 %}
        select node, label from label_0
        {%- else %}
        -- the label after pass {{ i - 1 }}: the smallest so far
        select node, min(label) as label
        from (
            select node, label from label_0
            {%- for j in range(1, i) %}
            union all
            select node, label from changed_{{ j }}
            {%- endfor %}
        ) as labels
        where node in (select node from proposed_{{ i }})
        group by node
        {%- endif %}
    ) as current_labels on current_labels.node = p.node
    where p.label < current_labels.label

),
{% endfor %}
components as (

    select node, min(label) as label
    from (
        select node, label from label_0
        {%- for i in range(1, iterations + 1) %}
        union all
        select node, label from changed_{{ i }}
        {%- endfor %}
    ) as labels
    group by node

),

-- pass {{ iterations + 1 }}, not applied: only the neighbours of the nodes pass {{ iterations }} changed can go down
unsettled as (

    {{ nodes_lowered_by('label_0' if iterations == 0 else 'changed_' ~ iterations) }}

)
{%- endmacro %}

{#- The nodes of `components` whose label the labels of `labels` (node, label) would lower in one pass. -#}
{% macro nodes_lowered_by(labels) -%}
    select p.node
    from (
        select e.node_a as node, min(l.label) as label
        from edges as e
        inner join {{ labels }} as l on l.node = e.node_b
        group by e.node_a
    ) as p
    inner join components as c on c.node = p.node
    where p.label < c.label
{%- endmacro %}
