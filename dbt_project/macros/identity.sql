{#
  Identity-graph node ids, the keys every model joins int_identity_graph on.

  shop_node(expr)   'shop:<shop customer id>'
  email_node(expr)  'email:<normalised email>'
#}

{% macro shop_node(expr) -%}
    {{ dbt.concat(["'shop:'", "cast(" ~ expr ~ " as " ~ dbt.type_string() ~ ")"]) }}
{%- endmacro %}


{% macro email_node(expr) -%}
    {{ dbt.concat(["'email:'", expr]) }}
{%- endmacro %}


{#
  erasure_hash(node_expr)  salted hash of an identity-graph node id: what is kept of an erased person's
                           identifiers. The salt is the var `erasure_salt` (set it per brand, e.g. from an
                           environment variable in dbt_project.yml), so hashes cannot be looked up in a
                           table of known emails' hashes from elsewhere.
  is_erased_node(node_expr)  true when that node belongs to an erased person.
#}
{% macro erasure_hash(node_expr) -%}
    {{ dbt.hash(dbt.concat(["'" ~ var('erasure_salt', 'c360') ~ ":'", node_expr])) }}
{%- endmacro %}


{% macro is_erased_node(node_expr) -%}
    {{ return(adapter.dispatch('is_erased_node', 'customer360')(node_expr)) }}
{%- endmacro %}

{% macro default__is_erased_node(node_expr) -%}
    exists (
        select 1 from {{ ref('int_erased_identifiers') }} as erased
        where erased.identifier_hash = {{ erasure_hash(node_expr) }}
    )
{%- endmacro %}

{#- DuckDB: an uncorrelated IN (a semi join against the few erased hashes). The correlated EXISTS above is
    decorrelated there into a join that first stores every row being filtered, payload included: three
    such filters over the web events spilled over 70 GB at the large tier. A null node is not erased. -#}
{% macro duckdb__is_erased_node(node_expr) -%}
    coalesce({{ erasure_hash(node_expr) }} in (
        select erased.identifier_hash from {{ ref('int_erased_identifiers') }} as erased
    ), false)
{%- endmacro %}
