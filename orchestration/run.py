"""Launch the main job for the landing zone's date range on the persistent Dagster instance."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from dagster import DagsterInstance, execute_job, reconstructable
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from orchestration.activation.scope import SYNC_SKIP_REASON_TAG, sync_tags
from orchestration.ingestion.landing import LandingScan
from orchestration.ingestion.ledger import DayState, days_text, describe, unfinished
from orchestration.partitions import AS_OF_TAG
from orchestration.progress import step_progress
from orchestration.recovery import PID_TAG, process_identity
from orchestration.settings import Settings


@dataclass
class RunOutcome:
    """What `c360 run` reports: the run, per-asset counts, and everything that needs a look."""

    run_id: str
    ok: bool
    start: date
    end: date
    seconds: float
    assets: dict[str, dict] = field(default_factory=dict)
    failed_checks: list[str] = field(default_factory=list)
    checks_passed: int = 0
    notes: list[str] = field(default_factory=list)
    error: str = ""
    log_path: Path | None = None

    def _stage_lines(self) -> list[str]:
        """One line each for predictions, segments and publish, from their assets' metadata."""
        lines = []
        predictions = self.assets.get("predictions/customer_predictions")
        if predictions:
            status = predictions.get("status", "?")
            detail = predictions.get("reason") if status != "ok" else (
                f"{predictions.get('predicted_customers', 0):,} buyers scored")
            lines.append(f"  predictions: {status} ({detail})")
        history = self.assets.get("segments/segment_memberships")
        if history and "entered" in history:
            lines.append(f"  segments: {history['entered']:,} entered, {history['exited']:,} exited "
                         f"as of {history.get('as_of_date')} (segments.segment_sizes_daily)")
        elif history and "skipped" in history:
            lines.append(f"  segments: history not recorded: {history['skipped']}")
        syncs = {k: v for k, v in self.assets.items() if k.startswith("activation/") and "__" in k}
        by_destination: dict[str, dict] = {}
        for key, m in syncs.items():
            summary = by_destination.setdefault(key.rsplit("__", 1)[1], {"syncs": 0, "sent": 0, "skipped": None})
            summary["syncs"] += 1
            summary["sent"] += int(m.get("sent", 0) or 0)
            if m.get("status") == "skipped":
                summary["skipped"] = m.get("message")
        for destination, summary in sorted(by_destination.items()):
            if summary["skipped"]:
                lines.append(f"  activation {destination}: skipped ({summary['skipped']})")
            else:
                where = " under outbox/" if destination == "file" else ""
                lines.append(f"  activation {destination}: {summary['syncs']} segments synced, "
                             f"{summary['sent']:,} changes sent{where}")
        purge = self.assets.get("privacy/erasure_purge")
        suppressed = sum(m.get("rows_suppressed", 0) for k, m in self.assets.items() if k.startswith("raw/"))
        if purge or suppressed:
            purge = purge or {}
            lines.append(f"  erasure: {purge.get('identifiers_purged', 0)} identifiers purged "
                         f"({purge.get('raw_rows_removed', 0):,} raw records, "
                         f"{purge.get('warehouse_rows_removed', 0):,} warehouse rows), "
                         f"{suppressed:,} records of erased people suppressed at ingestion")
        serving = self.assets.get("serving/serving_duckdb")
        if serving:
            lines.append(f"  published: {serving.get('path')} ({serving.get('tables', 0)} tables, "
                         f"{serving.get('rows', 0):,} rows)")
        else:
            lines.append("  published: nothing (serving.duckdb keeps its previous version)")
        return lines

    def render(self) -> str:
        """The short summary printed at the end of `c360 run`."""
        lines = [
            f"run {self.run_id} {'succeeded' if self.ok else 'FAILED'} in {self.seconds:,.1f} s "
            f"for export dates {self.start} .. {self.end}",
        ]
        raw = {k: v for k, v in self.assets.items() if k.startswith("raw/")}
        if raw:
            lines.append(f"  {'raw asset':34s} {'loaded':>10s} {'quarantined':>12s} {'days new':>9s} {'unchanged':>9s}")
            for key, m in sorted(raw.items()):
                lines.append(
                    f"  {key:34s} {m.get('rows_loaded', 0):>10,} {m.get('rows_quarantined', 0):>12,} "
                    f"{m.get('partitions_loaded', 0):>9,} {m.get('partitions_unchanged', 0):>9,}"
                )
        built = sorted(k for k in self.assets if not k.startswith("raw/"))
        if built:
            layers: dict[str, int] = {}
            for key in built:
                layers[key.split("/")[0]] = layers.get(key.split("/")[0], 0) + 1
            lines.append("  assets built: " + ", ".join(f"{n} {layer}" for layer, n in sorted(layers.items())))
        lines.extend(self._stage_lines())
        errors = [c for c in self.failed_checks if "(ERROR)" in c]
        warnings = [c for c in self.failed_checks if "(ERROR)" not in c]
        lines.append(f"  checks: {self.checks_passed} passed, {len(errors)} failed, {len(warnings)} warnings")
        for check in errors:
            lines.append(f"  check failed: {check}")
        for check in warnings:
            lines.append(f"  warning: {check}")
        for note in self.notes:
            lines.append(f"  note: {note}")
        if self.error:
            lines.append(f"  error: {self.error}")
        if self.log_path:
            lines.append(f"  log: {self.log_path}")
        lines.append("  details: raw.load_manifest and raw.quarantine in the warehouse; the run in the Dagster UI")
        return "\n".join(lines)


