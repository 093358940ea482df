"""The sync engine: plan, guard, send in batches, commit state per acknowledged batch.

Crash safety: every acknowledged batch is committed (state, row errors, suppressions) in one
transaction before the next batch is sent, and an asynchronous job is recorded the moment it is
accepted, so a restarted run resumes it instead of sending it again. A run killed anywhere and
started again therefore converges to the segment without sending an acknowledged operation twice.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pandas as pd

from orchestration.privacy.keys import DEFAULT_ERASURE_KEY, ERASURE_KEY_ENV

from .destinations.base import BatchRejected, Destination, Outcomes, Row, RowOutcome, suppressing_reasons
from .destinations.file import write_outbox
from .destinations.klaviyo import DEFAULT_BASE_URL as KLAVIYO_URL
from .destinations.klaviyo import KlaviyoDestination
from .destinations.mailchimp import MailchimpDestination, base_url_from_key
from .http import CallStats, DestinationFatal, RetryExhausted, RetryPolicy, redact
from .plan import OPS, Plan, SegmentKeyError, breaker_reason, build_plan, check_keys, summarize
from .spec import SegmentSpec
from .state import connect_warehouse, get_ref, serving_table_exists, set_ref

log = logging.getLogger(__name__)

Hook = Callable[[str, dict], None]


class SyncBlocked(Exception):
    """The circuit breaker stopped the sync before anything was sent (use force to override)."""

    def __init__(self, result: SyncResult):
        self.result = result
        super().__init__(f"{result.sync_id}: blocked: {result.message}")


class SyncFailed(Exception):
    """The sync ran but failed visibly (persistent errors, too many rejected rows, bad segment)."""

    def __init__(self, result: SyncResult):
        self.result = result
        super().__init__(f"{result.sync_id}: failed: {redact(result.message)}")


@dataclass(frozen=True)
class SyncOptions:
    """Tunables of a sync; the defaults are the documented API limits and the production pacing."""

    time_scale: float = 1.0  # divides every wait and rate window (tests and benchmarks only)
    max_attempts: int = 6
    base_delay: float = 1.0
    max_delay: float = 60.0
    timeout: tuple[float, float] = (10.0, 120.0)
    max_change_share: float = 0.30
    min_change_rows: int = 50  # the breaker ignores smaller changes (and small segments emptying)
    max_rejected_share: float = 0.10
    klaviyo_batch_size: int = 10_000
    klaviyo_list_batch_size: int = 1_000
    mailchimp_batch_size: int = 500
    mailchimp_connections: int = 10
    poll_interval: float = 1.0
    file_format: str = "jsonl"
    read_back_suppressions: bool = False  # costs API calls, so off for the routine sync
    hook: Hook | None = None  # called with ("job_submitted" | "batch_committed", info); tests kill runs here


@dataclass
class SyncResult:
    """What one run planned and did; `metadata()` is what Dagster shows."""

    sync_id: str
    segment: str
    destination: str
    run_id: str
    status: str  # success | failed | blocked | dry_run | skipped
    dry_run: bool = False
    planned: dict[str, int] = field(default_factory=dict)
    audience: int = 0
    sent: int = 0
    succeeded: int = 0
    rejected: int = 0
    retried: int = 0
    failed: int = 0
    api_calls: int = 0
    duration_s: float = 0.0
    plan_summary: str = ""
    message: str = ""
    outbox_file: str | None = None

    def metadata(self) -> dict:
        """Flat, JSON-friendly counts for Dagster materialisation metadata."""
        meta = {
            "status": self.status,
            "destination": self.destination,
            "run_id": self.run_id,
            "audience": self.audience,
            "sent": self.sent,
            "succeeded": self.succeeded,
            "rejected": self.rejected,
            "retried": self.retried,
            "failed": self.failed,
            "api_calls": self.api_calls,
            "duration_s": round(self.duration_s, 3),
        }
        meta.update({f"planned_{k}": v for k, v in self.planned.items()})
        if self.message:
            meta["message"] = self.message
        if self.outbox_file:
            meta["outbox_file"] = self.outbox_file
        return meta


def _naive_utc(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(tzinfo=None) if now.tzinfo else now


def _preview(row: Row) -> str:
    return json.dumps({"email": row.email, "fields": row.fields}, default=str)[:300]


class ListGone(DestinationFatal):
    """The sync's list (or tag/audience) no longer exists in the destination."""


