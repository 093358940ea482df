-- The segments' definitions as last recorded with the history (source: segments.segment_definitions).

select
    cast(segment_name as {{ dbt.type_string() }}) as segment_name,
    cast(purpose as {{ dbt.type_string() }}) as purpose,
    cast(holdout_share as {{ type_double() }}) as holdout_share,
    cast(destinations as {{ dbt.type_string() }}) as destinations,
    cast(description as {{ dbt.type_string() }}) as description
from {{ source_if_exists('segments', 'segment_definitions', {
    'segment_name': dbt.type_string(), 'purpose': dbt.type_string(), 'holdout_share': type_double(),
    'destinations': dbt.type_string(), 'description': dbt.type_string()}) }} as definitions
