"""Right to erasure beyond the marts: purging every stored copy of an erased person, and keeping them out."""
