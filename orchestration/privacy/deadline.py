"""Deletions have a deadline: an erased person still held by a destination after N days is overdue.

A person's erasure is processed by the purge, which records when (`purged_at` of each hash in the
suppression list). Activation deletes them in every destination they were sent to and then forgets them
(`activation.sync_state`); a destination whose deletion failed, or that was skipped for want of an API key,
still holds them and keeps them in `sync_state`: pending, not done. Past the deadline (default 7 days,
C360_ERASURE_DEADLINE_DAYS) each such destination is overdue and the `erasure_deadline` check fails.

No `from __future__ import annotations` here: Dagster inspects the `context` annotation at runtime.
"""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
from dagster import AssetCheckExecutionContext, AssetCheckResult, AssetCheckSeverity, AssetKey, asset_check
from dagster_duckdb import DuckDBResource

from orchestration.ingestion.assets import DUCKDB_POOL
from orchestration.ingestion.suppression import suppression_file
from orchestration.privacy.keys import erasure_hash_sql, set_erasure_key

DEFAULT_DEADLINE_DAYS = 7
CHECK_NAME = "erasure_deadline"


def pending_deletions(con: duckdb.DuckDBPyConnection, lake_root: Path, salt: str, now: datetime,
                      deadline_days: int) -> list[tuple[str, int, int, datetime]]:
    """Per destination: (destination, people pending, of them overdue, oldest erasure) of the erased people
    the destination still holds (sync_state rows whose email hashes, with the erasure key `salt`, to a purged
    identifier)."""
    path = suppression_file(lake_root)
    exists = con.execute("SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'activation' "
                         "AND table_name = 'sync_state'").fetchone()[0]
    if not path.is_file() or not exists:
        return []
    set_erasure_key(con, salt)
    sent_hash = erasure_hash_sql("'email:' || lower(s.email)")
    return con.execute(
        f"""
        WITH erased AS (
            SELECT identifier_hash, min(purged_at) AS purged_at FROM read_parquet(?) GROUP BY ALL
        ), held AS (
            SELECT DISTINCT split_part(s.sync_id, ':', 2) AS destination, e.identifier_hash, e.purged_at
            FROM activation.sync_state AS s
            JOIN erased AS e ON {sent_hash} = e.identifier_hash
        )
        SELECT destination, count(*), count(*) FILTER (WHERE purged_at < ?::TIMESTAMPTZ), min(purged_at)
        FROM held GROUP BY destination ORDER BY destination
        """,
        [str(path), now - timedelta(days=deadline_days)],
    ).fetchall()


ERASURE_DELETIONS = "audit.erasure_deletions"


def record_pending_deletions(con: duckdb.DuckDBPyConnection, lake_root: Path, salt: str, now: datetime,
                             deadline_days: int) -> list[tuple[str, int, int, datetime]]:
    """Write `audit.erasure_deletions` (one row per destination still holding erased people: how many, how many
    past the deadline, the oldest erasure) for the run report; empty when every deletion was confirmed."""
    rows = pending_deletions(con, lake_root, salt, now, deadline_days)
    con.execute("CREATE SCHEMA IF NOT EXISTS audit")
    con.execute(f"CREATE OR REPLACE TABLE {ERASURE_DELETIONS} (destination VARCHAR, people_pending BIGINT, "
                "people_overdue BIGINT, oldest_erased_at TIMESTAMPTZ, deadline_days INTEGER, checked_at TIMESTAMPTZ)")
    if rows:
        con.executemany(f"INSERT INTO {ERASURE_DELETIONS} VALUES (?, ?, ?, ?, ?, ?)",
                        [(*row, deadline_days, now) for row in rows])
    return rows


def build_deadline_check(asset: AssetKey, lake_root: Path, salt: str, deadline_days: int = DEFAULT_DEADLINE_DAYS):
    """The ERROR check on activation's erasures: no destination holds an erased person past the deadline."""

    @asset_check(asset=asset, name=CHECK_NAME, blocking=False, pool=DUCKDB_POOL,
                 description=f"Every destination deleted each erased person within {deadline_days} days of the "
                             "erasure (a destination without an API key counts as pending, not done).")
    def erasure_deadline(context: AssetCheckExecutionContext, warehouse: DuckDBResource) -> AssetCheckResult:
        with warehouse.get_connection() as con:
            rows = pending_deletions(con, lake_root, salt, datetime.now(UTC), deadline_days)
        overdue = {dest: n for dest, _, n, _ in rows if n}
        return AssetCheckResult(
            passed=not overdue, severity=AssetCheckSeverity.ERROR,
            description=("overdue: " + ", ".join(f"{d} {n} people" for d, n in overdue.items()) if overdue
                         else f"no deletion overdue ({sum(r[1] for r in rows)} pending within {deadline_days} days)"),
            metadata={"deadline_days": deadline_days,
                      **{f"pending_{d}": p for d, p, _, _ in rows}, **{f"overdue_{d}": n for d, n in overdue.items()}},
        )

    return erasure_deadline
