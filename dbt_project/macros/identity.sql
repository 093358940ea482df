{#
  Identity-graph node ids, the keys every model joins int_identity_graph on.

  shop_node(expr)   'shop:<shop customer id>'
  email_node(expr)  'email:<normalised email>'
  (anonymous browsers: 'anon:<anonymous_id>')
#}

{% macro shop_node(expr) -%}
    {{ dbt.concat(["'shop:'", "cast(" ~ expr ~ " as " ~ dbt.type_string() ~ ")"]) }}
{%- endmacro %}


{% macro email_node(expr) -%}
    {{ dbt.concat(["'email:'", expr]) }}
{%- endmacro %}


{#
  web_event_node(customer_id, anonymous_id, email)
      the node a web event attaches by: its most specific identifier, shop:<customer_id> when the event has
      a user id, else anon:<anonymous_id>, else email:<traits.email>. Not falling back from a user id that is
      not in the graph keeps an erased person's events from attaching to anyone; anonymous ids of shared
      devices are not in the graph, so their anonymous events belong to nobody.
#}
{% macro web_event_node(customer_id='customer_id', anonymous_id='anonymous_id', email='email') -%}
    case
        when {{ customer_id }} is not null then {{ shop_node(customer_id) }}
        when {{ anonymous_id }} is not null then {{ dbt.concat(["'anon:'", anonymous_id]) }}
        else {{ email_node(email) }}
    end
{%- endmacro %}


{#
  erasure_hash(node_expr)  keyed hash of an identity-graph node id: what is kept of an erased person's
                           identifiers. HMAC-SHA256 with the secret key C360_ERASURE_SALT, as lower-case hex
                           (orchestration/privacy/keys.py computes the same in Python and in its own SQL), so
                           hashes cannot be looked up in a table of known emails' hashes from elsewhere.
                           The key is never in the SQL: only its two HMAC pads (64 bytes each, derived from it
                           by RFC 2104) reach the engine, outside the compiled SQL, manifest and logs.
  is_erased_node(node_expr)  true when that node belongs to an erased person.
#}
{% macro erasure_hash(node_expr) -%}
    {{ return(adapter.dispatch('erasure_hash', 'customer360')(node_expr)) }}
{%- endmacro %}

{#- DuckDB: the pads are session variables (BLOBs) that the dbt-duckdb plugin orchestration.transform.erasure_key
    sets on every connection. An unset one is an error, not a NULL hash that silently matches nobody (the casts
    keep DuckDB from folding the concatenation with an unset variable, of type NULL, to NULL first). -#}
{% macro duckdb__erasure_hash(node_expr) -%}
    {%- set missing = "the erasure key is not set on this DuckDB connection: profiles.yml needs the plugin "
                      ~ "orchestration.transform.erasure_key, which reads C360_ERASURE_SALT" -%}
    sha256(coalesce(cast(getvariable('c360_erasure_opad') as blob), error('{{ missing }}'))
        || unhex(sha256(coalesce(cast(getvariable('c360_erasure_ipad') as blob), error('{{ missing }}'))
            || encode({{ node_expr }}))))
{%- endmacro %}

{#- Spark: the pads, as hex, are session settings of the spark target (profiles.yml, from environment
    variables c360 sets before dbt runs), substituted into the query by Spark when it parses it
    (spark.sql.variable.substitute): the compiled SQL holds only the placeholders. -#}
{% macro spark__erasure_hash(node_expr) -%}
    sha2(concat({{ spark_erasure_pad('opad') }},
        unhex(sha2(concat({{ spark_erasure_pad('ipad') }}, encode({{ node_expr }}, 'UTF-8')), 256))), 256)
{%- endmacro %}

{% macro spark_erasure_pad(name) -%}
    {%- set setting = "'${spark.c360.erasure." ~ name ~ "}'" -%}
    case when length({{ setting }}) = 128 then unhex({{ setting }})
        else raise_error('the erasure key is not set in Spark (spark.c360.erasure.{{ name }}): run dbt on Spark through c360, which sets DBT_ENV_SECRET_C360_ERASURE_{{ name | upper }} from C360_ERASURE_SALT') end
{%- endmacro %}


{% macro is_erased_node(node_expr) -%}
    {{ return(adapter.dispatch('is_erased_node', 'customer360')(node_expr)) }}
{%- endmacro %}

{% macro default__is_erased_node(node_expr) -%}
    exists (
        select 1 from {{ ref('int_erased_identifiers') }} as erased
        where erased.identifier_hash = {{ erasure_hash(node_expr) }}
    )
{%- endmacro %}

{#- DuckDB: an uncorrelated IN (a semi join against the few erased hashes). The correlated EXISTS above is
    decorrelated there into a join that first stores every row being filtered, payload included: three
    such filters over the web events spilled over 70 GB at the large tier. A null node is not erased. -#}
{% macro duckdb__is_erased_node(node_expr) -%}
    coalesce({{ erasure_hash(node_expr) }} in (
        select erased.identifier_hash from {{ ref('int_erased_identifiers') }} as erased
    ), false)
{%- endmacro %}


{#- A web event of an erased person: any of its three identifiers belongs to one. Web events are never
    stored for them; int_web_events_enriched's post-hook deletes with it the rows stored before the erasure
    request arrived. This form hashes each row's identifiers: for a day's rows. -#}
{% macro is_erased_web_event(customer_id='customer_id', anonymous_id='anonymous_id', email='email') -%}
    ({{ is_erased_node(dbt.concat(["'anon:'", anonymous_id])) }}
        or {{ is_erased_node(shop_node(customer_id)) }}
        or {{ is_erased_node(email_node(email)) }})
{%- endmacro %}


{#
  The same tests over a whole history (a full build, or the post-hook that deletes the stored rows of
  people erased since): the rows' own columns anonymous_id, customer_id, email.

  is_erased_web_event_in_history(relation=none)   a web event of an erased person
  is_erased_email_in_history(relation=none)       an email event of an erased person

  DuckDB: hashing every row's identifiers cost more than anything else in a one-day run of the web events
  (three keyed hashes of 50M rows at the large tier). The identifiers an erased person can have on these
  rows are all in a much smaller table: stg_web__event_identifiers (stg_esp__recipients for emails) holds
  every customer id and email of the raw events, and every anonymous id that identity resolution knows
  (an anonymous id only joins a person through that table). So each distinct value of that table is hashed
  once, and the rows are matched on the erased plain values. `relation` (the table the post-hook cleans):
  its rows exported after the newest export date of that table are added, so a run that built the event
  table but not that one (a partial selection) misses nothing. The plain values exist only inside the query.
  Other engines: the per-row test.
#}
{% macro is_erased_web_event_in_history(relation=none) -%}
    {{ return(adapter.dispatch('is_erased_web_event_in_history', 'customer360')(relation)) }}
{%- endmacro %}

{% macro default__is_erased_web_event_in_history(relation) -%}
    {{ is_erased_web_event() }}
{%- endmacro %}

{% macro duckdb__is_erased_web_event_in_history(relation) -%}
    {%- set identifiers = ref('stg_web__event_identifiers') %}
    (coalesce(anonymous_id in ({{ erased_values('anonymous_id', dbt.concat(["'anon:'", 'value']), identifiers, relation) }}), false)
        or coalesce(customer_id in ({{ erased_values('customer_id', shop_node('value'), identifiers, relation) }}), false)
        or coalesce(email in ({{ erased_values('email', email_node('value'), identifiers, relation) }}), false))
{%- endmacro %}

{% macro is_erased_email_in_history(relation=none) -%}
    {{ return(adapter.dispatch('is_erased_email_in_history', 'customer360')(relation)) }}
{%- endmacro %}

{% macro default__is_erased_email_in_history(relation) -%}
    {{ is_erased_node(email_node('email')) }}
{%- endmacro %}

{% macro duckdb__is_erased_email_in_history(relation) -%}
    coalesce(email in ({{ erased_values('email', email_node('value'), ref('stg_esp__recipients'), relation) }}), false)
{%- endmacro %}

{#- The erased values of `column` (each distinct value of `identifiers`, and of `relation`'s rows exported
    after its newest export date) whose node (`node_sql` of `value`) belongs to an erased person. -#}
{% macro erased_values(column, node_sql, identifiers, relation=none) -%}
    select value
    from (
        select distinct {{ column }} as value from {{ identifiers }} where {{ column }} is not null
        {%- if relation is not none %}
        union
        select {{ column }} from {{ relation }}
        where {{ column }} is not null
            and export_date > (
                select coalesce(max(export_date), cast('1900-01-01' as date)) from {{ identifiers }}
            )
        {%- endif %}
    ) as seen
    where {{ is_erased_node(node_sql) }}
{%- endmacro %}
