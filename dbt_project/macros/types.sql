{#
  type_double()  an 8-byte float: `double` on DuckDB and Spark alike (dbt.type_float() is a 4-byte REAL
                 on DuckDB, too coarse for averages).
#}
{% macro type_double() -%}
    double
{%- endmacro %}
