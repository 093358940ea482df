-- customer_360: one row per person, every touchpoint joined (CUSTOMER_360.md). The contract is enforced:
-- BI and activation read these columns by name and type. Predictive columns (churn probability, predicted
-- orders and CLV, expected next order) come from the predictions step (BG/NBD + Gamma-Gamma); they are null
-- for a person without orders, and for everyone when the models refused thin data.

with profiles as (select * from {{ ref('int_customer_profiles') }}),
orders as (select * from {{ ref('int_customer_orders') }}),
scores as (select * from {{ ref('int_customer_scores') }}),
experience as (select * from {{ ref('int_customer_experience') }}),
engagement as (select * from {{ ref('int_customer_engagement') }}),
consent as (select * from {{ ref('int_customer_consent') }}),
subscriptions as (select * from {{ ref('int_customer_subscriptions') }}),
lifecycle as (select * from {{ ref('int_customer_lifecycle') }}),
loyalty as (select * from {{ ref('int_loyalty_members') }}),
predictions as (select * from {{ ref('stg_predictions__customer_predictions') }}),

joined as (

    select
        p.*,
        o.orders_count, o.first_order_at, o.last_order_at, o.lifetime_gross_revenue, o.lifetime_refunds,
        o.lifetime_net_revenue, o.average_order_value, o.avg_days_between_orders, o.orders_last_365d,
        o.net_revenue_last_365d, o.online_orders_count, o.store_orders_count, o.top_category,
        o.favorite_product_id, o.late_deliveries_count, o.refunded_orders_count, o.first_order_utm_source,
        o.first_order_channel,
        x.reviews_count, x.avg_review_rating, x.last_review_rating, x.last_review_at, x.tickets_count,
        x.open_tickets_count, x.last_csat, x.last_negative_experience_at, x.last_negative_experience_reason,
        e.emails_received_90d, e.emails_opened_90d, e.emails_clicked_90d, e.last_email_open_at,
        e.last_email_click_at, e.web_sessions_30d, e.product_views_30d, e.top_viewed_category_30d,
        e.last_site_visit_at, e.abandoned_checkout_at, e.events_attended, e.preferred_channel, e.best_send_hour,
        e.first_web_utm_source, e.first_seen_web_at,
        c.email_consent, c.email_consent_updated_at, c.sms_consent,
        l.loyalty_points_balance, l.points_expiring_30d, l.next_points_expiry_at, l.loyalty_tier,
        l.previous_loyalty_tier, l.loyalty_tier_changed_at,
        s.active_subscriptions_count, s.subscribed_product_ids, s.subscribed_categories, s.referrals_sent,
        s.referrals_converted,
        sc.rfm_recency_score, sc.rfm_frequency_score, sc.rfm_monetary_score, sc.rfm_segment,
        sc.activity_status,
        lc.lifecycle_stage,
        lc.lifecycle_stage_since,
        pr.churn_probability, pr.predicted_orders_365d, pr.predicted_clv_365d, pr.expected_next_order_at
    from profiles as p
    left join orders as o on o.customer_key = p.customer_key
    left join scores as sc on sc.customer_key = p.customer_key
    left join experience as x on x.customer_key = p.customer_key
    left join engagement as e on e.customer_key = p.customer_key
    left join consent as c on c.customer_key = p.customer_key
    left join subscriptions as s on s.customer_key = p.customer_key
    left join lifecycle as lc on lc.customer_key = p.customer_key
    left join loyalty as l on l.customer_id = p.shop_customer_id
    left join predictions as pr on pr.customer_key = p.customer_key

)

