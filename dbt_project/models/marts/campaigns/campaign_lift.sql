-- Campaign lift per marketing segment: of the members who entered early enough for their conversion window
-- to be over (entered at least `campaign_conversion_days` before the as-of date), the share who placed a
-- counted order within that many days after entering, and their net revenue in that window, for the treated
-- members (synced to the email tools) and the holdout (never contacted). Entering at as-of date D means "a
-- member as of the end of D", so the window is the `campaign_conversion_days` days after D. Members still
-- inside their window are counted apart (pending). A stay that was entered, left and entered again counts
-- each time.
--
-- One more row, '_all_marketing', measures the whole programme: each person once, from their first entry
-- into any marketing segment; treated = outside the global holdout (var global_holdout_share), holdout = in
-- it and held out of every marketing segment they entered within their window (someone messaged before the
-- global holdout took them is in neither arm).
--
-- Counts and revenue moments (sum and sum of squares per arm) only: the intervals, p-values and verdicts
-- are computed from them by the lift statistics step (marts.campaign_lift_stats, orchestration/campaigns/).

with marketing_segments as (

    select segment_name
    from {{ ref('stg_segments__definitions') }}
    where purpose = 'marketing'

),

marketing_stays as (

    select m.segment_name, m.customer_key, m.entered_at, m.is_holdout
    from {{ ref('stg_segments__memberships') }} as m
    inner join marketing_segments as s on s.segment_name = m.segment_name
    where m.entered_at <= {{ as_of_date() }}

),

program_entries as (

    select customer_key, min(entered_at) as entered_at
    from marketing_stays
    group by customer_key

),

-- Was the person held out of every marketing stay they began within their programme window?
program_exposure as (

    select
        p.customer_key,
        p.entered_at,
        min(case when st.is_holdout then 1 else 0 end) as held_out_throughout
    from program_entries as p
    inner join marketing_stays as st
        on st.customer_key = p.customer_key
        and st.entered_at <= {{ dbt.dateadd('day', var('campaign_conversion_days', 30), 'p.entered_at') }}
    group by p.customer_key, p.entered_at

),

program_arms as (

    select customer_key, entered_at, held_out_throughout, {{ in_global_holdout('customer_key') }} as is_holdout
    from program_exposure

),

entries as (

    select segment_name, customer_key, entered_at, is_holdout
    from marketing_stays

    union all

    select '_all_marketing' as segment_name, customer_key, entered_at, is_holdout
    from program_arms
    where not is_holdout or held_out_throughout = 1

),

windows as (

    select
        segment_name,
        customer_key,
        entered_at,
        is_holdout,
        cast({{ dbt.dateadd('day', 1, 'entered_at') }} as {{ dbt.type_timestamp() }}) as window_start_at,
        cast({{ dbt.dateadd('day', var('campaign_conversion_days', 30) + 1, 'entered_at') }}
            as {{ dbt.type_timestamp() }}) as window_end_at
    from entries

),

outcomes as (

    select
        e.segment_name,
        e.customer_key,
        e.entered_at,
        e.is_holdout,
        e.window_end_at <= {{ as_of_end() }} as is_window_over,
        max(case when o.order_key is not null then 1 else 0 end) as converted,
        sum(coalesce(cast(o.net_revenue as {{ type_double() }}), 0)) as revenue
    from windows as e
    left join {{ ref('fct_orders') }} as o
        on o.customer_key = e.customer_key
        and o.is_revenue_order
        and o.ordered_at >= e.window_start_at
        and o.ordered_at < e.window_end_at
    group by e.segment_name, e.customer_key, e.entered_at, e.is_holdout, e.window_end_at

),

measured as (

    select segment_name from marketing_segments
    union all
    select '_all_marketing' as segment_name

),

per_segment as (

    select
        s.segment_name,
        sum(case when o.is_window_over and not o.is_holdout then 1 else 0 end) as treated_members,
        sum(case when o.is_window_over and not o.is_holdout then o.converted else 0 end) as treated_converted,
        sum(case when o.is_window_over and not o.is_holdout then o.revenue else 0 end) as treated_revenue,
        sum(case when o.is_window_over and not o.is_holdout then o.revenue * o.revenue else 0 end)
            as treated_revenue_sum_squares,
        sum(case when o.is_window_over and o.is_holdout then 1 else 0 end) as holdout_members,
        sum(case when o.is_window_over and o.is_holdout then o.converted else 0 end) as holdout_converted,
        sum(case when o.is_window_over and o.is_holdout then o.revenue else 0 end) as holdout_revenue,
        sum(case when o.is_window_over and o.is_holdout then o.revenue * o.revenue else 0 end)
            as holdout_revenue_sum_squares,
        sum(case when not o.is_window_over then 1 else 0 end) as pending_members,
        min(o.entered_at) as first_entered_at,
        max(o.entered_at) as last_entered_at
    from measured as s
    left join outcomes as o on o.segment_name = s.segment_name
    group by s.segment_name

)

select
    cast(segment_name as {{ dbt.type_string() }}) as segment_name,
    cast(coalesce(treated_members, 0) as {{ dbt.type_bigint() }}) as treated_members,
    cast(coalesce(treated_converted, 0) as {{ dbt.type_bigint() }}) as treated_converted,
    cast({{ safe_ratio('treated_converted', 'treated_members') }} as {{ type_double() }}) as treated_conversion_rate,
    cast(coalesce(holdout_members, 0) as {{ dbt.type_bigint() }}) as holdout_members,
    cast(coalesce(holdout_converted, 0) as {{ dbt.type_bigint() }}) as holdout_converted,
    cast({{ safe_ratio('holdout_converted', 'holdout_members') }} as {{ type_double() }}) as holdout_conversion_rate,
    cast(
        {{ safe_ratio('treated_converted', 'treated_members') }} - {{ safe_ratio('holdout_converted', 'holdout_members') }}
        as {{ type_double() }}
    ) as conversion_lift,
    cast(coalesce(treated_revenue, 0) as {{ type_double() }}) as treated_revenue,
    cast(coalesce(treated_revenue_sum_squares, 0) as {{ type_double() }}) as treated_revenue_sum_squares,
    cast({{ safe_ratio('treated_revenue', 'treated_members') }} as {{ type_double() }}) as treated_revenue_per_member,
    cast(coalesce(holdout_revenue, 0) as {{ type_double() }}) as holdout_revenue,
    cast(coalesce(holdout_revenue_sum_squares, 0) as {{ type_double() }}) as holdout_revenue_sum_squares,
    cast({{ safe_ratio('holdout_revenue', 'holdout_members') }} as {{ type_double() }}) as holdout_revenue_per_member,
    cast(
        {{ safe_ratio('treated_revenue', 'treated_members') }} - {{ safe_ratio('holdout_revenue', 'holdout_members') }}
        as {{ type_double() }}
    ) as revenue_lift_per_member,
    cast(coalesce(pending_members, 0) as {{ dbt.type_bigint() }}) as pending_members,
    cast(first_entered_at as date) as first_entered_at,
    cast(last_entered_at as date) as last_entered_at,
    cast({{ var('campaign_conversion_days', 30) }} as {{ dbt.type_int() }}) as conversion_window_days,
    cast({{ as_of_date() }} as date) as as_of_date
from per_segment
