{#
  How the large tables are kept, per engine (adapter-dispatched, ARCHITECTURE.md decision 7): the two event
  tables, and the shop-order staging tables (orders, their lines and fulfillments).

  large_table_materialization()
      'incremental' where the engine can delete rows (DuckDB: delete+insert by key, plus clean-up
      post-hooks); 'table' elsewhere. Spark's plain Parquet tables have no row-level DELETE or MERGE, and a
      partition overwrite would drop the rows of a re-sessionised owner's older days, so on Spark these
      tables are rebuilt in full at each run: the same rows, at full-build cost.
  large_table_hooks(hooks)
      `hooks` when the table is incremental, else none (a full build already applies their filters).
#}

{% macro large_table_materialization() -%}
    {{ return(adapter.dispatch('large_table_materialization', 'customer360')()) }}
{%- endmacro %}

{% macro default__large_table_materialization() -%}
    {{ return('table') }}
{%- endmacro %}

{% macro duckdb__large_table_materialization() -%}
    {{ return('incremental') }}
{%- endmacro %}


{% macro large_table_hooks(hooks) -%}
    {{ return(hooks if large_table_materialization() == 'incremental' else []) }}
{%- endmacro %}


{#
  identity_edges_materialization()
      int_identity_edges is read by label propagation, through a CTE that DuckDB stores once per query, so
      it stays a view there and erased people's identifiers are never stored in a table. Spark inlines the
      view into every pass (16 copies of the staging union: minutes on the tiny tier), so there it is a
      table, rebuilt at each run from staging (which, like the raw layer, still holds those identifiers).
#}
{% macro identity_edges_materialization() -%}
    {{ return(adapter.dispatch('identity_edges_materialization', 'customer360')()) }}
{%- endmacro %}

{% macro default__identity_edges_materialization() -%}
    {{ return('table') }}
{%- endmacro %}

{% macro duckdb__identity_edges_materialization() -%}
    {{ return('view') }}
{%- endmacro %}


{#
  inline_cte()
      the hint that a CTE read more than once is evaluated at each read rather than stored first.
      DuckDB materialises such a CTE by default; for the event tables that meant holding every event with
      its payload (tens of GB spilled at the large tier) where each read needs only some columns, which
      it can select from the files directly. Other engines inline CTEs anyway: no hint there.
#}
{% macro inline_cte() -%}
    {{ return(adapter.dispatch('inline_cte', 'customer360')()) }}
{%- endmacro %}

{% macro default__inline_cte() -%}
{%- endmacro %}

{% macro duckdb__inline_cte() -%}
    not materialized
{%- endmacro %}


{#
  materialized_cte()
      the opposite hint: a CTE evaluated once and stored before the query reads it (DuckDB). Used where a
      small intermediate result must be complete before a large scan starts, so the scan can be pruned on
      it. Other engines: no hint.
#}
{% macro materialized_cte() -%}
    {{ return(adapter.dispatch('materialized_cte', 'customer360')()) }}
{%- endmacro %}

{% macro default__materialized_cte() -%}
{%- endmacro %}

{% macro duckdb__materialized_cte() -%}
    materialized
{%- endmacro %}
