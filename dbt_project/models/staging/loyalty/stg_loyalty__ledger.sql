-- Loyalty points ledger, one row per entry (append; an entry delivered twice is kept once).
-- `points_delta` is signed whatever sign the export uses: earn +, redeem and expire -, adjust as given.

-- Ranked on narrow rows, the chosen ones read whole (macros/dedupe.sql); incremental on DuckDB, reading and
-- writing only the keys whose chosen row changed (macros/materializations.sql).
{%- set not_stored_in = chosen_row_staging_table('ledger_entry_id', known_at='occurred_at') %}

with deduplicated as (

    {{ first_delivery_by_row(
        known_raw(source('loyalty', 'ledger'), event_time='occurred_at'), 'id', not_stored_in=not_stored_in
    ) }}

),

renamed as (

    select
        id as ledger_entry_id,
        cast(customer_id as {{ dbt.type_bigint() }}) as customer_id,
        {{ clean_code(adapter.quote('type')) }} as entry_type,
        cast(points as {{ dbt.type_bigint() }}) as points,
        cast(
            case {{ clean_code(adapter.quote('type')) }}
                when 'earn' then abs(points)
                when 'redeem' then -abs(points)
                when 'expire' then -abs(points)
                else points
            end
            as {{ dbt.type_bigint() }}
        ) as points_delta,
        cast(order_id as {{ dbt.type_bigint() }}) as order_id,
        {{ clean_string('reason') }} as reason,
        {{ to_utc_timestamp('occurred_at') }} as occurred_at,
        {{ to_utc_timestamp('expires_at') }} as expires_at,
        {{ lineage_columns() }}
    from deduplicated

)

select * from renamed
