"""The dbt models as Dagster assets; dbt tests become asset checks.

Two asset groups over one manifest: the incremental event tables follow the daily partitions (a run over a
range of export dates is one `dbt build` with that window, BackfillPolicy.single_run), everything else is
unpartitioned and rebuilt from them.

No `from __future__ import annotations`: Dagster inspects the `context` annotation at runtime.
"""

import contextlib
import json
import os
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

from dagster import AssetExecutionContext, AssetKey, BackfillPolicy, DagsterLogManager
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_START_TAG
from dagster_dbt import DbtCliInvocation, DbtCliResource, dbt_assets
from dagster_dbt.core.dbt_event_iterator import DbtEventIterator

from orchestration.ingestion.assets import DUCKDB_POOL
from orchestration.ingestion.ledger import current_loads, mark
from orchestration.partitions import AS_OF_TAG, daily_partitions
from orchestration.settings import Settings
from orchestration.transform.node_progress import NodeProgress
from orchestration.transform.project import (
    PRODUCTION_BUILD_FLAGS,
    dbt_project,
    dbt_vars_args,
    engine,
    reuse_latest_parse,
)
from orchestration.transform.translator import C360DbtTranslator

# The large event tables (tagged in their config): incremental on DuckDB, rebuilt in full on Spark.
INCREMENTAL_MODELS = "tag:daily_partitioned"
# The model whose successful build marks the run's reloaded raw days built in the ledger (ingestion/ledger.py).
BUILT_WITH = AssetKey(["marts", "customer_360"])


def dbt_build_args(as_of_date: str | None, reload_from_date: str | None = None) -> list[str]:
    """The dbt command of a run: build what is selected, pinned to the run's as-of date if given, and for
    the partitioned models also reloading every export date from the partition range's first day.

    Unit tests are left out, as dbt advises for production runs: they test the SQL's logic on fixed rows,
    not the data, so they belong to CI (the pytest suite runs them), and they cost about 10 s a run."""
    return ["build", *PRODUCTION_BUILD_FLAGS, *dbt_vars_args(as_of_date, reload_from_date)]


def partition_window_vars(first_day: date, end_exclusive: date, as_of_tag: str | None) -> tuple[str, str]:
    """(as_of_date, reload_from_date) of a partitioned run: the run's as-of tag, else the window's last day."""
    last_day = end_exclusive - timedelta(days=1)
    return (as_of_tag or last_day.isoformat()), first_day.isoformat()


def step_target_path(op_name: str) -> Path:
    """A fixed target folder per dbt step (relative to the project): dagster-dbt's default is a new folder per
    invocation, which grows the project by a manifest copy at every run. Each step starts from the run's own
    parse (reuse_latest_parse). Steps of one run execute one after another (one DuckDB writer), so sharing is
    safe."""
    return Path("target") / "dagster" / op_name


def run_dbt_vars(tags: dict[str, str]) -> tuple[str | None, str | None]:
    """(as_of_date, reload_from_date) from a run's tags, the same for every dbt invocation of the run:
    identical vars let dbt reuse its partial parse instead of parsing the project again each time."""
    return tags.get(AS_OF_TAG), tags.get(ASSET_PARTITION_RANGE_START_TAG)


def events_with_progress(invocation: DbtCliInvocation, log: DagsterLogManager) -> Iterator:
    """The Dagster events of a dbt command (what `invocation.stream()` yields), logging dbt's node progress as it
    goes: `dbt 12/340 done, running table model marts.customer_360` when a node starts, and the final count. The
    terminal of `c360 run` reads these messages back from the event log (orchestration/progress.py)."""
    progress = NodeProgress()
    try:
        for event in invocation.stream_raw_events():
            started = progress.observe(event.raw_event)
            if started is not None:
                log.info(started.message)
            yield from event.to_default_asset_events(
                manifest=invocation.manifest, dagster_dbt_translator=invocation.dagster_dbt_translator,
                context=invocation.context, target_path=invocation.target_path, project=invocation.project,
            )
    finally:
        if progress.total:
            log.info(progress.final().message)


def release_warehouse(invocation: DbtCliInvocation) -> None:
    """Close the read-only handle on the warehouse that dbt-duckdb keeps open in this process after the row counts'
    queries: every step of a run executes in one process, and the next one opening the warehouse read-write would
    fail (DuckDB refuses a second configuration of an open database file)."""
    adapter = invocation.adapter
    if adapter is None or adapter.type() != "duckdb":
        return
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    adapter.cleanup_connections()
    with contextlib.suppress(Exception):  # no environment: nothing was opened
        DuckDBConnectionManager.env().close()
    DuckDBConnectionManager.close_all_connections()


