-- Keyed hashes of every identifier of every person who asked to be erased: all that remains of them. The
-- activation step reads this from serving.duckdb to delete them from every email tool they were sent to and
-- to never send them again; hashes of emails are HMAC-SHA256 of 'email:<normalised email>' with the erasure
-- key (C360_ERASURE_SALT, macro erasure_hash).

select distinct cast(identifier_hash as {{ dbt.type_string() }}) as identifier_hash
from {{ ref('int_erased_identifiers') }}