class _Stop(Exception):
    """Internal: stop sending (persistent failure); the rows are already recorded."""


class _Engine:
    def __init__(self, con, spec: SegmentSpec, dest: Destination, run_id: str, now: datetime, options: SyncOptions):
        self.con = con
        self.spec = spec
        self.dest = dest
        self.sync_id = spec.sync_id(dest.name)
        self.run_id = run_id
        self.now = now
        self.options = options
        self.final: dict[str, str] = {}  # member_key -> ok | rejected | failed | suppressed
        self.suppressing = suppressing_reasons(spec.purpose)
        self.sent = 0
        self.open_jobs: list[str] = []

    def hook(self, event: str, **info) -> None:
        """Call the test/ops hook with an event name and details."""
        if self.options.hook:
            self.options.hook(event, {"sync_id": self.sync_id, **info})

    # -- journal of asynchronous jobs -------------------------------------------------------
    def job_submitted(self, job_id: str, rows: list[Row], add_to_list: bool) -> None:
        """Journal an accepted asynchronous job (committed at once) so a crash resumes it."""
        payload = json.dumps([{"member_key": r.member_key, "customer_key": r.customer_key, "email": r.email,
                               "row_hash": r.row_hash, "op": r.op, "fields": r.fields} for r in rows], default=str)
        self.con.execute(
            "INSERT INTO activation.pending_jobs VALUES (?, ?, ?, ?, ?, ?)",
            [self.sync_id, job_id, self.run_id, add_to_list, payload, self.now],
        )
        self.open_jobs.append(job_id)
        self.hook("job_submitted", job_id=job_id, rows=len(rows))

    def resume_pending(self) -> None:
        """Finish jobs an interrupted run submitted: read their outcome instead of sending them again."""
        pending = self.con.execute(
            "SELECT job_id, add_to_list, rows_json FROM activation.pending_jobs WHERE sync_id = ? "
            "ORDER BY submitted_at",
            [self.sync_id],
        ).fetchall()
        for job_id, add_to_list, rows_json in pending:
            items = json.loads(rows_json)
            state = {
                r[0]: r[1:]
                for r in self.con.execute(
                    "SELECT member_key, synced_hash, in_list, added_by_sync, dest_id FROM activation.sync_state "
                    "WHERE sync_id = ? AND member_key IN (SELECT unnest(?::VARCHAR[]))",
                    [self.sync_id, [i["member_key"] for i in items]],
                ).fetchall()
            }
            rows = []
            for i in items:
                synced, in_list, added, dest_id = state.get(i["member_key"], (None, False, False, None))
                rows.append(Row(member_key=i["member_key"], customer_key=i["customer_key"], email=i["email"],
                                fields=i.get("fields") or {}, row_hash=i["row_hash"], op=i["op"], synced_hash=synced,
                                in_list=in_list, added_by_sync=added, dest_id=dest_id))
            log.info("%s: resuming job submitted by an interrupted run (%d rows)", self.sync_id, len(rows))
            self.open_jobs = [job_id]
            try:
                outcomes = self.dest.resume(job_id, rows)
            except RetryExhausted as exc:
                self.record_failure("upsert", rows, exc)
                raise _Stop() from exc
            self.commit("upsert", rows, outcomes, add_to_list=add_to_list)

    # -- sending -----------------------------------------------------------------------------
    def call(self, step: str, batch: list[Row], add_to_list: bool) -> Outcomes:
        """One request for the batch; a 4xx for the whole batch is split in halves to isolate bad rows."""
        try:
            if step == "upsert":
                return self.dest.upsert(batch, add_to_list=add_to_list,
                                        on_submitted=lambda job: self.job_submitted(job, batch, add_to_list))
            if step == "list_add":
                return self.dest.list_add(batch)
            return self.dest.list_remove(batch)
        except BatchRejected as exc:
            if exc.status_code == 404:
                # the list / tag / audience itself is gone (deleted in the tool): not a row problem
                raise ListGone(f"{self.dest.name}: the list or tag was not found ({exc.detail})") from exc
            if len(batch) == 1:
                return {batch[0].member_key: RowOutcome.rejected(exc.status_code, exc.error_code, exc.detail)}
            log.info("%s: %s batch of %d refused (HTTP %s), splitting", self.sync_id, step, len(batch),
                     exc.status_code)
            mid = len(batch) // 2
            return {**self.call(step, batch[:mid], add_to_list), **self.call(step, batch[mid:], add_to_list)}

    def send(self, step: str, rows: list[Row], size: int, add_to_list: bool = False) -> None:
        """Send rows batch by batch, committing each acknowledged batch before the next."""
        for batch in self.dest.chunks(rows, size):
            self.open_jobs = []
            try:
                outcomes = self.call(step, batch, add_to_list)
            except RetryExhausted as exc:
                self.record_failure(step, batch, exc)
                raise _Stop() from exc
            self.sent += len(batch)
            self.commit(step, batch, outcomes, add_to_list=add_to_list)
            self.hook("batch_committed", step=step, rows=len(batch))

    def record_failure(self, step: str, rows: list[Row], exc: RetryExhausted) -> None:
        """Persistent retryable failure: state untouched (replanned next run), rows recorded as errors."""
        errors = [(row, RowOutcome(ok=False, retryable=True, status_code=exc.status_code,
                                   error_code="retries_exhausted", detail=str(exc))) for row in rows]
        self.con.execute("BEGIN")
        self._insert_errors(step, errors)
        self.con.execute("COMMIT")
        for row in rows:
            self.final[row.member_key] = "failed"

    def commit(self, step: str, rows: list[Row], outcomes: Outcomes, *, add_to_list: bool) -> None:
        """Apply a batch's outcomes to the state, errors and suppressions in one transaction."""
        errors: list[tuple[Row, RowOutcome]] = []
        rejected_hash: dict[str, str | None] = {}
        suppressions: list[tuple[str, str]] = []
        success: list[bool] = []
        for row in rows:
            out = outcomes.get(row.member_key) or RowOutcome(ok=False, retryable=True, detail="no outcome")
            success.append(out.ok)
            if out.ok:
                row.dest_id = out.dest_id or row.dest_id
                if step == "upsert":
                    row.synced_hash = row.row_hash
                    if out.suppressed_reason:
                        suppressions.append((row.email, out.suppressed_reason))
                    if out.suppressed_reason in self.suppressing:
                        self.final[row.member_key] = "suppressed"  # read back: not put on the list
                    elif add_to_list:
                        row.added_by_sync = row.added_by_sync or not row.in_list  # on it before: not ours
                        row.in_list = True
                elif step == "list_add":
                    row.added_by_sync = row.added_by_sync or not row.in_list
                    row.in_list = True
                else:
                    row.in_list = False
                self.final.setdefault(row.member_key, "ok")
            elif out.retryable:
                errors.append((row, out))
                self.final[row.member_key] = "failed"
            else:
                errors.append((row, out))
                self.final[row.member_key] = "rejected"
                if step == "list_remove":
                    row.in_list = False  # the destination says it cannot be removed: nothing left to do
                else:
                    rejected_hash[row.member_key] = row.row_hash
        con = self.con
        con.execute("BEGIN")
        self._write_state(rows, rejected_hash, step, success)
        self._insert_errors(step, errors)
        for email, reason in suppressions:
            con.execute(
                "INSERT INTO activation.suppressions SELECT ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM "
                "activation.suppressions WHERE email = ? AND reason = ? AND source = ?)",
                [email, reason, self.dest.name, self.now, email, reason, self.dest.name],
            )
        if self.open_jobs:
            con.execute(
                "DELETE FROM activation.pending_jobs WHERE sync_id = ? AND job_id IN (SELECT unnest(?::VARCHAR[]))",
                [self.sync_id, self.open_jobs],
            )
            self.open_jobs = []
        con.execute("COMMIT")

    def _write_state(self, rows: list[Row], rejected_hash: dict[str, str | None], step: str | None,
                     success: list[bool]) -> None:
        """Upsert the rows' state (inside the caller's transaction)."""
        df = pd.DataFrame(
            {
                "member_key": [r.member_key for r in rows],
                "customer_key": [r.customer_key for r in rows],
                "email": [r.email for r in rows],
                "synced_hash": [r.synced_hash for r in rows],
                "in_list": [bool(r.in_list) for r in rows],
                "added_by_sync": [bool(r.added_by_sync) for r in rows],
                "dest_id": [r.dest_id for r in rows],
                "rejected_hash": [rejected_hash.get(r.member_key) for r in rows],
                "rejected_op": [step if r.member_key in rejected_hash else None for r in rows],
                "success": success,
            },
            dtype=object,
        )
        con = self.con
        con.register("upd", df)
        con.execute(
            """
            UPDATE activation.sync_state AS s SET
                customer_key = u.customer_key, email = u.email, synced_hash = u.synced_hash,
                in_list = u.in_list, added_by_sync = u.added_by_sync, dest_id = u.dest_id,
                rejected_hash = u.rejected_hash, rejected_op = u.rejected_op,
                last_success_at = CASE WHEN u.success THEN $now ELSE s.last_success_at END,
                last_attempt_at = $now, last_run_id = $run
            FROM upd AS u WHERE s.sync_id = $sync AND s.member_key = u.member_key
            """,
            {"now": self.now, "run": self.run_id, "sync": self.sync_id},
        )
        con.execute(
            """
            INSERT INTO activation.sync_state
            SELECT $sync, u.member_key, u.customer_key, u.email, u.synced_hash, u.in_list, u.added_by_sync,
                   u.dest_id, u.rejected_hash, u.rejected_op, CASE WHEN u.success THEN $now END, $now, $run
            FROM upd AS u
            WHERE NOT EXISTS (SELECT 1 FROM activation.sync_state s
                              WHERE s.sync_id = $sync AND s.member_key = u.member_key)
            """,
            {"now": self.now, "run": self.run_id, "sync": self.sync_id},
        )
        con.unregister("upd")

    def _insert_errors(self, step: str, errors: list[tuple[Row, RowOutcome]]) -> None:
        if not errors:
            return
        df = pd.DataFrame(
            {
                "member_key": [r.member_key for r, _ in errors],
                "status_code": [o.status_code for _, o in errors],
                "error_code": [o.error_code for _, o in errors],
                "detail": [redact(o.detail) for _, o in errors],
                "payload_preview": [_preview(r) for r, _ in errors],
                "retryable": [o.retryable for _, o in errors],
            },
            dtype=object,
        )
        self.con.register("errs", df)
        self.con.execute(
            "INSERT INTO activation.sync_row_errors SELECT $run, $sync, member_key, $op, "
            "CAST(status_code AS INTEGER), error_code, detail, payload_preview, CAST(retryable AS BOOLEAN), $now "
            "FROM errs",
            {"run": self.run_id, "sync": self.sync_id, "op": step, "now": self.now},
        )
        self.con.unregister("errs")

    def mark_already_on_list(self, inserts: list[Row]) -> None:
        """Record who is on the list/tag before this sync adds them: never `added_by_sync`, so never removed.

        A marketer may have put them there (before the first sync, or since). Committed before any add,
        so a restarted run cannot mistake them for its own. A list created by this run is empty.
        """
        candidates = [r for r in inserts if not r.in_list and r.email]
        if not candidates or self.dest.list_is_new():
            return
        try:
            found = self.dest.already_on_list(candidates)
        except BatchRejected as exc:
            if exc.status_code == 404:
                raise ListGone(f"{self.dest.name}: the list or tag was not found ({exc.detail})") from exc
            raise
        rows = [r for r in candidates if r.member_key in found]
        if not rows:
            return
        for r in rows:
            r.in_list, r.added_by_sync = True, False
            r.dest_id = found[r.member_key] or r.dest_id
        log.info("%s: %d members already on the list; mirror mode will never remove them", self.sync_id, len(rows))
        self.con.execute("BEGIN")
        self._write_state(rows, {}, None, [False] * len(rows))
        self.con.execute("COMMIT")

    def run(self, plan: Plan) -> None:
        """Send the plan: upserts (inserts first), list additions, then list removals."""
        inserts = plan.rows.get("insert", [])
        updates = plan.rows.get("update", [])
        removes = plan.rows.get("remove", [])
        if not (inserts or updates or removes):
            return
        self.dest.prepare()
        self.mark_already_on_list(inserts)
        self.send("upsert", [r for r in inserts if r.needs_profile], self.dest.upsert_batch_size,
                  add_to_list=self.dest.upsert_adds_to_list)
        self.send("upsert", updates, self.dest.upsert_batch_size, add_to_list=False)
        to_add = [r for r in inserts if not r.in_list and r.synced_hash == r.row_hash
                  and self.final.get(r.member_key) in (None, "ok")]
        self.send("list_add", to_add, self.dest.list_batch_size)
        self.send("list_remove", removes, self.dest.list_batch_size)


