{#
  The staging SQL of the two largest append sources, as macros, so that the incremental event tables can
  stage only the raw partitions a run can change (partition pruning) instead of reading the staging view,
  which deduplicates the whole history before any filter can reach the files.

  stage_web_events(since=none), stage_esp_email_events(since=none)
      the select of stg_web__events / stg_esp__email_events (the staging models are one call of these).
      `since` (a 'YYYY-MM-DD' string): read only the export dates from it on, deduplicating among them;
      the caller then drops re-deliveries of messages it stored from earlier dates (the first delivery
      wins, as in the view).
  rename_web_events(relation)
      the select of stg_web__events' columns from the raw web rows of `relation`, without deduplication.
  stage_web_event_first_deliveries(), stage_known_web_events()
      the two halves of a full build of int_web_events_enriched: the first delivery of each known message
      on narrow rows (message_id, the identifier columns, event_at, source_file, source_line), and every
      known raw row staged whole, re-deliveries included, for the caller to keep the chosen ones by
      (source_file, source_line).
  web_event_identifiers()
      the SQL of the identifier columns of a web event (anonymous_id, user_id, customer_id, email,
      channel) from its raw columns, as a dict: the one definition stg_web__events,
      stg_web__event_identifiers and the sessions of int_web_events_enriched all use.
  not_stored_before(staged_sql, relation, key, since)
      the rows of `staged_sql` (events staged from `since` on) whose `key` is not stored in `relation`
      from an earlier export date: a re-delivery of an event stored before is dropped, so the first
      delivery wins, as in the staging view. A left join, not NOT EXISTS, so the engine builds its hash
      table on the few days staged rather than on the stored history.
  event_reload_from(relation, lookback_days, reload_from)
      for an incremental run of `relation`: the first export date whose partitions can hold a new or
      changed row. The newest stored export date and event time, each less `lookback_days`; the event
      time bound less 2 more days, because ingestion quarantines records more than a day newer than
      their file's date (so a record happening on day D sits in a partition dated after D - 2 days); and
      `reload_from` (a backfill's first date), whichever is earliest. None on an empty table.
  export_dates_from(lookback_days, reload_from)
      the same for this model when it is a table kept by export date (stg_web__event_identifiers): its
      newest stored export date up to the as-of date less `lookback_days`, or `reload_from` when earlier.
      None (every partition) when nothing is stored yet or the table was stored by an older release
      without export_date (the run then rewrites it whole).
#}

{% macro stage_web_events(since=none) -%}
with deduplicated as (

    {{ first_delivery_by_row(known_raw(source('web', 'events'), since), 'messageId') }}

),

renamed as (

    {{ rename_web_events('deduplicated') }}

)

select * from renamed
{%- endmacro %}


{% macro rename_web_events(relation) -%}
    select
        messageId as message_id,
        {{ clean_code(adapter.quote('type')) }} as event_type,
        {{ clean_string('event') }} as event_name,
        {{ clean_string(adapter.quote('name')) }} as page_name,
        {%- for column, expression in web_event_identifiers().items() %}
        {{ expression }} as {{ column }},
        {%- endfor %}
        coalesce(
            {{ clean_string(json_extract_string('context', '$.page.url')) }},
            {{ clean_string(json_extract_string('properties', '$.url')) }}
        ) as page_url,
        coalesce(
            {{ clean_string(json_extract_string('properties', '$.path')) }},
            {{ clean_string(json_extract_string('context', '$.page.path')) }}
        ) as page_path,
        {{ clean_string(json_extract_string('context', '$.page.referrer')) }} as page_referrer,
        {{ clean_code(json_extract_string('context', '$.campaign.source')) }} as utm_source,
        {{ clean_code(json_extract_string('context', '$.campaign.medium')) }} as utm_medium,
        {{ clean_string(json_extract_string('context', '$.campaign.name')) }} as utm_campaign,
        {{ clean_string(json_extract_string('properties', '$.product_id')) }} as product_id,
        {{ clean_string(json_extract_string('properties', '$.category')) }} as product_category,
        {{ to_money(json_extract_string('properties', '$.price')) }} as product_price,
        properties,
        traits,
        context,
        {{ to_utc_timestamp(adapter.quote('timestamp')) }} as event_at,
        {{ to_utc_timestamp('sentAt') }} as sent_at,
        {{ to_utc_timestamp('receivedAt') }} as received_at,
        {{ lineage_columns() }}
    from {{ relation }}
{%- endmacro %}


{% macro stage_web_event_first_deliveries() -%}
    select
        messageId as message_id,
        {%- for column, expression in web_event_identifiers().items() %}
        {{ expression }} as {{ column }},
        {%- endfor %}
        {{ to_utc_timestamp(adapter.quote('timestamp')) }} as event_at,
        _file as source_file,
        _line as source_line
    from ({{ first_delivery_by_row(known_raw(source('web', 'events')), 'messageId') }}) as chosen
{%- endmacro %}


{% macro stage_known_web_events() -%}
    {{ rename_web_events(known_raw(source('web', 'events')) ~ ' as known') }}
{%- endmacro %}


{% macro web_event_identifiers() -%}
    {{ return({
        'anonymous_id': clean_string('anonymousId'),
        'user_id': clean_string('userId'),
        'customer_id': dbt.safe_cast(clean_string('userId'), dbt.type_bigint()),
        'email': normalize_email(json_extract_string('traits', '$.email')),
        'channel': clean_code(json_extract_string('context', '$.channel')),
    }) }}
{%- endmacro %}


{% macro stage_esp_email_events(since=none) -%}
with deduplicated as (

    {{ first_delivery_by_row(known_raw(source('esp', 'email_events'), since), 'id') }}

),

renamed as (

    select
        id as email_event_id,
        {{ clean_string('metric') }} as metric,
        case when metric like '%SMS%' then 'sms' else 'email' end as channel,
        {{ normalize_email('email') }} as email,
        {{ clean_string('phone_number') }} as phone_number,
        {{ clean_string('campaign_id') }} as campaign_id,
        {{ clean_string('flow_id') }} as flow_id,
        {{ clean_string('message_id') }} as message_id,
        {{ clean_string(json_extract_string('properties', '$.subject')) }} as subject,
        {{ clean_string(json_extract_string('properties', '$.url')) }} as url,
        {{ clean_code(json_extract_string('properties', '$.bounce_type')) }} as bounce_type,
        properties,
        {{ to_utc_timestamp(adapter.quote('timestamp')) }} as event_at,
        {{ lineage_columns() }}
    from deduplicated

)

select * from renamed
{%- endmacro %}


{% macro not_stored_before(staged_sql, relation, key, since) -%}
    select staged.*
    from ({{ staged_sql }}) as staged
    left join (
        select {{ key }} from {{ relation }}
        where export_date < cast('{{ since }}' as date)
            and {{ known_as_of('event_at', 'export_date') }}
    ) as stored_before on stored_before.{{ key }} = staged.{{ key }}
    where stored_before.{{ key }} is null
{%- endmacro %}


{% macro event_reload_from(relation, lookback_days, reload_from=none) -%}
    {%- if not execute -%}{{ return(none) }}{%- endif -%}
    {%- set query -%}
        select cast(least(
            {{ dbt.dateadd('day', -lookback_days, 'max(export_date)') }},
            cast({{ dbt.dateadd('day', -(lookback_days + 2), 'max(event_at)') }} as date)
            {%- if reload_from %}, cast('{{ reload_from }}' as date){% endif %}
        ) as {{ dbt.type_string() }})
        from {{ relation }}
        where {{ known_as_of('event_at', 'export_date') }}
    {%- endset -%}
    {%- set first = run_query(query).columns[0].values()[0] -%}
    {{ return(first if first else (reload_from if reload_from else none)) }}
{%- endmacro %}


{% macro export_dates_from(lookback_days, reload_from=none) -%}
    {#- (a unit test's `this` is its fixture's name, a string) -#}
    {%- if not execute or this is string -%}{{ return(none) }}{%- endif -%}
    {%- set stored_columns = adapter.get_columns_in_relation(this) | map(attribute='name') | map('lower') | list %}
    {%- if 'export_date' not in stored_columns -%}{{ return(none) }}{%- endif -%}
    {%- set query -%}
        select cast({{ dbt.dateadd('day', -lookback_days, 'max(export_date)') }} as {{ dbt.type_string() }})
        from {{ this }}
        where export_date <= {{ as_of_date() }}
    {%- endset -%}
    {%- set newest = run_query(query).columns[0].values()[0] -%}
    {%- if not newest -%}{{ return(none) }}{%- endif -%}
    {%- set newest = (newest | string)[:10] -%}
    {{ return([newest, reload_from | string] | min if reload_from else newest) }}
{%- endmacro %}
