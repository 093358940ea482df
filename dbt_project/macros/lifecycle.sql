{#
  The lifecycle stage rule (CUSTOMER_360.md), in one place: int_lifecycle_stage_changes applies it on each
  day a person's inputs change, and every consumer (customer_360, lifecycle_daily, ...) reads its result.

  lifecycle_stage(orders_count, has_positive_signal, has_recent_negative_experience)
      prospect    known, no revenue order
      first_time  1 revenue order
      repeat      var('repeat_min_orders') .. var('loyal_min_orders') - 1 revenue orders
      loyal       var('loyal_min_orders')+ revenue orders
      advocate    repeat or loyal, plus a positive signal (a converted referral, or a review rated at least
                  var('positive_review_min_rating')), and no negative experience in the last
                  var('recovery_days') days
  lifecycle_stages()
      the stages in funnel order, for loops over stages.
#}

{% macro lifecycle_stage(orders_count, has_positive_signal, has_recent_negative_experience) -%}
    case
        when {{ orders_count }} >= {{ var('repeat_min_orders', 2) }}
            and {{ has_positive_signal }}
            and not {{ has_recent_negative_experience }}
            then 'advocate'
        when {{ orders_count }} >= {{ var('loyal_min_orders', 4) }} then 'loyal'
        when {{ orders_count }} >= {{ var('repeat_min_orders', 2) }} then 'repeat'
        when {{ orders_count }} >= 1 then 'first_time'
        else 'prospect'
    end
{%- endmacro %}


{% macro lifecycle_stages() -%}
    {{ return(['prospect', 'first_time', 'repeat', 'loyal', 'advocate']) }}
{%- endmacro %}
