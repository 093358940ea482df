"""`c360 sync`: the activation assets of selected segments and destinations, run through Dagster (so the run
and its metadata are in the UI), or planned only (`--dry-run`: nothing is sent, nothing is recorded as
synced)."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from datetime import UTC, datetime

from orchestration.settings import Settings


def select_syncs(specs, segment: str | None, destination: str | None) -> list[tuple]:
    """(spec, destination) pairs matching the filters; raises ValueError naming what exists otherwise."""
    wanted = None if segment is None else (segment if segment.startswith("seg_") else f"seg_{segment}")
    pairs = [(spec, dest) for spec in specs for dest in spec.destinations
             if (wanted is None or spec.model == wanted) and (destination is None or dest == destination)]
    if not pairs:
        known = ", ".join(sorted(s.model for s in specs))
        raise ValueError(f"no sync matches segment={segment or 'any'} destination={destination or 'any'} "
                         f"(segments: {known})")
    return pairs


def run_sync_command(settings: Settings, *, segment: str | None, destination: str | None, dry_run: bool,
                     force: bool) -> int:
    """Plan or run the selected syncs and print one line per sync (and the plan for a dry run)."""
    from orchestration.activation import SyncBlocked, SyncFailed, load_segment_specs, run_sync
    from orchestration.transform.project import dbt_project

    specs = load_segment_specs(json.loads(dbt_project().manifest_path.read_text()))
    try:
        pairs = select_syncs(specs, segment, destination)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if dry_run:
        for spec, dest in pairs:
            try:
                result = run_sync(spec, dest, serving_db=settings.serving_database,
                                  warehouse_db=settings.duckdb_database, outbox_dir=settings.home / "outbox",
                                  env=dict(os.environ), dry_run=True, force=force)
            except (SyncBlocked, SyncFailed) as stopped:
                result = stopped.result
            print(f"{spec.sync_id(dest)}: {result.status} {result.message}".rstrip())
            if result.plan_summary:
                print("  " + result.plan_summary.replace("\n", "\n  "))
        return 0
    return _run_through_dagster(settings, pairs, force)


def _run_through_dagster(settings: Settings, pairs: list[tuple], force: bool) -> int:
    from dagster import DagsterInstance, execute_job, reconstructable

    from orchestration.activation.assets import ERASURES, sync_asset_key
    from orchestration.definitions import sync_job
    from orchestration.progress import step_progress
    from orchestration.recovery import PID_TAG, process_identity

    keys = [sync_asset_key(spec, dest) for spec, dest in pairs]
    run_config = {
        "loggers": {"console": {"config": {"log_level": "WARNING"}}},
        "ops": {"__".join(key.path): {"config": {"force": force}} for key in keys},
    }
    log_path = settings.home / "logs" / f"sync-{datetime.now(UTC):%Y%m%dT%H%M%S}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with DagsterInstance.get() as instance, step_progress(instance) as progress_tags, log_path.open("w") as log, \
            contextlib.redirect_stdout(log):
        result = execute_job(reconstructable(sync_job), instance=instance, asset_selection=[ERASURES, *keys],
                             run_config=run_config, raise_on_error=False,
                             tags={**progress_tags, PID_TAG: process_identity()})
    by_key = {e.asset_key: e.step_materialization_data.materialization.metadata
              for e in result.get_asset_materialization_events()}
    for key, (spec, dest) in zip(keys, pairs, strict=True):
        metadata = by_key.get(key)
        if metadata is None:
            print(f"{spec.sync_id(dest)}: not synced (blocked or failed: see the run in the Dagster UI)")
            continue
        status = metadata["status"].value
        detail = metadata["message"].value if "message" in metadata else (
            f"{metadata['sent'].value} sent, {metadata['succeeded'].value} succeeded, "
            f"{metadata['rejected'].value} rejected, {metadata['api_calls'].value} API calls")
        print(f"{spec.sync_id(dest)}: {status} ({detail})")
    for event in result.all_events:
        if event.event_type_value == "STEP_FAILURE":
            print(f"failed: {event.step_key}: {event.event_specific_data.error.message.strip()[:500]}")
    print(f"run {result.run_id} {'succeeded' if result.success else 'FAILED'}; log: {log_path}")
    return 0 if result.success else 1
