{#
  Portable number and date series (no generate_series / range / recursive CTE, which differ by engine).

  integer_series(digits=5)
      a subquery body: one row per integer `n` from 0 to 10^digits - 1 (a cross join of `digits` copies of
      the ten digits; 5 digits = 100,000 rows = 273 years of days).
  day_spine(start_date, end_date, digits=5)
      a subquery body: one row per calendar day `date_day` (a date) from start_date to end_date, both
      included; both are date expressions (a scalar subquery is fine). Empty when end_date < start_date or
      either is null.
  month_offsets(max_offset, digits=4)
      a subquery body: one row per integer `n` from 0 to `max_offset` (an integer expression).
#}

{% macro integer_series(digits=5) -%}
    select
        {% for i in range(digits) -%}
            d{{ i }}.d * {{ 10 ** i }}{{ ' + ' if not loop.last }}
        {%- endfor %} as n
    from
        {% for i in range(digits) -%}
            (
                select 0 as d union all select 1 union all select 2 union all select 3 union all select 4
                union all select 5 union all select 6 union all select 7 union all select 8 union all select 9
            ) as d{{ i }}{{ ' cross join' if not loop.last }}
        {% endfor %}
{%- endmacro %}


{% macro day_spine(start_date, end_date, digits=5) -%}
    select cast({{ dbt.dateadd('day', 'numbers.n', start_date) }} as date) as date_day
    from ({{ integer_series(digits) }}) as numbers
    where numbers.n <= {{ dbt.datediff(start_date, end_date, 'day') }}
{%- endmacro %}


{% macro month_offsets(max_offset, digits=4) -%}
    select numbers.n
    from ({{ integer_series(digits) }}) as numbers
    where numbers.n <= {{ max_offset }}
{%- endmacro %}


{#
  month_spine(start_month, end_month, digits=4)
      a subquery body: one row per month `date_month` (the month's first day, a date) from the month of
      start_month to the month of end_month, both included.
#}
{% macro month_spine(start_month, end_month, digits=4) -%}
    select
        cast({{ dbt.dateadd('month', 'numbers.n', dbt.date_trunc('month', start_month)) }} as date) as date_month
    from ({{ integer_series(digits) }}) as numbers
    where numbers.n <= {{ dbt.datediff(dbt.date_trunc('month', start_month), dbt.date_trunc('month', end_month), 'month') }}
{%- endmacro %}
