-- Shop customer accounts, one row per customer: the latest version known as of the as-of date (upsert).

-- Ranked on narrow rows, the chosen ones read whole (macros/dedupe.sql); incremental on DuckDB, reading and
-- writing only the customers whose chosen version changed (macros/materializations.sql).
{%- set not_stored_in = chosen_row_staging_table('customer_id', known_at='updated_at') %}

with latest as (

    {{ latest_version_by_row(
        known_raw(source('shop', 'customers'), event_time='updated_at'), 'id', not_stored_in=not_stored_in
    ) }}

),

renamed as (

    select
        cast(id as {{ dbt.type_bigint() }}) as customer_id,
        {{ normalize_email('email') }} as email,
        {{ clean_string('first_name') }} as first_name,
        {{ clean_string('last_name') }} as last_name,
        {{ clean_string('phone') }} as phone,
        {{ clean_string(json_extract_string('default_address', '$.city')) }} as city,
        upper({{ clean_string(json_extract_string('default_address', '$.province_code')) }}) as province_code,
        upper({{ clean_string(json_extract_string('default_address', '$.country_code')) }}) as country_code,
        {{ clean_string(json_extract_string('default_address', '$.zip')) }} as postal_code,
        accepts_marketing as has_accepted_marketing,
        {{ to_utc_timestamp('accepts_marketing_updated_at') }} as marketing_consent_updated_at,
        tags,
        {{ to_utc_timestamp('created_at') }} as created_at,
        {{ to_utc_timestamp('updated_at') }} as updated_at,
        {{ lineage_columns() }}
    from latest

)

select * from renamed