def _make_destination(
    name: str, spec: SegmentSpec, env: Mapping[str, str], con, stats: CallStats, options: SyncOptions, now
) -> Destination | str:
    """The destination client, or a message saying why it is skipped (no key)."""
    sync_id = spec.sync_id(name)
    policy = RetryPolicy(options.max_attempts, options.base_delay, options.max_delay, options.time_scale)

    def refs_get(key: str) -> str | None:
        """Cached reference of this sync."""
        return get_ref(con, sync_id, key)

    def refs_set(key: str, value: str) -> None:
        """Cache a reference of this sync."""
        set_ref(con, sync_id, key, value, now)

    if name == "klaviyo":
        key = env.get("KLAVIYO_API_KEY")
        if not key:
            return "KLAVIYO_API_KEY is not set: the klaviyo destination is skipped"
        return KlaviyoDestination(
            api_key=key, base_url=env.get("KLAVIYO_BASE_URL") or KLAVIYO_URL, list_name=spec.list_name,
            overwrite_nulls=spec.overwrite_nulls, get_ref=refs_get, set_ref=refs_set, stats=stats, policy=policy,
            time_scale=options.time_scale, timeout=options.timeout, upsert_batch_size=options.klaviyo_batch_size,
            list_batch_size=options.klaviyo_list_batch_size, poll_interval=options.poll_interval,
        )
    if name == "mailchimp":
        key = env.get("MAILCHIMP_API_KEY")
        if not key:
            return "MAILCHIMP_API_KEY is not set: the mailchimp destination is skipped"
        base = env.get("MAILCHIMP_BASE_URL") or base_url_from_key(key)
        if not base:
            return "MAILCHIMP_API_KEY has no data-centre suffix (like -us21) and MAILCHIMP_BASE_URL is not set"
        return MailchimpDestination(
            api_key=key, base_url=base, list_name=spec.list_name, fields=spec.fields,
            overwrite_nulls=spec.overwrite_nulls, get_ref=refs_get, set_ref=refs_set, stats=stats, policy=policy,
            audience_id=env.get("MAILCHIMP_AUDIENCE_ID"), timeout=options.timeout,
            max_connections=options.mailchimp_connections, upsert_batch_size=options.mailchimp_batch_size,
            list_batch_size=options.mailchimp_batch_size,
        )
    raise ValueError(f"unknown destination {name!r}")


