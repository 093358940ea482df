-- Referrals, one row per referral: the latest version known as of the as-of date (upsert).

-- Ranked on narrow rows, the chosen ones read whole (macros/dedupe.sql); incremental on DuckDB, reading and
-- writing only the keys whose chosen row changed (macros/materializations.sql).
{%- set not_stored_in = chosen_row_staging_table('referral_id', known_at='updated_at') %}

with latest as (

    {{ latest_version_by_row(
        known_raw(source('referrals', 'referrals'), event_time='updated_at'), 'id', not_stored_in=not_stored_in
    ) }}

),

renamed as (

    select
        id as referral_id,
        cast(referrer_customer_id as {{ dbt.type_bigint() }}) as referrer_customer_id,
        {{ normalize_email('referee_email') }} as referee_email,
        {{ clean_code('status') }} as status,
        coalesce({{ clean_code('status') }} = 'converted' or converted_at is not null, false) as is_converted,
        cast(converted_order_id as {{ dbt.type_bigint() }}) as converted_order_id,
        {{ to_utc_timestamp('created_at') }} as created_at,
        {{ to_utc_timestamp('updated_at') }} as updated_at,
        {{ to_utc_timestamp('converted_at') }} as converted_at,
        {{ lineage_columns() }}
    from latest

)

select * from renamed
