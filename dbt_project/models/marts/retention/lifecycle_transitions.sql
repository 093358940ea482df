-- Lifecycle moves per day: how many people went from one stage to another (from_stage null = became
-- known that day). first_time -> repeat is the number marketers watch. Built from the per-person stage
-- changes (int_lifecycle_stage_changes), never from a person x day table.

select
    cast(changed_on as date) as date_day,
    cast(from_stage as {{ dbt.type_string() }}) as from_stage,
    cast(to_stage as {{ dbt.type_string() }}) as to_stage,
    cast(count(*) as {{ dbt.type_bigint() }}) as people_count
from {{ ref('int_lifecycle_stage_changes') }}
group by changed_on, from_stage, to_stage
