"""The Dagster code location: every stage's assets, checks, resources and jobs, assembled."""

from __future__ import annotations

import json
import os
import warnings

from dagster import (
    AssetSelection,
    BetaWarning,
    Definitions,
    JobDefinition,
    PreviewWarning,
    define_asset_job,
)
from dagster_dbt import DbtCliResource
from dagster_duckdb import DuckDBResource

from orchestration.conventions import apply_conventions
from orchestration.ingestion.assets import build_raw_assets
from orchestration.locked_executor import locked_in_process_executor
from orchestration.settings import Settings

MAIN_JOB = "c360_main"
SYNC_JOB = "c360_sync"

# BackfillPolicy is marked beta; the warning is Dagster's note to itself, not something a user can act on.
warnings.filterwarnings("ignore", category=BetaWarning)


def build_definitions(settings: Settings | None = None) -> Definitions:
    """Assemble the code location for the given settings (from the environment by default)."""
    settings = settings or Settings.from_env()
    settings.duckdb_database.parent.mkdir(parents=True, exist_ok=True)
    # dbt's profile reads the same variable as the DuckDB resource: one warehouse file for both.
    os.environ["DUCKDB_DATABASE"] = str(settings.duckdb_database)
    # ... and the Spark target's warehouse and metastore (used when C360_TARGET=spark).
    from orchestration.transform.spark import export_spark_home

    export_spark_home(settings.home)
    from orchestration.activation.assets import ERASURES, build_activation_assets
    from orchestration.automation.triggers import build_daily_schedule, build_landing_sensor
    from orchestration.campaigns.assets import build_lift_stats_asset, build_lift_stats_check
    from orchestration.predictions.assets import build_predictions_asset
    from orchestration.privacy.assets import build_purge_asset, model_asset_keys
    from orchestration.privacy.deadline import build_deadline_check
    from orchestration.publish.assets import build_serving_asset, published_asset_keys
    from orchestration.publish.serving import dbt_descriptions
    from orchestration.quality.checks import build_quality_checks
    from orchestration.report.assets import build_report_asset
    from orchestration.report.dbt_docs import build_dbt_docs_asset
    from orchestration.segments.assets import build_segment_history_asset
    from orchestration.segments.catalog import segment_definitions
    from orchestration.transform.assets import warehouse_incremental_models, warehouse_models
    from orchestration.transform.project import dbt_project, dbt_target

    raw_assets = build_raw_assets(settings)
    predictions = build_predictions_asset(settings)
    manifest = json.loads(dbt_project().manifest_path.read_text())
    segment_history = build_segment_history_asset(manifest)
    lift_stats = build_lift_stats_asset(settings)
    python_tables = [*predictions.keys, *segment_history.keys, *lift_stats.keys]
    # The purge runs once every table of the warehouse is built, and publish waits for it.
    purge = build_purge_asset(settings, [*model_asset_keys(manifest), *python_tables])
    serving = build_serving_asset(
        settings, [*published_asset_keys(manifest, python_tables), purge.key], dbt_descriptions(manifest)
    )
    activation = build_activation_assets(manifest, settings)
    dbt_docs = build_dbt_docs_asset(settings, [serving.key])
    # Last in the run: after publish, every sync and the dbt docs (the report links its tables to their pages).
    report = build_report_asset(settings, [serving.key, dbt_docs.key, *(key for a in activation for key in a.keys)])
    quality_checks = build_quality_checks(
        settings, [s.name for s in segment_definitions(manifest)], manifest_path=dbt_project().manifest_path
    )
    # One process (DuckDB has a single writer, and the machine has two cores to share with it) holding the
    # C360_HOME lock: one run at a time, whoever launched it. The default of every job, the UI's too.
    executor = locked_in_process_executor(settings.home)
    main_job = define_asset_job(
        MAIN_JOB,
        selection=AssetSelection.all(),
        executor_def=executor,
        description="Everything, landing files to the published warehouse, for a range of export dates.",
    )
    sync_job = define_asset_job(
        SYNC_JOB,
        selection=AssetSelection.groups("activation"),
        executor_def=executor,
        description="Sync the published segments to their destinations (what `c360 sync` runs).",
    )
    definitions = Definitions(
        assets=[
            *raw_assets, warehouse_incremental_models, warehouse_models, predictions, segment_history, lift_stats,
            purge, serving,
            *activation, report, dbt_docs,
        ],
        asset_checks=[*quality_checks, build_lift_stats_check(), build_deadline_check(
            ERASURES, settings.lake_root, settings.erasure_salt, settings.erasure_deadline_days)],
        jobs=[main_job, sync_job],
        executor=executor,
        schedules=[build_daily_schedule(settings, MAIN_JOB)],
        sensors=[build_landing_sensor(settings, MAIN_JOB)],
        resources={
            "warehouse": DuckDBResource(database=str(settings.duckdb_database)),
            "dbt": DbtCliResource(project_dir=dbt_project(), target=dbt_target()),
        },
    )
    # Owners and the `pii` tag on every asset, derived in one place (orchestration/conventions.py). Dagster
    # marks the mapping as a preview API; the warning would reach every user's console at each load.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PreviewWarning)
        return definitions.map_asset_specs(func=apply_conventions(manifest))


defs = build_definitions()


def main_job() -> JobDefinition:
    """The main job, resolved: the target `c360 run` reconstructs in its run worker."""
    return defs.resolve_job_def(MAIN_JOB)


def sync_job() -> JobDefinition:
    """The sync job, resolved: the target `c360 sync` reconstructs."""
    return defs.resolve_job_def(SYNC_JOB)