def refresh_warehouse_suppressions(con: duckdb.DuckDBPyConnection, now: datetime) -> int:
    """Mirror customer_360's unsubscribes, bounces and spam complaints into activation.suppressions."""
    if not serving_table_exists(con, "marts", "customer_360"):
        log.warning("serving marts.customer_360 not found: only destination suppressions apply")
        return 0
    con.execute("BEGIN")
    con.execute("DELETE FROM activation.suppressions WHERE source = 'warehouse'")
    con.execute(
        "INSERT INTO activation.suppressions SELECT DISTINCT lower(email), email_consent, 'warehouse', ? "
        "FROM serving.marts.customer_360 WHERE email IS NOT NULL "
        "AND email_consent IN ('unsubscribed', 'bounced', 'spam_complaint')",
        [now],
    )
    con.execute("COMMIT")
    return con.execute("SELECT count(*) FROM activation.suppressions WHERE source = 'warehouse'").fetchone()[0]


def pull_destination_suppressions(con, dest: Destination, sync_id: str, now: datetime) -> int:
    """Read suppressions back from a destination (where its API offers it) into activation.suppressions."""
    since = get_ref(con, sync_id, "suppressions_since")
    found = dest.fetch_suppressions(since)
    con.execute("BEGIN")
    for email, reason in set(found):
        con.execute(
            "INSERT INTO activation.suppressions SELECT ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM "
            "activation.suppressions WHERE email = ? AND reason = ? AND source = ?)",
            [email, reason, dest.name, now, email, reason, dest.name],
        )
    con.execute("COMMIT")
    set_ref(con, sync_id, "suppressions_since", now.strftime("%Y-%m-%dT%H:%M:%S+00:00"), now)
    return len(set(found))


