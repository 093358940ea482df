-- Marketing: first-time buyers `second_purchase_min_days` to `second_purchase_max_days` days after their
-- first order, with a category to suggest (the buyer's likely next category, never one they subscribe to).

with candidates as (

    select
        c360.customer_key,
        {{ dbt.concat(["'first order '", dbt.cast(dbt.datediff('c360.first_order_at', as_of_end(), 'day') ~ ' - 1',
                       dbt.type_string()), "' days ago'"]) }} as segment_reason,
        c360.first_order_at,
        cast({{ dbt.datediff('c360.first_order_at', as_of_end(), 'day') }} - 1 as {{ dbt.type_bigint() }}) as days_since_first_order,
        c360.top_category as first_order_category,
        next_category.recommended_category,
        next_category.recommended_product_id
    from {{ ref('customer_360') }} as c360
    left join {{ ref('int_customer_next_category') }} as next_category
        on next_category.customer_key = c360.customer_key
    where c360.orders_count = 1
        and {{ dbt.datediff('c360.first_order_at', as_of_end(), 'day') }} - 1
            between {{ var('second_purchase_min_days', 14) }} and {{ var('second_purchase_max_days', 60) }}

)

{{ segment_members('candidates', ['segment_reason', 'first_order_at', 'days_since_first_order',
                                  'first_order_category', 'recommended_category', 'recommended_product_id']) }}
