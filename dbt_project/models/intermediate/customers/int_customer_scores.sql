-- RFM scores and segment, and activity status, per buyer.
-- Scores are quintiles 1–5 (5 best) from percent_rank, so tied customers share a score (all one-time
-- buyers get the same frequency score): recency ranks fewer days since the last order higher, frequency
-- ranks more orders higher, monetary ranks more lifetime net revenue higher.
-- rfm_segment: the first rule of seed rfm_segment_rules (the R rfm package's table) that matches.
-- activity_status compares days since the last order with the customer's own rhythm (average days between
-- orders, at least `activity_min_gap_days`; one-time buyers use `activity_one_time_gap_days`):
-- active up to `activity_at_risk_multiplier` × rhythm, at_risk up to `activity_lapsed_multiplier` × rhythm,
-- lapsed beyond.

with buyers as (

    select
        customer_key,
        orders_count,
        lifetime_net_revenue,
        avg_days_between_orders,
        cast({{ dbt.datediff('last_order_at', as_of_end(), 'second') }} as {{ type_double() }}) / 86400 as days_since_last_order
    from {{ ref('int_customer_orders') }}

),

ranked as (

    select
        *,
        percent_rank() over (order by days_since_last_order desc) as recency_rank,
        percent_rank() over (order by orders_count) as frequency_rank,
        percent_rank() over (order by lifetime_net_revenue) as monetary_rank
    from buyers

),

scored as (

    select
        customer_key,
        days_since_last_order,
        orders_count,
        avg_days_between_orders,
        cast(least(5, 1 + floor(5 * recency_rank)) as {{ dbt.type_int() }}) as rfm_recency_score,
        cast(least(5, 1 + floor(5 * frequency_rank)) as {{ dbt.type_int() }}) as rfm_frequency_score,
        cast(least(5, 1 + floor(5 * monetary_rank)) as {{ dbt.type_int() }}) as rfm_monetary_score
    from ranked

),

matched as (

    select
        s.customer_key,
        r.rfm_segment,
        row_number() over (partition by s.customer_key order by r.priority) as match_rank
    from scored as s
    inner join {{ ref('rfm_segment_rules') }} as r
        on s.rfm_recency_score between r.recency_min and r.recency_max
        and s.rfm_frequency_score between r.frequency_min and r.frequency_max
        and s.rfm_monetary_score between r.monetary_min and r.monetary_max

),

rhythm as (

    select
        *,
        case
            when orders_count >= 2
                then greatest(avg_days_between_orders, {{ var('activity_min_gap_days', 14) }})
            else {{ var('activity_one_time_gap_days', 90) }}
        end as expected_gap_days
    from scored

)

select
    r.customer_key,
    r.rfm_recency_score,
    r.rfm_frequency_score,
    r.rfm_monetary_score,
    coalesce(m.rfm_segment, 'Others') as rfm_segment,
    case
        when r.days_since_last_order <= {{ var('activity_at_risk_multiplier', 1.5) }} * r.expected_gap_days
            then 'active'
        when r.days_since_last_order <= {{ var('activity_lapsed_multiplier', 3) }} * r.expected_gap_days
            then 'at_risk'
        else 'lapsed'
    end as activity_status,
    r.expected_gap_days
from rhythm as r
left join matched as m on m.customer_key = r.customer_key and m.match_rank = 1
