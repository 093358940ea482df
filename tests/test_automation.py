"""The landing sensor fires once per new file and never twice for the same one; the schedule plans the run of
the new day."""

from __future__ import annotations

import os
import time

from dagster import RunRequest, SkipReason, build_schedule_context, build_sensor_context
from landing_helpers import customer, order

from orchestration.automation.triggers import build_daily_schedule, build_landing_sensor


def evaluate(sensor_def, cursor):
    context = build_sensor_context(cursor=cursor)
    result = sensor_def(context)
    return result, context.cursor


def test_the_sensor_fires_once_per_new_file_and_never_twice(c360_env, landing):
    sensor_def = build_landing_sensor(c360_env, "c360_main")
    landing.jsonl("shop", "customers", "2026-02-01.jsonl", [customer(1)])
    result, cursor = evaluate(sensor_def, None)
    assert isinstance(result, SkipReason) and "shop__customers, shop__orders" in str(result.skip_message)
    landing.jsonl("shop", "orders", "2026-02-01.jsonl", [order(1)])
    result, cursor = evaluate(sensor_def, cursor)
    assert isinstance(result, RunRequest)
    assert result.tags["dagster/asset_partition_range_start"] == "2026-02-01"
    assert result.tags["c360/as_of_date"] == "2026-02-01"
    first_key = result.run_key
    result, cursor = evaluate(sensor_def, cursor)
    assert isinstance(result, SkipReason)  # nothing new: no second run for the same files
    landing.jsonl("shop", "orders", "2026-02-03.jsonl", [order(2, created="2026-02-03T10:00:00Z")])
    landing.jsonl("shop", "orders", "2026-01-20.jsonl", [order(3, created="2026-01-20T10:00:00Z")])  # a late file
    result, cursor = evaluate(sensor_def, cursor)
    assert isinstance(result, RunRequest) and result.run_key != first_key
    assert (result.tags["dagster/asset_partition_range_start"], result.tags["dagster/asset_partition_range_end"]) == (
        "2026-01-20", "2026-02-03")
    assert result.tags["c360/as_of_date"] == "2026-02-03"
    # A file rewritten in place is a new delivery (the loader decides whether its bytes changed).
    path = landing.jsonl("shop", "orders", "2026-02-01.jsonl", [order(1), order(4)])
    os.utime(path, ns=(time.time_ns() + 10**9, time.time_ns() + 10**9))
    result, cursor = evaluate(sensor_def, cursor)
    assert isinstance(result, RunRequest)
    assert result.tags["dagster/asset_partition_range_start"] == "2026-02-01"
    assert isinstance(evaluate(sensor_def, cursor)[0], SkipReason)


def test_the_schedule_runs_the_days_with_new_files_as_of_the_latest(c360_env, landing):
    schedule_def = build_daily_schedule(c360_env, "c360_main")
    assert isinstance(schedule_def(build_schedule_context()), SkipReason)  # no landing zone yet
    landing.jsonl("shop", "customers", "2026-02-01.jsonl", [customer(1)])
    landing.jsonl("shop", "orders", "2026-02-01.jsonl", [order(1)])
    landing.jsonl("shop", "orders", "2026-02-02.jsonl", [order(2, created="2026-02-02T10:00:00Z")])
    request = schedule_def(build_schedule_context())
    assert isinstance(request, RunRequest)
    assert request.tags["dagster/asset_partition_range_start"] == "2026-02-01"
    assert request.tags["dagster/asset_partition_range_end"] == "2026-02-02"
    assert request.tags["c360/as_of_date"] == "2026-02-02"