def _relax_sqlite_durability() -> None:
    """Skip the fsync of every commit to the instance's SQLite files in this process.

    A single-run backfill over a year of daily partitions writes thousands of events; with one fsync per
    commit that costs more than the loading itself. An application crash still cannot corrupt SQLite with
    synchronous=OFF (only an OS crash or power loss can lose the last writes of the run history).
    """
    import os

    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    mode = os.environ.get("C360_SQLITE_SYNCHRONOUS", "OFF").upper()
    if mode not in {"OFF", "NORMAL", "FULL", "EXTRA"}:
        raise ValueError(f"C360_SQLITE_SYNCHRONOUS must be OFF, NORMAL, FULL or EXTRA, not {mode}")

    @event.listens_for(Engine, "connect")
    def _pragma(dbapi_connection, _record):  # pragma: no cover - exercised by every c360 run
        if type(dbapi_connection).__module__.startswith("sqlite3"):
            cursor = dbapi_connection.cursor()
            cursor.execute(f"PRAGMA synchronous = {mode}")
            cursor.close()


def _main_job():
    from orchestration.definitions import main_job

    return main_job()


def dates_to_load(settings: Settings, scan: LandingScan, dates: list[date]) -> list[date]:
    """Export dates on which some entity has a landing file that is new, changed or gone since loading."""
    from orchestration.ingestion.entities import get_entity
    from orchestration.ingestion.ledger import unaudited_days
    from orchestration.ingestion.loader import connect, plan_partitions

    wanted = set(dates)
    pending: set[date] = set()
    con = connect()
    try:
        for name, files in scan.files.items():
            decided, to_load = plan_partitions(con, settings.raw_root, get_entity(name), files, wanted,
                                               unaudited_days(settings.raw_root, name))
            pending |= set(to_load) | {p.partition for p in decided if p.status != "unchanged"}
    finally:
        con.close()
    return sorted(pending)


def run_span(pending: list[date], unfinished: list[DayState], latest: date) -> tuple[date, date]:
    """The export dates a run covers: every day with new, changed or vanished files and every day an earlier run
    loaded but did not get audited and built (ledger.py); with none, the latest day alone, so the rest of the
    job still runs. The partition range's first day is the dbt build's reload_from_date."""
    days = sorted(set(pending) | {s.day for s in unfinished})
    return (days[0], days[-1]) if days else (latest, latest)


