"""The daily schedule and the landing-zone sensor of the main job.

No `from __future__ import annotations` here: Dagster inspects the `context` annotation at runtime.
"""

import json
import os

from dagster import (
    DefaultScheduleStatus,
    DefaultSensorStatus,
    RunRequest,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    SensorDefinition,
    SensorEvaluationContext,
    SkipReason,
    schedule,
    sensor,
)

from orchestration.automation.landing_sensor import new_files, run_tags
from orchestration.ingestion.landing import scan_landing
from orchestration.ingestion.ledger import unfinished
from orchestration.settings import Settings

REQUIRED = ("shop__customers", "shop__orders")


def build_daily_schedule(settings: Settings, job_name: str) -> ScheduleDefinition:
    """Every day at C360_SCHEDULE_CRON (default 06:00 UTC): the main job over the export dates with new,
    changed or vanished files and those an earlier run left unaudited or unbuilt, built as of the latest export
    date (running by default)."""

    @schedule(
        name="daily_main",
        job_name=job_name,
        cron_schedule=os.environ.get("C360_SCHEDULE_CRON", "0 6 * * *"),
        execution_timezone="UTC",
        default_status=DefaultScheduleStatus.RUNNING,
        description="The whole flow for the new day: ingest what landed, build, audit, publish, sync.",
    )
    def daily_main(context: ScheduleEvaluationContext):
        """The run for today's deliveries (or a skip saying why there is none)."""
        from orchestration.run import dates_to_load, run_span

        scan = scan_landing(settings.landing_root)
        missing = [e for e in REQUIRED if not scan.files.get(e)]
        if missing:
            return SkipReason(f"{settings.landing_root} has no files for {', '.join(missing)}")
        dates = [d for d in scan.dates if d >= settings.partition_start_date]
        if not dates:
            return SkipReason(f"no export dates on or after C360_PARTITION_START={settings.partition_start}")
        first, last = run_span(dates_to_load(settings, scan, dates), unfinished(settings.raw_root, dates[-1]),
                               dates[-1])
        return RunRequest(tags=run_tags(first, last, dates[-1]))

    return daily_main


def build_landing_sensor(settings: Settings, job_name: str) -> SensorDefinition:
    """Starts the main job when files land: once per new (or rewritten) file, never twice for the same one.
    Off by default (the daily schedule covers a daily export); turn it on for deliveries during the day."""

    @sensor(
        name="landing_files",
        job_name=job_name,
        minimum_interval_seconds=int(os.environ.get("C360_SENSOR_INTERVAL_SECONDS", "300")),
        default_status=DefaultSensorStatus.STOPPED,
        description="New or rewritten files in the landing zone start a run over their export dates.",
    )
    def landing_files(context: SensorEvaluationContext):
        """A run request for the files landed since the last evaluation."""
        scan = scan_landing(settings.landing_root)
        found = new_files(scan, context.cursor)
        context.update_cursor(json.dumps(found.seen))
        dates = [d for d in found.dates if d >= settings.partition_start_date]
        if not dates:
            return SkipReason("no new landing files")
        if any(not scan.files.get(e) for e in REQUIRED):
            return SkipReason(f"waiting for {', '.join(REQUIRED)}: a build needs both")
        # The run also takes up the days an earlier run loaded but did not get audited and built (ledger.py).
        dates = sorted({*dates, *(s.day for s in unfinished(settings.raw_root, scan.dates[-1]))})
        return RunRequest(run_key=found.run_key(), tags=run_tags(dates[0], dates[-1], scan.dates[-1]))

    return landing_files
