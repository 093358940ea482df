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
