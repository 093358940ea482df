-- Loyalty tier changes, one row per change (append; a change delivered twice is kept once).

-- Ranked on narrow rows, the chosen ones read whole (macros/dedupe.sql); incremental on DuckDB, reading and
-- writing only the keys whose chosen row changed (macros/materializations.sql).
{%- set not_stored_in = chosen_row_staging_table('tier_change_id', known_at='changed_at') %}

with deduplicated as (

    {{ first_delivery_by_row(
        known_raw(source('loyalty', 'tier_changes'), event_time='changed_at'), 'id', not_stored_in=not_stored_in
    ) }}

),

renamed as (

    select
        id as tier_change_id,
        cast(customer_id as {{ dbt.type_bigint() }}) as customer_id,
        {{ clean_code('previous_tier') }} as previous_tier,
        {{ clean_code('tier') }} as tier,
        {{ clean_string('reason') }} as reason,
        {{ to_utc_timestamp('changed_at') }} as changed_at,
        {{ lineage_columns() }}
    from deduplicated

)

select * from renamed
