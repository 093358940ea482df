{#
  dbt.safe_cast promises "null when the value cannot be cast", but dbt-duckdb renders a plain cast,
  which fails the whole query on one bad value (say a line item's "price": "abc" inside JSON that
  ingestion does not type-check). This DuckDB implementation keeps the promise with try_cast; other
  adapters keep dbt's own. dbt_project.yml's `dispatch` puts this project first in dbt's search order.
#}
{% macro duckdb__safe_cast(field, type) -%}
    try_cast({{ field }} as {{ type }})
{%- endmacro %}
