{#
  segment_rules: the rules every segment must obey, checked on the built table (one failing row per broken
  rule and member). Attached to every segment (validate_segment_meta insists), so nothing is copied per
  segment.
    duplicate_key       customer_key null or not unique
    no_email            a member without an email
    consent             marketing: email consent not 'subscribed' (in the segment or in customer_360) or
                        inside the service-recovery window; service: a hard bounce or spam complaint
    subscribed_promoted the promoted category / product (the columns meta.segment.promotes declares) is one
                        the member actively subscribes to
    erased              the member's email belongs to an erased person
    global_holdout      marketing: a member in the global holdout (var global_holdout_share) is not held out
    holdout_share       the control group's share is off the expected share by more than chance allows
                        (4 standard errors, at least 2 points; checked from `min_members` members): the
                        declared share, and for marketing also the global holdout's (1 - (1 - s)(1 - g))
#}

{% test segment_rules(model, min_members=200) %}
{%- set settings = segment_settings_of(model) -%}
{%- set share = settings.holdout_share if settings.purpose != 'marketing'
    else 1 - (1 - settings.holdout_share) * (1 - global_holdout_share()) -%}
{#- referenced outside the loop over the declared columns below (empty while parsing), so dbt records the dependency when parsing -#}
{%- set subscriptions = ref('int_subscriptions_resolved') -%}

with members as (select * from {{ model }}),

failures as (

    select 'duplicate_key' as rule, customer_key
    from members
    group by customer_key
    having customer_key is null or count(*) > 1

    union all

    select 'no_email', customer_key from members where email is null

    union all

    select 'consent', m.customer_key
    from members as m
    left join {{ ref('customer_360') }} as c360 on c360.customer_key = m.customer_key
    where
    {%- if settings.purpose == 'marketing' %}
        m.email_consent <> 'subscribed' or c360.email_consent is null or c360.email_consent <> 'subscribed'
        or {{ in_recovery_window('c360.last_negative_experience_at') }}
    {%- else %}
        m.email_consent in ('bounced', 'spam_complaint') or c360.email_consent in ('bounced', 'spam_complaint')
    {%- endif %}

    {%- for item, column in settings.promotes.items() %}

    union all

    select 'subscribed_promoted', m.customer_key
    from members as m
    inner join {{ subscriptions }} as sub
        on sub.customer_key = m.customer_key and sub.is_active and sub.{{ item }} = m.{{ column }}
    {%- endfor %}

    {%- if settings.purpose == 'marketing' %}

    union all

    select 'global_holdout', customer_key from members
    where not is_holdout and {{ in_global_holdout('customer_key') }}
    {%- endif %}

    union all

    select 'erased', m.customer_key
    from members as m
    where {{ is_erased_node(email_node('m.email')) }}

    union all

    select 'holdout_share', cast(null as {{ dbt.type_string() }})
    from (
        select count(*) as n, sum(case when is_holdout then 1 else 0 end) as held_out from members
    ) as shares
    where n >= {{ min_members }}
        and abs(held_out * 1.0 / n - {{ share }}) > greatest(
            0.02, 4 * sqrt({{ share }} * (1 - {{ share }}) / n)
        )

)

select * from failures
{% endtest %}


{#
  segment_holdout_stable: a member who is open in segments.segment_memberships (the history kept across
  runs) keeps the holdout flag recorded when they entered. Passes while there is no history yet (first
  build). Found by name, not ref(), so the segment does not depend on its own history. One flip is allowed:
  into the holdout by the global holdout (switched on or raised), which stops the messages at once; the stay
  keeps the flag recorded at entry.
#}
{% test segment_holdout_stable(model) %}
{%- set history = adapter.get_relation(database=model.database, schema='segments',
    identifier='segment_memberships') if execute else none -%}
{%- if history is none %}
select cast(null as {{ dbt.type_string() }}) as customer_key where 1 = 0
{%- else %}
select m.customer_key
from {{ model }} as m
inner join {{ history }} as h
    on h.segment_name = '{{ model.identifier }}' and h.customer_key = m.customer_key and h.exited_at is null
where h.is_holdout <> m.is_holdout
    and not (m.is_holdout and {{ in_global_holdout('m.customer_key') }})
{%- endif %}
{% endtest %}
