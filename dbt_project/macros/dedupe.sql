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
