-- The current lifecycle stage of every known person (as of the as-of date): the last row of
-- int_lifecycle_stage_changes, so customer_360, the segments and lifecycle_daily all follow one rule
-- (macro lifecycle_stage()).

with changes as (

    select * from {{ ref('int_lifecycle_stage_changes') }}

),

people as (

    select customer_key, min(changed_on) as first_known_on, count(*) as lifecycle_stage_changes_count
    from changes
    group by customer_key

)

select
    c.customer_key,
    c.to_stage as lifecycle_stage,
    c.changed_on as lifecycle_stage_since,
    c.from_stage as previous_lifecycle_stage,
    p.first_known_on,
    p.lifecycle_stage_changes_count
from changes as c
inner join people as p on p.customer_key = c.customer_key
where c.next_changed_on is null