def _finish(con, result: SyncResult, plan: Plan | None, started: float) -> None:
    result.duration_s = time.monotonic() - started
    result.message = redact(result.message) or ""  # it can quote an error body: no email or key is kept
    p = plan.counts if plan else {}
    con.execute(
        """
        UPDATE activation.sync_runs SET status = ?, finished_at = now()::TIMESTAMP, duration_s = ?, audience = ?,
            planned_insert = ?, planned_update = ?, planned_remove = ?, unchanged = ?, suppressed = ?,
            skipped_rejected = ?, skipped_no_email = ?, sent = ?, succeeded = ?, rejected = ?, retried = ?,
            failed = ?, api_calls = ?, message = ?
        WHERE run_id = ?
        """,
        [result.status, result.duration_s, result.audience, p.get("insert"), p.get("update"), p.get("remove"),
         p.get("unchanged"), p.get("suppressed"), p.get("skipped_rejected"), p.get("skipped_no_email"),
         result.sent, result.succeeded, result.rejected, result.retried, result.failed, result.api_calls,
         result.message[:1000], result.run_id],
    )


def run_sync(
    spec: SegmentSpec,
    destination: str,
    *,
    serving_db: Path,
    warehouse_db: Path,
    outbox_dir: Path,
    env: Mapping[str, str],
    dry_run: bool = False,
    force: bool = False,
    now: datetime | None = None,
    options: SyncOptions | None = None,
) -> SyncResult:
    """Sync one segment to one destination (klaviyo | mailchimp | file) and return what happened.

    Reads the segment from `serving_db` (attached read-only) and keeps state in `warehouse_db`.
    Dry run: plans, prints nothing itself, returns the plan summary and sends nothing. Raises
    SyncBlocked when the circuit breaker trips (unless `force`), SyncFailed when the run fails
    visibly. A destination without an API key in `env` is skipped (status `skipped`).
    """
    options = options or SyncOptions()
    started = time.monotonic()
    now = _naive_utc(now or datetime.now(UTC))
    if destination not in spec.destinations:
        raise ValueError(f"{spec.model}: destination {destination!r} is not in its activation.destinations")
    sync_id = spec.sync_id(destination)
    run_id = f"{now:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
    result = SyncResult(sync_id=sync_id, segment=spec.model, destination=destination, run_id=run_id,
                        status="running", dry_run=dry_run)
    stats = CallStats()
    con = connect_warehouse(warehouse_db, serving_db)
    plan: Plan | None = None
    try:
        con.execute("UPDATE activation.sync_runs SET status = 'interrupted' WHERE sync_id = ? AND status = 'running'",
                    [sync_id])
        con.execute(
            "INSERT INTO activation.sync_runs (run_id, sync_id, segment, destination, mode, dry_run, forced, status, "
            "started_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'running', ?)",
            [run_id, sync_id, spec.model, destination, spec.mode, dry_run, force, now],
        )
        dest: Destination | None = None
        if destination != "file":
            made = _make_destination(destination, spec, env, con, stats, options, now)
            if isinstance(made, str):
                if not dry_run:
                    log.info("%s: %s", sync_id, made)
                    result.status, result.message = "skipped", made
                    return result
                result.message = made
            else:
                dest = made
        engine = _Engine(con, spec, dest, run_id, now, options) if dest else None
        if engine and not dry_run:
            engine.resume_pending()
        refresh_warehouse_suppressions(con, now)
        if dest and options.read_back_suppressions and not dry_run:
            try:
                pull_destination_suppressions(con, dest, sync_id, now)
            except (DestinationFatal, BatchRejected, RetryExhausted) as exc:
                # without the destination's suppressions the plan could add people who opted out there
                result.status, result.message = "failed", f"{destination}: reading suppressions back: {exc}"
                raise SyncFailed(result) from exc
        null_keys = check_keys(con, spec)
        erased = serving_table_exists(con, "marts", "erased_identifiers")
        plan = build_plan(con, spec, destination, erasure_key=env.get(ERASURE_KEY_ENV, DEFAULT_ERASURE_KEY),
                          erased_table=erased, requires_email=destination != "file", load_rows=not dry_run,
                          null_keys=null_keys, consent_table=serving_table_exists(con, "marts", "customer_360"))
        result.planned = dict(plan.counts)
        result.audience = plan.audience
        share = spec.max_change_share or options.max_change_share
        established = con.execute(
            "SELECT count(*) > 0 FROM activation.sync_runs WHERE sync_id = ? AND status = 'success' AND NOT dry_run",
            [sync_id],
        ).fetchone()[0]
        blocked = breaker_reason(plan, share, established=established, min_change_rows=options.min_change_rows)
        result.plan_summary = summarize(plan, spec, destination, blocked=blocked)
        if dry_run:
            result.status = "dry_run"
            result.message = result.message or ("would be blocked: " + blocked if blocked else "")
            return result
        if blocked and not force:
            result.status, result.message = "blocked", blocked
            log.error("%s: circuit breaker: %s", sync_id, blocked)
            raise SyncBlocked(result)
        if destination == "file":
            _run_file(con, spec, plan, result, outbox_dir, run_id, now, options)
        else:
            try:
                engine.run(plan)
            except _Stop:
                result.message = "persistent failure: stopped sending; failed rows recorded and replanned next run"
            except ListGone as exc:
                # Forget the list and who is on it: the next run finds or re-creates it and adds everyone
                # again (profiles already acknowledged are not re-sent).
                con.execute("DELETE FROM activation.destination_refs WHERE sync_id = ?", [sync_id])
                con.execute("UPDATE activation.sync_state SET in_list = false, added_by_sync = false "
                            "WHERE sync_id = ?", [sync_id])
                result.message = f"{exc}; cached reference cleared, the next run re-creates it and re-adds members"
            except (DestinationFatal, BatchRejected, RetryExhausted) as exc:
                # the destination refused the sync itself (credentials, list, audience): nothing more can be sent
                result.message = f"{destination}: {exc}"
            _tally(engine, plan, result)
        result.api_calls = stats.total
        result.retried = stats.retries
        if result.status == "running":
            share_rejected = result.rejected / max(plan.changes, 1)
            if result.failed or result.message:
                result.status = "failed"
            elif share_rejected > options.max_rejected_share:
                result.status = "failed"
                result.message = (f"{result.rejected} of {plan.changes} planned rows rejected "
                                  f"({share_rejected:.0%} > {options.max_rejected_share:.0%})")
            else:
                result.status = "success"
        if result.status == "failed":
            log.error("%s: sync failed: %s", sync_id, result.message)
            raise SyncFailed(result)
        log.info("%s: %s, %s, %d API calls", sync_id, result.status,
                 ", ".join(f"{k} {v}" for k, v in result.planned.items() if v), result.api_calls)
        return result
    except SegmentKeyError as exc:
        result.status, result.message = "failed", str(exc)
        raise SyncFailed(result) from exc
    except (duckdb.CatalogException, duckdb.BinderException) as exc:
        # a missing segment table or mapped column: a modelling error, reported before anything is sent
        result.status, result.message = "failed", f"{spec.model}: {str(exc).splitlines()[0]}"
        raise SyncFailed(result) from exc
    finally:
        result.api_calls = stats.total
        result.retried = stats.retries
        if result.status != "running":
            try:
                _finish(con, result, plan, started)
            except duckdb.Error:
                log.exception("could not record the run")
        con.close()


