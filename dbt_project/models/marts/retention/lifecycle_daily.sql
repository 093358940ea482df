-- People per lifecycle stage at the end of every day, from the first day anyone is known to the as-of
-- date (every stage on every day, zeros included): running sums of entries minus exits of the per-person
-- stage changes (int_lifecycle_stage_changes), over a date spine. No person x day table is built.

with changes as (

    select changed_on, from_stage, to_stage from {{ ref('int_lifecycle_stage_changes') }}

),

spine as (

    {{ day_spine('(select min(changed_on) from ' ~ ref('int_lifecycle_stage_changes') ~ ')', as_of_date()) }}

),

stages as (

    {% for stage in lifecycle_stages() -%}
    select '{{ stage }}' as lifecycle_stage, {{ loop.index }} as stage_order
    {%- if not loop.last %}
    union all
    {% endif -%}
    {%- endfor %}

),

entries as (

    select changed_on as date_day, to_stage as lifecycle_stage, count(*) as entered_count
    from changes
    group by changed_on, to_stage

),

exits as (

    select changed_on as date_day, from_stage as lifecycle_stage, count(*) as exited_count
    from changes
    where from_stage is not null
    group by changed_on, from_stage

),

daily as (

    select
        d.date_day,
        s.lifecycle_stage,
        s.stage_order,
        coalesce(e.entered_count, 0) as entered_count,
        coalesce(x.exited_count, 0) as exited_count
    from spine as d
    cross join stages as s
    left join entries as e on e.date_day = d.date_day and e.lifecycle_stage = s.lifecycle_stage
    left join exits as x on x.date_day = d.date_day and x.lifecycle_stage = s.lifecycle_stage

),

running as (

    select
        *,
        sum(entered_count - exited_count) over (
            partition by lifecycle_stage order by date_day rows between unbounded preceding and current row
        ) as people_count
    from daily

),

with_totals as (

    select
        *,
        sum(people_count) over (partition by date_day) as known_people_count
    from running

)

select
    cast(date_day as date) as date_day,
    cast(lifecycle_stage as {{ dbt.type_string() }}) as lifecycle_stage,
    cast(stage_order as {{ dbt.type_int() }}) as stage_order,
    cast(people_count as {{ dbt.type_bigint() }}) as people_count,
    cast(entered_count as {{ dbt.type_bigint() }}) as entered_count,
    cast(exited_count as {{ dbt.type_bigint() }}) as exited_count,
    cast(known_people_count as {{ dbt.type_bigint() }}) as known_people_count,
    {{ safe_ratio('people_count', 'known_people_count') }} as share_of_known_people
from with_totals
