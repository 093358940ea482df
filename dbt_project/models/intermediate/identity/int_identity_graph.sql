-- One row per identifier of a person who is not erased: the identifier ('shop:<id>', 'email:<email>',
-- 'anon:<anonymous id>') and the person's customer_key. Every model attaches records to people through
-- this view, so erased people drop out everywhere.

select customer_key, identifier, identifier_type, identifier_value, component_label
from {{ ref('int_identity_resolved') }}
where not is_erased