select
    -- identity
    cast(customer_key as {{ dbt.type_string() }}) as customer_key,
    cast(shop_customer_id as {{ dbt.type_bigint() }}) as shop_customer_id,
    cast(email as {{ dbt.type_string() }}) as email,
    cast(first_name as {{ dbt.type_string() }}) as first_name,
    cast(last_name as {{ dbt.type_string() }}) as last_name,
    cast(phone as {{ dbt.type_string() }}) as phone,
    cast(city as {{ dbt.type_string() }}) as city,
    cast(country_code as {{ dbt.type_string() }}) as country_code,
    cast(least(
        coalesce(signed_up_at, first_order_at, first_seen_web_at),
        coalesce(first_order_at, signed_up_at, first_seen_web_at),
        coalesce(first_seen_web_at, signed_up_at, first_order_at)
    ) as {{ dbt.type_timestamp() }}) as first_seen_at,
    cast(signed_up_at as {{ dbt.type_timestamp() }}) as signed_up_at,
    cast(coalesce(first_web_utm_source, first_order_utm_source, first_order_channel) as {{ dbt.type_string() }})
        as acquisition_channel,
    -- purchases
    cast(coalesce(orders_count, 0) as {{ dbt.type_bigint() }}) as orders_count,
    cast(first_order_at as {{ dbt.type_timestamp() }}) as first_order_at,
    cast(last_order_at as {{ dbt.type_timestamp() }}) as last_order_at,
    cast({{ dbt.datediff('last_order_at', as_of_end(), 'day') }} - 1 as {{ dbt.type_bigint() }})
        as days_since_last_order,
    cast(coalesce(lifetime_gross_revenue, 0) as {{ type_money() }}) as lifetime_gross_revenue,
    cast(coalesce(lifetime_refunds, 0) as {{ type_money() }}) as lifetime_refunds,
    cast(coalesce(lifetime_net_revenue, 0) as {{ type_money() }}) as lifetime_net_revenue,
    cast(average_order_value as {{ type_money() }}) as average_order_value,
    cast(avg_days_between_orders as {{ type_double() }}) as avg_days_between_orders,
    cast(coalesce(orders_last_365d, 0) as {{ dbt.type_bigint() }}) as orders_last_365d,
    cast(coalesce(net_revenue_last_365d, 0) as {{ type_money() }}) as net_revenue_last_365d,
    cast(coalesce(online_orders_count, 0) as {{ dbt.type_bigint() }}) as online_orders_count,
    cast(coalesce(store_orders_count, 0) as {{ dbt.type_bigint() }}) as store_orders_count,
    cast(top_category as {{ dbt.type_string() }}) as top_category,
    cast(favorite_product_id as {{ dbt.type_string() }}) as favorite_product_id,
    -- experience and sentiment
    cast(coalesce(reviews_count, 0) as {{ dbt.type_bigint() }}) as reviews_count,
    cast(avg_review_rating as {{ type_double() }}) as avg_review_rating,
    cast(last_review_rating as {{ dbt.type_int() }}) as last_review_rating,
    cast(last_review_at as {{ dbt.type_timestamp() }}) as last_review_at,
    cast(coalesce(tickets_count, 0) as {{ dbt.type_bigint() }}) as tickets_count,
    cast(coalesce(open_tickets_count, 0) as {{ dbt.type_bigint() }}) as open_tickets_count,
    cast(last_csat as {{ dbt.type_string() }}) as last_csat,
    cast(coalesce(late_deliveries_count, 0) as {{ dbt.type_bigint() }}) as late_deliveries_count,
    cast(coalesce(refunded_orders_count, 0) as {{ dbt.type_bigint() }}) as refunded_orders_count,
    cast(last_negative_experience_at as {{ dbt.type_timestamp() }}) as last_negative_experience_at,
    cast(last_negative_experience_reason as {{ dbt.type_string() }}) as last_negative_experience_reason,
    cast(
        case
            when last_negative_experience_at >= {{ dbt.dateadd('day', -var('recovery_days', 30), as_of_end()) }}
                then 'negative'
            when avg_review_rating >= {{ var('positive_review_min_rating', 4) }} or last_csat = 'good'
                or coalesce(referrals_converted, 0) > 0
                then 'positive'
            else 'neutral'
        end as {{ dbt.type_string() }}
    ) as sentiment,
    -- engagement and channel
    cast(coalesce(email_consent, 'never_subscribed') as {{ dbt.type_string() }}) as email_consent,
    cast(email_consent_updated_at as {{ dbt.type_timestamp() }}) as email_consent_updated_at,
    cast(coalesce(sms_consent, 'never_subscribed') as {{ dbt.type_string() }}) as sms_consent,
    cast(coalesce(emails_received_90d, 0) as {{ dbt.type_bigint() }}) as emails_received_90d,
    cast(coalesce(emails_opened_90d, 0) as {{ dbt.type_bigint() }}) as emails_opened_90d,
    cast(coalesce(emails_clicked_90d, 0) as {{ dbt.type_bigint() }}) as emails_clicked_90d,
    cast(last_email_open_at as {{ dbt.type_timestamp() }}) as last_email_open_at,
    cast(last_email_click_at as {{ dbt.type_timestamp() }}) as last_email_click_at,
    cast(coalesce(web_sessions_30d, 0) as {{ dbt.type_bigint() }}) as web_sessions_30d,
    cast(coalesce(product_views_30d, 0) as {{ dbt.type_bigint() }}) as product_views_30d,
    cast(top_viewed_category_30d as {{ dbt.type_string() }}) as top_viewed_category_30d,
    cast(last_site_visit_at as {{ dbt.type_timestamp() }}) as last_site_visit_at,
    cast(abandoned_checkout_at as {{ dbt.type_timestamp() }}) as abandoned_checkout_at,
    cast(coalesce(events_attended, 0) as {{ dbt.type_bigint() }}) as events_attended,
    cast(preferred_channel as {{ dbt.type_string() }}) as preferred_channel,
    cast(best_send_hour as {{ dbt.type_int() }}) as best_send_hour,
    -- loyalty, subscriptions, referrals
    cast(coalesce(loyalty_points_balance, 0) as {{ dbt.type_bigint() }}) as loyalty_points_balance,
    cast(coalesce(points_expiring_30d, 0) as {{ dbt.type_bigint() }}) as points_expiring_30d,
    cast(next_points_expiry_at as {{ dbt.type_timestamp() }}) as next_points_expiry_at,
    cast(loyalty_tier as {{ dbt.type_string() }}) as loyalty_tier,
    cast(previous_loyalty_tier as {{ dbt.type_string() }}) as previous_loyalty_tier,
    cast(loyalty_tier_changed_at as {{ dbt.type_timestamp() }}) as loyalty_tier_changed_at,
    cast(coalesce(active_subscriptions_count, 0) as {{ dbt.type_bigint() }}) as active_subscriptions_count,
    cast(subscribed_product_ids as {{ dbt.type_string() }}) as subscribed_product_ids,
    cast(subscribed_categories as {{ dbt.type_string() }}) as subscribed_categories,
    cast(coalesce(referrals_sent, 0) as {{ dbt.type_bigint() }}) as referrals_sent,
    cast(coalesce(referrals_converted, 0) as {{ dbt.type_bigint() }}) as referrals_converted,
    -- scores
    cast(rfm_recency_score as {{ dbt.type_int() }}) as rfm_recency_score,
    cast(rfm_frequency_score as {{ dbt.type_int() }}) as rfm_frequency_score,
    cast(rfm_monetary_score as {{ dbt.type_int() }}) as rfm_monetary_score,
    cast(rfm_segment as {{ dbt.type_string() }}) as rfm_segment,
    cast(lifecycle_stage as {{ dbt.type_string() }}) as lifecycle_stage,
    cast(lifecycle_stage_since as {{ dbt.type_timestamp() }}) as lifecycle_stage_since,
    cast(activity_status as {{ dbt.type_string() }}) as activity_status,
    cast(churn_probability as {{ type_double() }}) as churn_probability,
    cast(
        case
            when churn_probability >= {{ var('churn_risk_high', 0.66) }} then 'high'
            when churn_probability >= {{ var('churn_risk_medium', 0.33) }} then 'medium'
            when churn_probability is not null then 'low'
        end as {{ dbt.type_string() }}
    ) as churn_risk_band,
    cast(predicted_orders_365d as {{ type_double() }}) as predicted_orders_365d,
    cast(predicted_clv_365d as {{ type_money() }}) as predicted_clv_365d,
    cast(expected_next_order_at as date) as expected_next_order_at,
    cast({{ as_of_date() }} as date) as as_of_date
from joined
