-- Monthly acquisition cohorts: customers grouped by the month of their first revenue order, followed month
-- by month (months_since_first_order 0, 1, 2, ... up to the as-of month, every month present, zeros where
-- nobody ordered). Revenue orders only (test, cancelled and voided excluded; store receipts included;
-- anonymous receipts belong to no cohort).

with orders as (

    select customer_key, customer_cohort_month, order_month, net_revenue
    from {{ ref('fct_orders') }}
    where is_revenue_order and customer_key is not null

),

as_of as (

    select
        {{ as_of_date() }} as as_of_date,
        cast({{ dbt.date_trunc('month', as_of_date()) }} as date) as as_of_month

),

cohorts as (

    select customer_cohort_month as cohort_month, count(distinct customer_key) as cohort_size
    from orders
    group by customer_cohort_month

),

offsets as (

    {{ month_offsets(
        '(select ' ~ dbt.datediff('min(c.cohort_month)', 'max(a.as_of_month)', 'month')
        ~ ' from cohorts as c cross join as_of as a)'
    ) }}

),

grid as (

    select
        c.cohort_month,
        c.cohort_size,
        o.n as months_since_first_order,
        cast({{ dbt.dateadd('month', 'o.n', 'c.cohort_month') }} as date) as activity_month,
        a.as_of_date,
        a.as_of_month
    from cohorts as c
    cross join as_of as a
    inner join offsets as o on o.n <= {{ dbt.datediff('c.cohort_month', 'a.as_of_month', 'month') }}

),

activity as (

    select
        customer_cohort_month as cohort_month,
        order_month as activity_month,
        count(distinct customer_key) as active_customers,
        count(*) as orders_count,
        sum(net_revenue) as net_revenue
    from orders
    group by customer_cohort_month, order_month

),

joined as (

    select
        g.cohort_month,
        g.months_since_first_order,
        g.activity_month,
        g.cohort_size,
        coalesce(a.active_customers, 0) as active_customers,
        coalesce(a.orders_count, 0) as orders_count,
        coalesce(a.net_revenue, 0) as net_revenue,
        g.activity_month = g.as_of_month
            and g.as_of_date < cast({{ dbt.last_day('g.as_of_month', 'month') }} as date) as is_partial_month
    from grid as g
    left join activity as a on a.cohort_month = g.cohort_month and a.activity_month = g.activity_month

),

cumulative as (

    select
        *,
        sum(net_revenue) over (
            partition by cohort_month order by months_since_first_order
            rows between unbounded preceding and current row
        ) as cumulative_net_revenue
    from joined

)

select
    cast(cohort_month as date) as cohort_month,
    cast(months_since_first_order as {{ dbt.type_int() }}) as months_since_first_order,
    cast(activity_month as date) as activity_month,
    cast(cohort_size as {{ dbt.type_bigint() }}) as cohort_size,
    cast(active_customers as {{ dbt.type_bigint() }}) as active_customers,
    {{ safe_ratio('active_customers', 'cohort_size') }} as retention_rate,
    cast(orders_count as {{ dbt.type_bigint() }}) as orders_count,
    cast(net_revenue as {{ type_money() }}) as net_revenue,
    cast(cumulative_net_revenue as {{ type_money() }}) as cumulative_net_revenue,
    {{ money_divide("cumulative_net_revenue", "cohort_size") }} as cumulative_net_revenue_per_customer,
    cast(is_partial_month as {{ dbt.type_boolean() }}) as is_partial_month
from cumulative
