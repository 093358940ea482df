-- Per-buyer purchase summary in the definitions of the BG/NBD and Gamma-Gamma papers (Fader, Hardie & Lee
-- 2005; Fader & Hardie 2013), the input of the predictions step. Time unit: weeks; a purchase is a day with
-- at least one counted order (several orders on a day are one purchase of their summed net revenue).
--   frequency        repeat purchases: purchase days after the first one
--   recency_weeks    first purchase day -> last purchase day
--   age_weeks        first purchase day -> the as-of date (T)
--   monetary_value   mean net revenue of the repeat purchase days (null without one)
-- Calibration / holdout split for the model's diagnostic figure: the calibration period ends
-- `prediction_holdout_weeks` weeks before the as-of date; *_cal are the same measures at that date (null
-- for buyers whose first purchase came later) and holdout_frequency counts purchase days after it.

with purchase_days as (

    select customer_key, cast(ordered_at as date) as purchase_day, sum(net_revenue) as day_value
    from {{ ref('int_orders_unioned') }}
    where is_revenue_order and customer_key is not null and ordered_at < {{ as_of_end() }}
    group by customer_key, cast(ordered_at as date)

),

bounds as (

    select
        {{ as_of_date() }} as as_of_day,
        cast({{ dbt.dateadd('day', -7 * var('prediction_holdout_weeks', 13), as_of_date()) }} as date)
            as calibration_end_day

),

first_days as (

    select customer_key, min(purchase_day) as first_day from purchase_days group by customer_key

),

days as (

    select p.customer_key, p.purchase_day, p.day_value, f.first_day, b.as_of_day, b.calibration_end_day
    from purchase_days as p
    inner join first_days as f on f.customer_key = p.customer_key
    cross join bounds as b

)

select
    customer_key,
    min(first_day) as first_purchase_day,
    count(*) - 1 as frequency,
    cast({{ dbt.datediff('min(first_day)', 'max(purchase_day)', 'day') }} as {{ type_double() }}) / 7 as recency_weeks,
    cast({{ dbt.datediff('min(first_day)', 'min(as_of_day)', 'day') }} as {{ type_double() }}) / 7 as age_weeks,
    avg(case when purchase_day > first_day then cast(day_value as {{ type_double() }}) end) as monetary_value,
    case when min(first_day) <= min(calibration_end_day)
        then sum(case when purchase_day <= calibration_end_day then 1 else 0 end) - 1
    end as frequency_cal,
    case when min(first_day) <= min(calibration_end_day)
        then cast({{ dbt.datediff('min(first_day)', 'max(case when purchase_day <= calibration_end_day then purchase_day end)', 'day') }} as {{ type_double() }}) / 7
    end as recency_weeks_cal,
    case when min(first_day) <= min(calibration_end_day)
        then cast({{ dbt.datediff('min(first_day)', 'min(calibration_end_day)', 'day') }} as {{ type_double() }}) / 7
    end as age_weeks_cal,
    case when min(first_day) <= min(calibration_end_day)
        then sum(case when purchase_day > calibration_end_day then 1 else 0 end)
    end as holdout_frequency,
    min(calibration_end_day) as calibration_end_day,
    min(as_of_day) as as_of_date
from days
group by customer_key
