{#-
  unique_since_reload: the key of an incremental (delete+insert) table is unique, nulls aside.

  With the var `reload_from_date` (every Dagster partitioned run sets it: the first export date it loads),
  only the rows the run can have added are checked: those exported from `margin_days` before that date on
  (the date column is tested not null), among themselves and against every older row, so a duplicate the
  run added is found. Stored rows it rewrites (re-sessionised web events) replace themselves by key. An
  incremental run re-selects the rows exported from event_reload_from (macros/staging_events.sql) on: after
  a run that stored the day before, lookback + 3 days before reload_from_date; the default margin, lookback
  + 7 days, leaves room for late events. Without the var (dbt by hand) the whole table is grouped; a first
  run's reload_from_date is its first export date, so every row is checked then too. At the large tier the
  whole table's test took 7-12 s a day (50M web events), this one about 1.5 s.
-#}
{% test unique_since_reload(model, column_name, date_column='export_date', margin_days=none) %}
{%- set reload_from = var('reload_from_date', none) %}
{%- set margin = margin_days if margin_days is not none else (var('engagement_lookback_days', 3) | int) + 7 %}
{%- if reload_from %}
{%- set first_day = modules.datetime.date.fromisoformat(reload_from | string) - modules.datetime.timedelta(days=margin) %}
{%- set since = "cast('" ~ first_day.isoformat() ~ "' as date)" %}

with reloaded as (

    select {{ column_name }} as key_value
    from {{ model }}
    where {{ date_column }} >= {{ since }}
        and {{ column_name }} is not null

)

select key_value, count(*) as rows_with_this_value
from reloaded
group by key_value
having count(*) > 1

union all

-- a reloaded row whose key an older row has too (delete+insert replaces older copies: none expected)
select t.{{ column_name }} as key_value, 2 as rows_with_this_value
from {{ model }} as t
where t.{{ date_column }} < {{ since }}
    and t.{{ column_name }} in (select key_value from reloaded)

{%- else %}

{#- the whole table: dbt's own unique test -#}
{{ adapter.dispatch('test_unique', 'dbt')(model, column_name) }}

{%- endif %}
{% endtest %}