def _tally(engine: _Engine, plan: Plan, result: SyncResult) -> None:
    result.sent = engine.sent
    for op in OPS:
        for row in plan.rows.get(op, []):
            outcome = engine.final.get(row.member_key)
            if outcome == "rejected":
                result.rejected += 1
            elif outcome == "failed" or outcome is None and not _done(row):
                result.failed += 1
            else:
                result.succeeded += 1


def _done(row: Row) -> bool:
    if row.op == "remove":
        return not row.in_list
    if row.op == "insert":
        return row.in_list and row.synced_hash == row.row_hash
    return row.synced_hash == row.row_hash


def _run_file(con, spec: SegmentSpec, plan: Plan, result: SyncResult, outbox_dir: Path, run_id: str,
              now: datetime, options: SyncOptions) -> None:
    """Write the plan to the outbox, then commit the state of every row in one transaction."""
    rows = [r for op in OPS for r in plan.rows.get(op, [])]
    if not rows:
        return
    suffix = "csv" if options.file_format == "csv" else "jsonl"
    path = Path(outbox_dir) / spec.model / f"{run_id}.{suffix}"
    result.sent = write_outbox(path, rows, list(spec.fields), options.file_format)
    result.outbox_file = str(path)
    df = pd.DataFrame(
        {
            "member_key": [r.member_key for r in rows],
            "customer_key": [r.customer_key for r in rows],
            "email": [r.email for r in rows],
            "synced_hash": [r.synced_hash if r.op == "remove" else r.row_hash for r in rows],
            "in_list": [r.op != "remove" for r in rows],
            "added_by_sync": [True if r.op == "insert" else r.added_by_sync for r in rows],
        },
        dtype=object,
    )
    sync_id = spec.sync_id("file")
    con.execute("BEGIN")
    con.register("upd", df)
    con.execute("DELETE FROM activation.sync_state WHERE sync_id = ? AND member_key IN (SELECT member_key FROM upd)",
                [sync_id])
    con.execute(
        "INSERT INTO activation.sync_state SELECT ?, member_key, customer_key, email, synced_hash, "
        "CAST(in_list AS BOOLEAN), CAST(added_by_sync AS BOOLEAN), NULL, NULL, NULL, ?, ?, ? FROM upd",
        [sync_id, now, now, run_id],
    )
    con.unregister("upd")
    con.execute("COMMIT")
    result.succeeded = len(rows)
