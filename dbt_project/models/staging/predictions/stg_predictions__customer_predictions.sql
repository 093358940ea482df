-- Predictions of the BG/NBD + Gamma-Gamma step (source: predictions.customer_predictions), for this build's
-- as-of date only: predictions fitted for another date (a stale table) are not joined to today's customers.

select
    cast(customer_key as {{ dbt.type_string() }}) as customer_key,
    cast(p_alive as {{ type_double() }}) as p_alive,
    cast(churn_probability as {{ type_double() }}) as churn_probability,
    cast(predicted_orders_365d as {{ type_double() }}) as predicted_orders_365d,
    cast(predicted_clv_365d as {{ type_double() }}) as predicted_clv_365d,
    cast(expected_next_order_at as date) as expected_next_order_at,
    cast(model_status as {{ dbt.type_string() }}) as model_status
from {{ source_if_exists('predictions', 'customer_predictions', {
    'customer_key': dbt.type_string(), 'p_alive': type_double(), 'churn_probability': type_double(),
    'predicted_orders_365d': type_double(), 'predicted_clv_365d': type_double(), 'expected_next_order_at': 'date',
    'as_of_date': 'date', 'model_status': dbt.type_string()}) }} as predictions
where as_of_date = {{ as_of_date() }}
