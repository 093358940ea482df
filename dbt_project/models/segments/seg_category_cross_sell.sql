-- Marketing: buyers with a recommended next category (int_customer_next_category: what buyers of their
-- categories went on to buy), never a category or product they subscribe to (Marshall).

with candidates as (

    select
        c360.customer_key,
        {{ dbt.concat(["'buys '", "c360.top_category", "', next: '", "next_category.recommended_category"]) }}
            as segment_reason,
        c360.top_category,
        next_category.recommended_category,
        next_category.recommended_product_id,
        next_category.recommendation_confidence
    from {{ ref('customer_360') }} as c360
    inner join {{ ref('int_customer_next_category') }} as next_category
        on next_category.customer_key = c360.customer_key
    where c360.orders_count >= 1

)

{{ segment_members('candidates', ['segment_reason', 'top_category', 'recommended_category',
                                  'recommended_product_id', 'recommendation_confidence']) }}
