"""The daily partitions shared by every asset that follows the landing files' export date."""

from __future__ import annotations

from dagster import DailyPartitionsDefinition

from orchestration.settings import Settings

# The run tag that pins the date a run builds "as known at the end of" (dbt var as_of_date); set by
# `c360 run`, the schedule and the sensor, read by every stage of the run.
AS_OF_TAG = "c360/as_of_date"


def daily_partitions(settings: Settings | None = None) -> DailyPartitionsDefinition:
    """One partition per export date, from C360_PARTITION_START up to today (inclusive)."""
    settings = settings or Settings.from_env()
    return DailyPartitionsDefinition(start_date=settings.partition_start, end_offset=1)
