{#
  Deduplication of raw records (portable: a window function in a subquery, no QUALIFY).

  deduplicate(relation, partition_by, order_by)
      select of `relation` keeping the first row per `partition_by` in `order_by` order. The result carries
      an extra column `_dedupe_rank` (always 1): select explicit columns from it.
  first_delivery(relation, key)
      append entities: of records delivered more than once (same key), keep the first delivery
      (earliest export date, then file name, then line). For small sources (deletion requests); the
      large ones use first_delivery_by_row.
  deduplicate_by_row(relation, partition_by, order_by, not_stored_in=none)
      the same choice for large raw sources: the rows are ranked on the key and ordering columns alone and
      the chosen ones are joined back by (_file, _line), which identify a raw row, so the sort of the whole
      history never carries the JSON payloads and original records (at the large tier those spilled tens
      of GB to disk). `relation` is a table or a parenthesised subquery, read twice: not a CTE, which the
      engine might materialise. No `_dedupe_rank` column.
      `not_stored_in` (an incremental model's own relation, with the lineage columns source_file and
      source_line): only the chosen rows not stored there already, i.e. the keys whose chosen row changed.
      A raw row, named by (_file, _line), never changes (a day is reloaded only to add files), so a stored
      row with the same (file, line) is the same row; the ranking still covers the whole history (narrow),
      and the chosen rows are read back from the few recent files they are in (DuckDB prunes the scan on
      the join's _file range).
  latest_version_by_row(relation, key, not_stored_in=none)
      upsert entities that way: the version with the latest updated_at wins; ties are broken by the latest
      file (export date, then file name, then line, all descending).
  first_delivery_by_row(relation, key, not_stored_in=none)
      first_delivery that way.
  known_raw(relation, since=none, event_time='timestamp')
      a parenthesised subquery of the raw rows whose `event_time` is known as of the as-of date (from the
      export date `since` on, if given): the `relation` argument of the *_by_row macros. With
      event_time=none, every row of the export dates up to the as-of date (for tables that keep the event
      time and leave the as-of filter on it to their readers).
#}

{% macro deduplicate(relation, partition_by, order_by) -%}
    select *
    from (
        select
            *,
            row_number() over (partition by {{ partition_by }} order by {{ order_by }}) as _dedupe_rank
        from {{ relation }}
    ) as ranked
    where _dedupe_rank = 1
{%- endmacro %}


{% macro first_delivery(relation, key='id') -%}
    {{ deduplicate(relation, key, 'dt asc, _file asc, _line asc') }}
{%- endmacro %}


{% macro deduplicate_by_row(relation, partition_by, order_by, not_stored_in=none) -%}
    {%- set chosen -%}
        select ranked._file, ranked._line
        from (
            select
                _file,
                _line,
                row_number() over (partition by {{ partition_by }} order by {{ order_by }}) as _dedupe_rank
            from {{ relation }} as candidates
        ) as ranked
        {%- if not_stored_in %}
        left join {{ not_stored_in }} as stored
            on stored.source_file = ranked._file and stored.source_line = ranked._line
        {%- endif %}
        where ranked._dedupe_rank = 1
        {%- if not_stored_in %}
            and stored.source_file is null
        {%- endif %}
    {%- endset %}
    {%- if not_stored_in %}
    -- The few changed rows are stored first, so that the scan of the raw rows whole is pruned to the files
    -- they are in (DuckDB pushes the join keys' range into it): at the large tier 10 thousand of 6.7 million
    -- orders are read, where a plain join let the optimiser read them all (13 s instead of 2).
    with chosen as {{ materialized_cte() }} (
        {{ chosen }}
    )
    select chosen_row.*
    from {{ relation }} as chosen_row
    inner join chosen
        on chosen._file = chosen_row._file and chosen._line = chosen_row._line
    {%- else %}
    select chosen_row.*
    from {{ relation }} as chosen_row
    inner join (
        {{ chosen }}
    ) as chosen
        on chosen._file = chosen_row._file and chosen._line = chosen_row._line
    {%- endif %}
{%- endmacro %}


{% macro latest_version_by_row(relation, key='id', updated_at='updated_at', not_stored_in=none) -%}
    {{ deduplicate_by_row(relation, key, updated_at ~ ' desc, dt desc, _file desc, _line desc', not_stored_in) }}
{%- endmacro %}


{% macro first_delivery_by_row(relation, key='id', not_stored_in=none) -%}
    {{ deduplicate_by_row(relation, key, 'dt asc, _file asc, _line asc', not_stored_in) }}
{%- endmacro %}


{% macro known_raw(relation, since=none, event_time='timestamp') -%}
    (
        select * from {{ relation }}
        where {% if event_time %}{{ known_as_of(to_utc_timestamp(adapter.quote(event_time))) }}
        {%- else %}dt <= {{ as_of_date() }}{% endif %}
        {%- if since %}
            -- only the partitions from `since` on: DuckDB and Spark skip the other files
            and dt >= cast('{{ since }}' as date)
        {%- endif %}
    )
{%- endmacro %}
