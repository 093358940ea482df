{#
  The rules every segment obeys (CUSTOMER_360.md, "Segments"), in one place. A segment model selects its
  candidates (customer_key, segment_reason and the fields its message needs) and ends with

      {{ segment_members('candidates', ['segment_reason', 'loyalty_tier', ...]) }}

  which joins them to customer_360 and applies, by the purpose declared in the model's meta:
    marketing  email consent 'subscribed'; nobody inside the service-recovery window (a negative experience
               in the last `recovery_days`: Naomi); a member whose promoted product or category (the
               columns the meta declares in `segment.promotes`) is one they actively subscribe to is left
               out (Marshall; the segment should have picked something else, this is the backstop).
    service    only hard bounces and spam complaints are left out.
  Both: a member needs an email, and erased people cannot appear (they are not in customer_360).
  is_holdout flags a deterministic share (meta `holdout_share`) of the members as the control group: a hash
  of customer_key and the segment's name, so a person stays in or out of it on every rebuild. In a marketing
  segment it also flags the global holdout (var `global_holdout_share`, 0 = off): people held out of every
  marketing segment, by a hash of customer_key alone, so the whole programme's lift can be measured. Service
  segments never hold anyone out for it.
#}

{% macro segment_members(candidates, fields) -%}
{%- set settings = segment_settings_of(this) -%}
{#- referenced outside the loop over the declared columns (empty while parsing), so dbt records the
    dependency when parsing -#}
{%- set subscriptions = ref('int_subscriptions_resolved') -%}
select
    c360.customer_key,
    c360.email,
    c360.first_name,
    c360.email_consent,
    ({{ holdout_bucket(dbt.concat(["c360.customer_key", "'|'", "'" ~ this.identifier ~ "'"])) }}
        < {{ settings.holdout_share }}
    {%- if settings.purpose == 'marketing' %} or {{ in_global_holdout('c360.customer_key') }}{% endif %}) as is_holdout,
    {%- for field in fields %}
    candidates.{{ field }},
    {%- endfor %}
    c360.as_of_date
from {{ candidates }} as candidates
inner join {{ ref('customer_360') }} as c360 on c360.customer_key = candidates.customer_key
where c360.email is not null
{%- if settings.purpose == 'marketing' %}
    and c360.email_consent = 'subscribed'
    and not {{ in_recovery_window('c360.last_negative_experience_at') }}
    {%- for item, column in settings.promotes.items() %}
    and not exists (
        select 1 from {{ subscriptions }} as sub
        where sub.is_active and sub.customer_key = candidates.customer_key
            and sub.{{ item }} = candidates.{{ column }}
    )
    {%- endfor %}
{%- else %}
    and c360.email_consent not in ('bounced', 'spam_complaint')
{%- endif %}
{%- endmacro %}


{#- true when a negative experience at `experienced_at` is inside the service-recovery window -#}
{% macro in_recovery_window(experienced_at) -%}
    coalesce({{ experienced_at }} >= {{ dbt.dateadd('day', -var('recovery_days', 30), as_of_end()) }}, false)
{%- endmacro %}


{#- A number in [0, 1) from a hash of `expr`: the same on every engine and every run (md5, not the engine's
    own hash function, whose values change between versions). -#}
{% macro holdout_bucket(expr) -%}
    {{ return(adapter.dispatch('holdout_bucket', 'customer360')(expr)) }}
{%- endmacro %}

{% macro default__holdout_bucket(expr) -%}
    (cast(conv(substr(md5({{ expr }}), 1, 8), 16, 10) as bigint) / 4294967296.0)
{%- endmacro %}

{% macro duckdb__holdout_bucket(expr) -%}
    (cast(('0x' || substr(md5({{ expr }}), 1, 8)) as bigint) / 4294967296.0)
{%- endmacro %}


{#- The global holdout's share as a number: the var `global_holdout_share` (C360_GLOBAL_HOLDOUT_SHARE, default 0:
    off). Anything but a number in [0, 1) stops the build naming the variable. -#}
{% macro global_holdout_share() -%}
    {%- set text = var('global_holdout_share', 0) | string | trim -%}
    {%- if text | lower in ('', 'none', 'null') -%}
        {{ return(0.0) }}
    {%- endif -%}
    {%- if not modules.re.match('^([0-9]+[.]?[0-9]*|[.][0-9]+)$', text) or (text | float) >= 1 -%}
        {{ exceptions.raise_compiler_error("var global_holdout_share (C360_GLOBAL_HOLDOUT_SHARE) must be a number"
            ~ " with 0 <= share < 1, got: " ~ text) }}
    {%- endif -%}
    {{ return(text | float) }}
{%- endmacro %}


{#- true when the person is in the global holdout: md5(customer_key || '|_all_marketing'), read as a number in
    [0, 1), below the share. The key alone decides (no segment, no date), so a person is held out of every
    marketing segment, on every rebuild, and a larger share keeps everyone a smaller one held out. -#}
{% macro in_global_holdout(customer_key) -%}
    {%- set share = global_holdout_share() -%}
    {%- if share > 0 -%}
        ({{ holdout_bucket(dbt.concat([customer_key, "'|_all_marketing'"])) }} < {{ share }})
    {%- else -%}
        false
    {%- endif -%}
{%- endmacro %}


{#- Rank of a loyalty tier, to tell an upgrade from a downgrade (var `loyalty_tiers`, lowest first). -#}
{% macro loyalty_tier_rank(tier) -%}
    case {{ tier }}
    {%- for name in var('loyalty_tiers', ['bronze', 'silver', 'gold', 'platinum']) %}
        when '{{ name }}' then {{ loop.index }}
    {%- endfor %}
    end
{%- endmacro %}


{#- The segment meta of a built segment (purpose, holdout share with its defaults: the var holdout_share for
    marketing, 0 for service; promotes: item (category, product_id) -> the column holding what a message
    advertises, empty for 'none'), found in the graph by relation: the same answer for the model and its
    tests. -#}
{% macro segment_settings_of(relation) -%}
    {%- set found = {'purpose': 'marketing', 'holdout_share': var('holdout_share', 0.1) | float, 'promotes': {}} -%}
    {%- if execute -%}
        {%- for node in graph.nodes.values()
            if node.resource_type == 'model' and node.alias == relation.identifier
                and node.schema == relation.schema -%}
            {%- set segment = (node.config.meta or {}).get('segment') or {} -%}
            {%- set purpose = segment.get('purpose', 'marketing') -%}
            {%- set promotes = segment.get('promotes') -%}
            {%- do found.update({
                'purpose': purpose,
                'holdout_share': segment.get('holdout_share',
                    var('holdout_share', 0.1) if purpose == 'marketing' else 0) | float,
                'promotes': promotes if promotes is mapping else {}}) -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return(found) }}
{%- endmacro %}


{#- `column` unless the person actively subscribes to it (item: 'category' or 'product_id'), else null: how
    a segment drops a suggestion it must not make instead of dropping the member. -#}
{% macro unless_subscribed(customer_key, column, item) -%}
    case when exists (
        select 1 from {{ ref('int_subscriptions_resolved') }} as sub
        where sub.is_active and sub.customer_key = {{ customer_key }} and sub.{{ item }} = {{ column }}
    ) then null else {{ column }} end
{%- endmacro %}


{#- Names of the project's segment models with the given purpose (from the graph: empty when parsing). -#}
{% macro segment_names(purpose=none) -%}
    {%- set names = [] -%}
    {%- if execute -%}
        {%- for node in graph.nodes.values()
            if node.resource_type == 'model' and node.package_name == project_name and node.fqn[1] == 'segments' -%}
            {%- set segment = (node.config.meta or {}).get('segment') or {} -%}
            {%- if purpose is none or segment.get('purpose') == purpose -%}
                {%- do names.append(node.name) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return(names | sort) }}
{%- endmacro %}
