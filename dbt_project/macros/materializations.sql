{#
  How the large tables are kept, per engine (adapter-dispatched, ARCHITECTURE.md decision 7): the two event
  tables, the identifiers they carry, and the staging tables that keep one raw row per key (shop customers,
  orders, their lines and fulfillments, loyalty, referrals, reviews, subscriptions, tickets).

  large_table_materialization()
      'incremental' where the engine can delete rows (DuckDB: delete+insert by key, plus clean-up
      post-hooks); 'table' elsewhere. Spark's plain Parquet tables have no row-level DELETE or MERGE, and a
      partition overwrite would drop the rows of a re-sessionised owner's older days, so on Spark these
      tables are rebuilt in full at each run: the same rows, at full-build cost.
  large_table_hooks(hooks)
      `hooks` when the table is incremental, else none (a full build already applies their filters).
  chosen_row_staging_table(unique_key, known_at)
      the config() of a staging table that keeps one chosen raw row per key (the latest version, or the
      first delivery; macros/dedupe.sql), kept as a large table: returns what to pass as `not_stored_in` to
      the *_by_row macros (the table itself when the run is incremental, else none). Each run still ranks
      every known raw row (narrow rows), but reads and writes only the keys whose chosen row is not the
      stored one (new keys, new versions, and, when a past date is rebuilt, rows no longer known whose key
      has an earlier one), by delete+insert on the key. The post-hook removes the keys with no row known as
      of the as-of date: `known_at` is the event-time column the raw rows were filtered on (known_raw).
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


{% macro chosen_row_staging_table(unique_key, known_at) -%}
    {{ config(
        materialized=large_table_materialization(),
        unique_key=unique_key,
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
        post_hook=large_table_hooks([
            "delete from {{ this }} where not {{ known_as_of('" ~ known_at ~ "', 'export_date') }}",
        ]),
    ) }}
    {{ return(this if is_incremental() else none) }}
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