def run_main_job(settings: Settings, scan: LandingScan, as_of: date | None = None,
                 first: date | None = None, last: date | None = None, *, no_sync: bool = False,
                 sync_past: bool = False) -> RunOutcome:
    """Execute the main job over every export date in the landing zone (up to `as_of`), or, for a backfill,
    over the export dates `first`..`last` (every one of them, built as of `last` unless `as_of` says).

    A run as of a date before the latest export syncs only the file outbox unless `sync_past`;
    `no_sync` publishes without any sync (see orchestration/activation/scope.py)."""
    import time

    dates = [d for d in scan.dates if as_of is None or d <= as_of]
    notes = [f"not loaded: {p.rel_path}: {p.reason}" for p in scan.problems]
    early = [d for d in dates if d < settings.partition_start_date]
    if early:
        notes.append(
            f"{len(early)} export dates before C360_PARTITION_START={settings.partition_start} are not loaded "
            f"(earliest {early[0]}); set C360_PARTITION_START to include them"
        )
    dates = [d for d in dates if d >= settings.partition_start_date]
    absent = scan.absent_sources()
    if absent:
        notes.append(f"absent optional sources (their columns stay empty): {', '.join(absent)}")
    if not dates:
        return RunOutcome("-", False, as_of or date.min, as_of or date.min, 0.0, notes=notes,
                          error="no export dates to load")
    # Days an earlier run loaded but did not see through its audit and build (a failed audit, a crash): this run
    # takes them up again, whatever else it loads, so nothing is built from an unaudited day.
    left_over = unfinished(settings.raw_root, up_to=dates[-1])
    if first or last:
        # A backfill: the whole requested span (days whose files did not change are skipped by the loader).
        dates = [d for d in dates if (first is None or d >= first) and (last is None or d <= last)]
        if not dates:
            return RunOutcome("-", False, first or date.min, last or date.min, 0.0, notes=notes,
                              error=f"no export dates between {first or 'the first'} and {last or 'the last'}")
        left_over = [s for s in left_over if s.day <= dates[-1]]
        start, end = run_span([dates[0], dates[-1]], left_over, dates[-1])
    else:
        # Only the span of days with new, changed or vanished files is run (each day in a partition range
        # costs Dagster events), widened to the days left unfinished.
        start, end = run_span(dates_to_load(settings, scan, dates), left_over, dates[-1])
    ledger_note = describe(left_over)
    if ledger_note:
        notes.insert(0, f"ledger: {ledger_note}")
    tags = {
        ASSET_PARTITION_RANGE_START_TAG: start.isoformat(),
        ASSET_PARTITION_RANGE_END_TAG: end.isoformat(),
        # The build is as of the latest export date (or --as-of), even when only older days are reloaded.
        AS_OF_TAG: (as_of or dates[-1]).isoformat(),
    }
    scope = sync_tags(as_of=date.fromisoformat(tags[AS_OF_TAG]), latest_export=max(scan.dates), no_sync=no_sync,
                      sync_past=sync_past)
    if scope:
        tags.update(scope)
        notes.append(f"sync skipped: {scope[SYNC_SKIP_REASON_TAG]}")
    began = time.perf_counter()
    import os

    from orchestration.transform.project import refresh_manifest

    # Models edited since the last run are part of this one; parsed with the run's own vars and database.
    os.environ["DUCKDB_DATABASE"] = str(settings.duckdb_database)
    refresh_manifest(tags[AS_OF_TAG], start.isoformat())
    _relax_sqlite_durability()
    with DagsterInstance.get() as instance:
        # The console shows warnings only; every event still goes to the instance for the UI.
        run_config = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
        # dbt's own progress lines go to a log file; the console gets the summary (and warnings).
        log_path = settings.home / "logs" / f"run-{datetime.now(UTC):%Y%m%dT%H%M%S}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with step_progress(instance) as progress_tags, log_path.open("w") as log, contextlib.redirect_stdout(log):
            # The pid from the run's creation on, so crash recovery can judge a run killed before its executor.
            result = execute_job(reconstructable(_main_job), instance=instance,
                                 tags={**tags, **progress_tags, PID_TAG: process_identity()}, run_config=run_config)
        outcome = RunOutcome(result.run_id, result.success, start, end, time.perf_counter() - began, notes=notes,
                             log_path=log_path)
        for event in result.get_asset_materialization_events():
            mat = event.step_materialization_data.materialization
            outcome.assets[mat.asset_key.to_user_string()] = {
                k: v.value for k, v in mat.metadata.items()
            }
        for event in result.all_events:
            if event.event_type_value == "ASSET_CHECK_EVALUATION":
                evaluation = event.event_specific_data
                outcome.checks_passed += bool(evaluation.passed)
                if not evaluation.passed:
                    outcome.failed_checks.append(
                        f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name} "
                        f"({evaluation.severity.value}) {evaluation.description or ''}".strip()
                    )
                    if evaluation.severity.value == "ERROR":
                        outcome.ok = False
        remaining = unfinished(settings.raw_root, up_to=as_of or dates[-1])
        if remaining:
            outcome.notes.append(f"ledger: {days_text(sorted({s.day for s in remaining}))} loaded, not yet "
                                 "audited and built: the next run takes them up again")
        if not result.success:
            failures = [e.event_specific_data.error.message for e in result.all_events
                        if e.event_type_value == "STEP_FAILURE"]
            outcome.error = " | ".join(f.strip() for f in failures)[:2000]
    return outcome
