-- Cohorts partition the customers: the cohort sizes (one per cohort) add up to the customers with a
-- revenue order in fct_orders, month 0 retains the whole cohort, and retention_metrics' new customers and
-- customers to date agree. A row is a mismatch.
{{ config(meta={'dagster': {'ref': {'name': 'customer_cohorts_monthly'}}}) }}

with customers as (

    select count(distinct customer_key) as customers_with_revenue_order
    from {{ ref('fct_orders') }}
    where is_revenue_order and customer_key is not null

),

cohorts as (

    select
        sum(cohort_size) as cohort_sizes,
        sum(case when active_customers <> cohort_size then 1 else 0 end) as month_0_mismatches
    from {{ ref('customer_cohorts_monthly') }}
    where months_since_first_order = 0

),

metrics as (

    select sum(new_customers) as new_customers, max(customers_to_date) as customers_to_date
    from {{ ref('retention_metrics') }}

)

select
    c.customers_with_revenue_order,
    h.cohort_sizes,
    h.month_0_mismatches,
    m.new_customers,
    m.customers_to_date
from customers as c
cross join cohorts as h
cross join metrics as m
where coalesce(h.cohort_sizes, 0) <> c.customers_with_revenue_order
    or coalesce(h.month_0_mismatches, 0) <> 0
    or coalesce(m.new_customers, 0) <> c.customers_with_revenue_order
    or coalesce(m.customers_to_date, 0) <> c.customers_with_revenue_order
