"""Erasure requests: the only path to a deletion in a destination.

`serving.marts.erased_identifiers` holds HMAC-SHA256 of 'email:<email>' with the erasure key
(C360_ERASURE_SALT, orchestration.privacy.keys) per erased person. Every email this warehouse ever sent
(sync_state) is hashed the same way; each match is deleted in every
destination it was sent to (Klaviyo `data-privacy-deletion-jobs`, Mailchimp `delete-permanent`, the
file outbox rewritten without it). Afterwards only the keyed hash is left, in
`activation.erasure_log`, which also keeps the person out of every future plan.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from orchestration.privacy.keys import DEFAULT_ERASURE_KEY, ERASURE_KEY_ENV, erasure_hash_sql, set_erasure_key

from .destinations.file import scrub_outbox
from .http import CallStats, DestinationFatal, RetryExhausted, redact
from .spec import SegmentSpec
from .state import connect_warehouse, serving_table_exists
from .sync import SyncOptions, _make_destination, _naive_utc

log = logging.getLogger(__name__)


@dataclass
class ErasureResult:
    """Per destination: how many people were deleted, failed (retried next run) or skipped (no key)."""

    deleted: dict[str, int] = field(default_factory=dict)
    failed: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    api_calls: int = 0

    def metadata(self) -> dict:
        """Flat counts for Dagster metadata."""
        meta: dict = {"api_calls": self.api_calls}
        meta.update({f"deleted_{k}": v for k, v in self.deleted.items()})
        meta.update({f"failed_{k}": v for k, v in self.failed.items()})
        meta.update({f"skipped_{k}": v for k, v in self.skipped.items()})
        return meta


def _spec_for(sync_id: str, destination: str) -> SegmentSpec:
    # Erasure needs only the destination's identity and cached refs, not the segment's fields.
    model = sync_id.rsplit(":", 1)[0]
    return SegmentSpec(model=model, purpose="service", holdout_share=0.0, identifier="email", mode="upsert",
                       destinations=("file", destination), list_name=model, fields={})


def run_erasures(
    *,
    serving_db: Path,
    warehouse_db: Path,
    outbox_dir: Path,
    env: Mapping[str, str],
    now: datetime | None = None,
    options: SyncOptions | None = None,
) -> ErasureResult:
    """Delete every erased person from every destination they were sent to; keep only keyed hashes.

    A destination without an API key is skipped and retried on the next call (its state is kept
    until the deletion succeeds); a failed deletion is retried on the next call too.
    """
    options = options or SyncOptions()
    now = _naive_utc(now or datetime.now(UTC))
    result = ErasureResult()
    stats = CallStats()
    con = connect_warehouse(warehouse_db, serving_db)
    try:
        set_erasure_key(con, env.get(ERASURE_KEY_ENV, DEFAULT_ERASURE_KEY))
        if not serving_table_exists(con, "marts", "erased_identifiers"):
            log.warning("serving marts.erased_identifiers not found: no erasure to process")
            return result
        sent_hash = erasure_hash_sql("'email:' || lower(s.email)")
        targets = con.execute(
            f"""
            SELECT e.identifier_hash, s.sync_id, split_part(s.sync_id, ':', 2) AS destination,
                   s.email, s.member_key, s.dest_id
            FROM activation.sync_state s
            JOIN serving.marts.erased_identifiers e ON {sent_hash} = e.identifier_hash
            ORDER BY destination, e.identifier_hash, s.sync_id
            """
        ).fetchall()
        by_dest: dict[str, dict[str, list[tuple]]] = {}
        for h, sync_id, dest, email, member_key, dest_id in targets:
            by_dest.setdefault(dest, {}).setdefault(h, []).append((sync_id, email, member_key, dest_id))
        for dest_name, people in by_dest.items():
            done: list[str] = []
            if dest_name == "file":
                emails = {rows[0][1].lower() for rows in people.values()}
                keys = {r[2] for rows in people.values() for r in rows}
                scrub_outbox(Path(outbox_dir), emails, keys)
                done = list(people)
            else:
                first_sync = next(iter(people.values()))[0][0]
                dest = _make_destination(dest_name, _spec_for(first_sync, dest_name), env, con, stats, options, now)
                if isinstance(dest, str):
                    result.skipped[dest_name] = dest
                    log.warning("erasure: %s", dest)
                    continue
                for h, rows in people.items():
                    email, dest_id = rows[0][1], rows[0][3]
                    try:
                        outcome = dest.delete_profile(email, dest_id)
                    except (RetryExhausted, DestinationFatal) as exc:
                        outcome = None
                        log.error("erasure in %s failed (retried next run): %s", dest_name, redact(str(exc)))
                    if outcome is not None and outcome.ok:
                        done.append(h)
                    else:
                        result.failed[dest_name] = result.failed.get(dest_name, 0) + 1
                        con.execute("INSERT INTO activation.erasure_log VALUES (?, ?, 'failed', ?, ?)",
                                    [h, dest_name, None if outcome is None else redact(outcome.detail), now])
            con.execute("BEGIN")
            for h in done:
                syncs = [r[0] for r in people[h]]
                keys = [r[2] for r in people[h]]
                con.execute("INSERT INTO activation.erasure_log VALUES (?, ?, 'deleted', NULL, ?)", [h, dest_name, now])
                con.execute(
                    "DELETE FROM activation.sync_row_errors WHERE sync_id IN (SELECT unnest(?::VARCHAR[])) "
                    "AND member_key IN (SELECT unnest(?::VARCHAR[]))",
                    [syncs, keys],
                )
                con.execute(
                    "DELETE FROM activation.sync_state WHERE sync_id IN (SELECT unnest(?::VARCHAR[])) "
                    "AND member_key IN (SELECT unnest(?::VARCHAR[]))",
                    [syncs, keys],
                )
            con.execute("COMMIT")
            result.deleted[dest_name] = len(done)
        # Once no destination holds the person any more, no email of theirs may stay in the warehouse.
        suppressed_hash = erasure_hash_sql("'email:' || lower(email)")
        con.execute(
            f"DELETE FROM activation.suppressions WHERE {suppressed_hash} IN "
            "(SELECT identifier_hash FROM serving.marts.erased_identifiers) AND lower(email) NOT IN "
            "(SELECT lower(email) FROM activation.sync_state WHERE email IS NOT NULL)"
        )
        result.api_calls = stats.total
        return result
    finally:
        con.close()
