"""The `activation` schema in the working warehouse: sync state, run log, row errors, suppressions.

Only the working warehouse is written. `serving.duckdb` is attached read-only so the plan can join
the published segment against the state in one SQL statement. No API key is ever stored here.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

DDL = """
CREATE SCHEMA IF NOT EXISTS activation;

-- One row per (sync, member): what the destination last acknowledged.
CREATE TABLE IF NOT EXISTS activation.sync_state (
    sync_id         VARCHAR NOT NULL,   -- '<segment model>:<destination>'
    member_key      VARCHAR NOT NULL,   -- the segment's identifier (email or customer_key)
    customer_key    VARCHAR,
    email           VARCHAR,
    synced_hash     VARCHAR,            -- hash of the mapped fields last acknowledged (NULL: never)
    in_list         BOOLEAN NOT NULL DEFAULT false,  -- currently on the list / tag through this sync
    added_by_sync   BOOLEAN NOT NULL DEFAULT false,  -- this sync put it there (mirror removes only these)
    dest_id         VARCHAR,            -- destination's id (Klaviyo profile id, Mailchimp subscriber hash)
    rejected_hash   VARCHAR,            -- row version rejected with a 4xx: not retried until it changes
    rejected_op     VARCHAR,
    last_success_at TIMESTAMP,
    last_attempt_at TIMESTAMP,
    last_run_id     VARCHAR
);

CREATE TABLE IF NOT EXISTS activation.sync_runs (
    run_id          VARCHAR NOT NULL,
    sync_id         VARCHAR NOT NULL,
    segment         VARCHAR NOT NULL,
    destination     VARCHAR NOT NULL,
    mode            VARCHAR NOT NULL,
    dry_run         BOOLEAN NOT NULL,
    forced          BOOLEAN NOT NULL,
    status          VARCHAR NOT NULL,   -- running | success | failed | blocked | dry_run | skipped
    started_at      TIMESTAMP NOT NULL,
    finished_at     TIMESTAMP,
    duration_s      DOUBLE,
    audience        BIGINT,             -- members eligible for the destination this run
    planned_insert  BIGINT, planned_update BIGINT, planned_remove BIGINT, unchanged BIGINT,
    suppressed      BIGINT, skipped_rejected BIGINT, skipped_no_email BIGINT,
    sent            BIGINT, succeeded BIGINT, rejected BIGINT, retried BIGINT, failed BIGINT,
    api_calls       BIGINT,
    message         VARCHAR
);

CREATE TABLE IF NOT EXISTS activation.sync_row_errors (
    run_id          VARCHAR NOT NULL,
    sync_id         VARCHAR NOT NULL,
    member_key      VARCHAR NOT NULL,
    operation       VARCHAR NOT NULL,   -- upsert | list_add | list_remove
    status_code     INTEGER,
    error_code      VARCHAR,
    detail          VARCHAR,
    payload_preview VARCHAR,
    retryable       BOOLEAN NOT NULL,
    created_at      TIMESTAMP NOT NULL
);

-- Never-send list applied to every plan; sources: warehouse (customer_360 consent) or a destination.
CREATE TABLE IF NOT EXISTS activation.suppressions (
    email           VARCHAR NOT NULL,
    reason          VARCHAR NOT NULL,   -- unsubscribed | bounced | spam_complaint | suppressed
    source          VARCHAR NOT NULL,   -- warehouse | klaviyo | mailchimp
    observed_at     TIMESTAMP NOT NULL
);

-- Erasures done per destination; only the keyed hash of the identifier is kept.
CREATE TABLE IF NOT EXISTS activation.erasure_log (
    identifier_hash VARCHAR NOT NULL,
    destination     VARCHAR NOT NULL,
    status          VARCHAR NOT NULL,   -- deleted | failed
    detail          VARCHAR,
    processed_at    TIMESTAMP NOT NULL
);

-- Found-or-created destination objects (list, static segment, merge fields), so a sync with nothing
-- to send needs no API call at all.
CREATE TABLE IF NOT EXISTS activation.destination_refs (
    sync_id         VARCHAR NOT NULL,
    ref_key         VARCHAR NOT NULL,
    ref_value       VARCHAR NOT NULL,
    updated_at      TIMESTAMP NOT NULL
);

-- Asynchronous jobs submitted but not yet read back (Klaviyo bulk imports): a restarted sync
-- resumes them instead of sending the same profiles again.
CREATE TABLE IF NOT EXISTS activation.pending_jobs (
    sync_id         VARCHAR NOT NULL,
    job_id          VARCHAR NOT NULL,
    run_id          VARCHAR NOT NULL,
    add_to_list     BOOLEAN NOT NULL,
    rows_json       VARCHAR NOT NULL,   -- [{member_key, customer_key, email, row_hash, op}]
    submitted_at    TIMESTAMP NOT NULL
);
"""


def connect_warehouse(warehouse_db: Path, serving_db: Path | None = None) -> duckdb.DuckDBPyConnection:
    """Open the working warehouse for writing, create the activation schema, attach serving read-only."""
    Path(warehouse_db).parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(warehouse_db))
    con.execute(DDL)
    if serving_db is not None:
        path = str(Path(serving_db)).replace("'", "''")
        con.execute(f"ATTACH '{path}' AS serving (READ_ONLY)")
    return con


def serving_table_exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    """Whether `serving.<schema>.<table>` exists in the attached serving database."""
    row = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = 'serving' AND schema_name = ? AND table_name = ?",
        [schema, table],
    ).fetchone()
    views = con.execute(
        "SELECT count(*) FROM duckdb_views() WHERE database_name = 'serving' AND schema_name = ? AND view_name = ?",
        [schema, table],
    ).fetchone()
    return bool(row[0] or views[0])


def get_ref(con: duckdb.DuckDBPyConnection, sync_id: str, key: str) -> str | None:
    """A cached destination reference (e.g. the list id), or None."""
    row = con.execute(
        "SELECT ref_value FROM activation.destination_refs WHERE sync_id = ? AND ref_key = ?", [sync_id, key]
    ).fetchone()
    return None if row is None else row[0]


def set_ref(con: duckdb.DuckDBPyConnection, sync_id: str, key: str, value: str, now) -> None:
    """Cache a destination reference (replacing an older value)."""
    con.execute("BEGIN")
    con.execute("DELETE FROM activation.destination_refs WHERE sync_id = ? AND ref_key = ?", [sync_id, key])
    con.execute("INSERT INTO activation.destination_refs VALUES (?, ?, ?, ?)", [sync_id, key, value, now])
    con.execute("COMMIT")


def clear_refs(con: duckdb.DuckDBPyConnection, sync_id: str) -> None:
    """Forget the cached destination references of a sync (they are looked up again next time)."""
    con.execute("DELETE FROM activation.destination_refs WHERE sync_id = ?", [sync_id])
