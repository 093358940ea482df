{#
  first_by(value, order_by, where=none)
      the aggregate: `value` of the row that comes first by the expressions `order_by` (a list, compared in
      order, ascending), among the rows where `where` holds (all rows without it). One hash aggregation
      instead of a row_number() window, which sorts every row of each group: at the large tier a person's
      first web session by row_number sorted 45 million events.
      The ordering must be unique within a group (end it with a key) so the result is deterministic. Rows
      outside `where` get a null ordering, which both engines skip; a null `value` at the first row is the
      result (Spark's min_by; DuckDB's arg_min would skip it, arg_min_null does not).
#}
{% macro first_by(value, order_by, where=none) -%}
    {{ return(adapter.dispatch('first_by', 'customer360')(value, order_by, where)) }}
{%- endmacro %}

{% macro default__first_by(value, order_by, where) -%}
    {%- set ordering = order_by[0] if order_by | length == 1 else 'struct(' ~ order_by | join(', ') ~ ')' %}
    min_by({{ value }}, {% if where %}case when {{ where }} then {{ ordering }} end{% else %}{{ ordering }}{% endif %})
{%- endmacro %}

{% macro duckdb__first_by(value, order_by, where) -%}
    {%- set ordering = order_by[0] if order_by | length == 1 else 'row(' ~ order_by | join(', ') ~ ')' %}
    arg_min_null({{ value }}, {% if where %}case when {{ where }} then {{ ordering }} end{% else %}{{ ordering }}{% endif %})
{%- endmacro %}
