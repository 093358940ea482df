{#
  The as-of date (ARCHITECTURE.md decision 4): the warehouse is built "as known at the end of that day".

  as_of_date()  a SQL date expression: the var `as_of_date` (YYYY-MM-DD) when set (`c360 run` always sets
                it), else the latest export date loaded of the required sources (the newest `dt` partition
                of raw.shop__orders and raw.shop__customers: partition pruning makes this a listing, where
                raw.load_manifest would read every manifest file of the lake, twice per query). Never now().
  as_of_end()   the first instant after the as-of date (as-of date + 1 day, a UTC timestamp without zone).
  known_as_of(event_at, export_date)
                a predicate: the record happened before the end of the as-of date AND its landing file was
                exported on or before it. `event_at` must be a UTC timestamp (see to_utc_timestamp()).
#}

{% macro as_of_date() -%}
    {%- set value = var('as_of_date', none) -%}
    {%- set text = (value | string | trim) if value is not none else '' -%}
    {%- if text | lower in ('', 'none', 'null') -%}
        (select max(dt) from (
            select max(dt) as dt from {{ var('raw_schema', 'raw') }}.shop__orders
            union all
            select max(dt) as dt from {{ var('raw_schema', 'raw') }}.shop__customers
        ) as export_dates)
    {%- else -%}
        {%- if not modules.re.match('^[0-9]{4}-[0-9]{2}-[0-9]{2}$', text) -%}
            {{ exceptions.raise_compiler_error("var as_of_date must be a date as YYYY-MM-DD (or null), got: " ~ text) }}
        {%- endif -%}
        {#- a calendar date: strptime raises (a compilation error) on 2026-13-01 or 2026-02-30 -#}
        {%- do modules.datetime.datetime.strptime(text, '%Y-%m-%d') -%}
        cast('{{ text }}' as date)
    {%- endif -%}
{%- endmacro %}


{% macro as_of_end() -%}
    cast({{ dbt.dateadd('day', 1, as_of_date()) }} as {{ dbt.type_timestamp() }})
{%- endmacro %}


{% macro known_as_of(event_at, export_date='dt') -%}
    ({{ event_at }} < {{ as_of_end() }} and {{ export_date }} <= {{ as_of_date() }})
{%- endmacro %}