def run_dbt_step(context: AssetExecutionContext, dbt: DbtCliResource, args: list[str]):
    """One dbt command of a run, streamed as Dagster events with dbt's node progress in the log and, on DuckDB, the
    standard `dagster/row_count` of every table built (dagster-dbt's fetch_row_counts: it lets dbt finish first,
    DuckDB having one writer, then counts through a read-only connection; views are not counted). On Spark, the raw
    layer and the pipeline's own tables are registered there first, and the tables built are copied into DuckDB
    after (spark_bridge)."""
    target_path = step_target_path(context.op.name)
    on_spark = engine() == "spark"
    # dbt's in-process code (the row counts' adapter) may move the process into the project folder; every later
    # step resolves relative paths (a relative C360_HOME, `./data` by default) against the folder it started in.
    started_in = os.getcwd()
    if on_spark:
        from orchestration.transform.spark import erasure_pad_env
        from orchestration.transform.spark_bridge import prepare_spark

        settings = Settings.from_env()
        # dbt's process inherits this one's environment: the spark target reads the erasure key's pads there.
        os.environ.update(erasure_pad_env(settings.erasure_salt))
        manifest = json.loads(dbt_project().manifest_path.read_text())
        registered = prepare_spark(settings.home, settings.duckdb_database, settings.raw_root, manifest)
        context.log.info(f"Spark: raw tables registered; pipeline tables exported: {', '.join(registered) or 'none'}")
    reuse_latest_parse(target_path)
    invocation = dbt.cli(args, context=context, target_path=target_path)
    events = DbtEventIterator(events_with_progress(invocation, context.log), invocation)
    try:
        if on_spark:
            # The counts would need a second Spark session beside dbt's, on the same metastore.
            yield from events
        else:
            try:
                yield from events.fetch_row_counts()
            finally:
                release_warehouse(invocation)
    finally:
        os.chdir(started_in)
    if on_spark:
        from orchestration.transform.spark_bridge import built_tables, mirror_into_duckdb

        run_results = dbt_project().project_dir / target_path / "run_results.json"
        copied = mirror_into_duckdb(settings.home, settings.duckdb_database, built_tables(run_results, manifest))
        context.log.info(f"Spark: {copied} tables copied into {settings.duckdb_database}")


@dbt_assets(
    manifest=dbt_project().manifest_path,
    project=dbt_project(),
    select=INCREMENTAL_MODELS,
    name="warehouse_incremental_models",
    dagster_dbt_translator=C360DbtTranslator(),
    partitions_def=daily_partitions(Settings.from_env()),
    backfill_policy=BackfillPolicy.single_run(),
    pool=DUCKDB_POOL,
)
def warehouse_incremental_models(context: AssetExecutionContext, dbt: DbtCliResource):
    """The large event tables, loaded incrementally for the run's range of export dates."""
    window = context.partition_time_window
    as_of, reload_from = partition_window_vars(
        window.start.date(), window.end.date(), context.run.tags.get(AS_OF_TAG)
    )
    yield from run_dbt_step(context, dbt, dbt_build_args(as_of, reload_from))


@dbt_assets(
    manifest=dbt_project().manifest_path,
    project=dbt_project(),
    exclude=INCREMENTAL_MODELS,
    name="warehouse_models",
    dagster_dbt_translator=C360DbtTranslator(),
    pool=DUCKDB_POOL,
)
def warehouse_models(context: AssetExecutionContext, dbt: DbtCliResource):
    """`dbt build` of every other model and its tests (a failing test stops what depends on it). Once it
    succeeded, the raw days it (and the incremental step before it) reloaded are marked built in the ledger."""
    as_of, reload_from = run_dbt_vars(context.run.tags)
    settings = Settings.from_env()
    # Dagster runs this multi-asset as several steps around the blocking checks (the seed first, staging after
    # the raw audits, the marts after the incremental step). The one building customer_360, which reads every
    # table that reloads days from reload_from_date, is the last: only its success means the days are built.
    last_step = BUILT_WITH in context.selected_asset_keys
    loads = current_loads(settings.raw_root) if last_step else {}  # what the build reads, marked once it succeeded
    yield from run_dbt_step(context, dbt, dbt_build_args(as_of, reload_from))
    if last_step:
        marked = mark_built(settings, loads, reload_from, as_of, context.run.run_id)
        context.log.info(f"{marked} loaded export dates from {reload_from} marked built in the ledger")


def mark_built(settings: Settings, loads: dict[str, list[tuple[date, datetime]]], reload_from: str | None,
               as_of: str | None, run_id: str) -> int:
    """Mark built the loads the run's dbt build reloaded: export dates from reload_from_date (the incremental
    tables reselect from it) to the as-of date (later ones are dropped by their post-hooks). Without
    reload_from_date the incremental tables reload only their lookback days: nothing is marked."""
    if not reload_from:
        return 0
    first = date.fromisoformat(reload_from)
    last = date.fromisoformat(as_of) if as_of else date.max
    return sum(mark(settings.raw_root, entity, "built", [(d, t) for d, t in days if first <= d <= last], run_id)
               for entity, days in loads.items())
