-- Segment membership history (source: the pipeline's segments.segment_memberships), typed and renamed.

select
    cast(segment_name as {{ dbt.type_string() }}) as segment_name,
    cast(customer_key as {{ dbt.type_string() }}) as customer_key,
    cast(entered_at as date) as entered_at,
    cast(exited_at as date) as exited_at,
    cast(is_holdout as {{ dbt.type_boolean() }}) as is_holdout
from {{ source_if_exists('segments', 'segment_memberships', {
    'segment_name': dbt.type_string(), 'customer_key': dbt.type_string(), 'entered_at': 'date',
    'exited_at': 'date', 'is_holdout': dbt.type_boolean()}) }} as memberships
