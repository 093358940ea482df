-- Keyed hashes (macro erasure_hash) of every identifier of every person who asked to be erased (and of everything linked to
-- them: anonymous ids, other emails). Only the hash remains, so a later import can be suppressed without
-- the warehouse keeping who they were.

select identifier_hash
from {{ ref('int_identity_resolved') }}
where is_erased
