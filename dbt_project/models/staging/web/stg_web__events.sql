-- Web tracking events (Segment spec: track, identify, page), one row per messageId (append; a message
-- delivered twice is kept once, its first delivery). Context, campaign, page, product and trait fields
-- are pulled out of the JSON; the JSON objects stay for anything else.

-- The SQL is macros/staging_events.sql (stage_web_events): int_web_events_enriched stages only new
-- partitions with it in an incremental run.

-- A view: the whole history is only read by a full refresh of int_web_events_enriched.
{{ config(materialized='view') }}

{{ stage_web_events() }}
