{#
  Deduplication of raw records (portable: a window function in a subquery, no QUALIFY).

  deduplicate(relation, partition_by, order_by)
      select of `relation` keeping the first row per `partition_by` in `order_by` order. The result carries
      an extra column `_dedupe_rank` (always 1): select explicit columns from it.
  latest_version(relation, key)
      upsert entities: the version with the latest updated_at wins; ties are broken by the latest file
      (export date, then file name, then line, all descending).
  first_delivery(relation, key)
      append entities: of records delivered more than once (same key), keep the first delivery
      (earliest export date, then file name, then line).
  deduplicate_by_row(relation, partition_by, order_by)
      the same choice for large raw sources: the rows are ranked on the key and ordering columns alone and
      the chosen ones are joined back by (_file, _line), which identify a raw row, so the sort of the whole
      history never carries the JSON payloads and original records (at the large tier those spilled tens
      of GB to disk). `relation` is a table or a parenthesised subquery, read twice: not a CTE, which the
      engine might materialise. No `_dedupe_rank` column.
  latest_version_by_row(relation, key), first_delivery_by_row(relation, key)
      latest_version and first_delivery that way.
  known_raw(relation, since=none, event_time='timestamp')
      a parenthesised subquery of the raw rows whose `event_time` is known as of the as-of date (from the
      export date `since` on, if given): the `relation` argument of the *_by_row macros.
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


{% macro latest_version(relation, key='id', updated_at='updated_at') -%}
    {{ deduplicate(relation, key, updated_at ~ ' desc, dt desc, _file desc, _line desc') }}
{%- endmacro %}


{% macro first_delivery(relation, key='id') -%}
    {{ deduplicate(relation, key, 'dt asc, _file asc, _line asc') }}
{%- endmacro %}


{% macro deduplicate_by_row(relation, partition_by, order_by) -%}
    select chosen_row.*
    from {{ relation }} as chosen_row
    inner join (
        select _file, _line
        from (
            select
                _file,
                _line,
                row_number() over (partition by {{ partition_by }} order by {{ order_by }}) as _dedupe_rank
            from {{ relation }} as candidates
        ) as ranked
        where _dedupe_rank = 1
    ) as chosen
        on chosen._file = chosen_row._file and chosen._line = chosen_row._line
{%- endmacro %}


{% macro latest_version_by_row(relation, key='id', updated_at='updated_at') -%}
    {{ deduplicate_by_row(relation, key, updated_at ~ ' desc, dt desc, _file desc, _line desc') }}
{%- endmacro %}


{% macro first_delivery_by_row(relation, key='id') -%}
    {{ deduplicate_by_row(relation, key, 'dt asc, _file asc, _line asc') }}
{%- endmacro %}


{% macro known_raw(relation, since=none, event_time='timestamp') -%}
    (
        select * from {{ relation }}
        where {{ known_as_of(to_utc_timestamp(adapter.quote(event_time))) }}
        {%- if since %}
            -- only the partitions from `since` on: DuckDB and Spark skip the other files
            and dt >= cast('{{ since }}' as date)
        {%- endif %}
    )
{%- endmacro %}
