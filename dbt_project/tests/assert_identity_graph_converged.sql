-- Identity resolution converged: one more pass of label propagation would lower no identifier's label, so
-- both ends of every edge belong to the same person. A row here means var('identity_iterations') was too
-- small for some component (raise it). The flag is worked out with the labels, from the edges already at
-- hand (int_identity_resolved); joining the edges to the graph here re-read every source (5-7 s of each
-- run at the large tier). Erased people's components are checked too: an unfinished one could leave an
-- identifier of theirs outside the erased component.
select identifier_hash, is_erased, identifier_type
from {{ ref('int_identity_resolved') }}
where not is_converged
