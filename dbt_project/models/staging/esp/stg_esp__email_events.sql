-- Email and SMS engagement and consent events from the email tool (Klaviyo-style metrics), one row per
-- event id (append; an event delivered twice is kept once, its first delivery).

-- The SQL is macros/staging_events.sql (stage_esp_email_events): int_email_events_enriched stages only
-- new partitions with it in an incremental run.

-- A view: the whole history is only read by a full refresh of int_email_events_enriched.
{{ config(materialized='view') }}

{{ stage_esp_email_events() }}
