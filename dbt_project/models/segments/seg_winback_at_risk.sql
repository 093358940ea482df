-- Marketing: repeat, loyal and advocate customers who are slipping away: a high churn risk under the
-- BG/NBD model, or, where the model refused thin data (no churn risk), an activity status at_risk or lapsed
-- (no order for longer than their own rhythm allows; Larry). Suggests their favourite category and product
-- again, unless they subscribe to it.

with candidates as (

    select
        customer_key,
        {{ dbt.concat(["'no order for '", dbt.cast("days_since_last_order", dbt.type_string()),
                       "' days, usually every '", dbt.cast("cast(round(avg_days_between_orders, 0) as " ~ dbt.type_int() ~ ")",
                       dbt.type_string())]) }} as segment_reason,
        lifecycle_stage,
        churn_probability,
        orders_count,
        last_order_at,
        days_since_last_order,
        {{ unless_subscribed('customer_key', 'top_category', 'category') }} as recommended_category,
        {{ unless_subscribed('customer_key', 'favorite_product_id', 'product_id') }} as recommended_product_id
    from {{ ref('customer_360') }}
    where lifecycle_stage in ('repeat', 'loyal', 'advocate')
        and (
            churn_risk_band = 'high'
            or (churn_risk_band is null and activity_status in ('at_risk', 'lapsed'))
        )

)

{{ segment_members('candidates', ['segment_reason', 'lifecycle_stage', 'churn_probability', 'orders_count',
                                  'last_order_at', 'days_since_last_order', 'recommended_category', 'recommended_product_id']) }}
