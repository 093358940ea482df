-- lifecycle_daily reconciles with the people known: on every day, the people of all stages add up to
-- the people who became known by that day (int_lifecycle_events, `known`), and on the as-of date each
-- stage holds exactly the people whose current stage it is (int_customer_lifecycle). A row is a mismatch.
{{ config(meta={'dagster': {'ref': {'name': 'lifecycle_daily'}}}) }}

with known_on as (

    select customer_key, min(occurred_on) as known_on
    from {{ ref('int_lifecycle_events') }}
    where event_type = 'known'
    group by customer_key

),

known_per_day as (

    select known_on, count(*) as people_known_that_day
    from known_on
    group by known_on

),

daily_totals as (

    select date_day, sum(people_count) as people_in_stages
    from {{ ref('lifecycle_daily') }}
    group by date_day

),

expected as (

    select
        d.date_day,
        d.people_in_stages,
        (select coalesce(sum(k.people_known_that_day), 0) from known_per_day as k where k.known_on <= d.date_day)
            as people_known
    from daily_totals as d

),

current_stages as (

    select lifecycle_stage, count(*) as people
    from {{ ref('int_customer_lifecycle') }}
    group by lifecycle_stage

),

as_of_day as (

    select lifecycle_stage, people_count
    from {{ ref('lifecycle_daily') }}
    where date_day = {{ as_of_date() }}

)

select 'day total' as check_name, cast(date_day as {{ dbt.type_string() }}) as detail,
    people_in_stages as actual, people_known as expected
from expected
where people_in_stages <> people_known

union all

select 'as-of stage', coalesce(a.lifecycle_stage, c.lifecycle_stage),
    coalesce(a.people_count, 0), coalesce(c.people, 0)
from as_of_day as a
full outer join current_stages as c on c.lifecycle_stage = a.lifecycle_stage
where coalesce(a.people_count, 0) <> coalesce(c.people, 0)
