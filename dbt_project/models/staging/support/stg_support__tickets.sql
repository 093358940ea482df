-- Help-desk tickets, one row per ticket: the latest version known as of the as-of date (upsert).

-- Ranked on narrow rows, the chosen ones read whole (macros/dedupe.sql); incremental on DuckDB, reading and
-- writing only the keys whose chosen row changed (macros/materializations.sql).
{%- set not_stored_in = chosen_row_staging_table('ticket_id', known_at='updated_at') %}

with latest as (

    {{ latest_version_by_row(
        known_raw(source('support', 'tickets'), event_time='updated_at'), 'id', not_stored_in=not_stored_in
    ) }}

),

renamed as (

    select
        cast(id as {{ dbt.type_bigint() }}) as ticket_id,
        {{ normalize_email('requester_email') }} as email,
        {{ clean_code('channel') }} as channel,
        {{ clean_string('subject') }} as subject,
        {{ clean_code('status') }} as status,
        coalesce({{ clean_code('status') }} in ('new', 'open', 'pending'), false) as is_open,
        {{ clean_code('priority') }} as priority,
        cast(order_id as {{ dbt.type_bigint() }}) as order_id,
        {{ clean_code('satisfaction') }} as satisfaction,
        tags,
        {{ to_utc_timestamp('created_at') }} as created_at,
        {{ to_utc_timestamp('updated_at') }} as updated_at,
        {{ to_utc_timestamp('solved_at') }} as solved_at,
        {{ lineage_columns() }}
    from latest

)

select * from renamed
