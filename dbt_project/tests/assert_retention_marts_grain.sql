-- The grain of the retention marts with composite keys: one row per cohort and month offset, per day and
-- stage, per day and move, per person and day of change. A row is a duplicated key.
{{ config(meta={'dagster': {'ref': {'name': 'retention_metrics'}}}) }}

select 'customer_cohorts_monthly' as model, cast(cohort_month as {{ dbt.type_string() }}) as key_1,
    cast(months_since_first_order as {{ dbt.type_string() }}) as key_2, cast(null as {{ dbt.type_string() }}) as key_3,
    count(*) as rows_count
from {{ ref('customer_cohorts_monthly') }}
group by cohort_month, months_since_first_order
having count(*) > 1

union all

select 'lifecycle_daily', cast(date_day as {{ dbt.type_string() }}), lifecycle_stage, null, count(*)
from {{ ref('lifecycle_daily') }}
group by date_day, lifecycle_stage
having count(*) > 1

union all

select 'lifecycle_transitions', cast(date_day as {{ dbt.type_string() }}), from_stage, to_stage, count(*)
from {{ ref('lifecycle_transitions') }}
group by date_day, from_stage, to_stage
having count(*) > 1

union all

select 'int_lifecycle_stage_changes', customer_key, cast(changed_on as {{ dbt.type_string() }}), null, count(*)
from {{ ref('int_lifecycle_stage_changes') }}
group by customer_key, changed_on
having count(*) > 1
