"""Activation as Dagster assets, generated from the segments' dbt meta: one asset per (segment, destination),
downstream of the published serving.duckdb (itself downstream of every blocking check), plus the erasure step.

No `from __future__ import annotations` here: Dagster inspects the `context` annotation at runtime.
"""

import os

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    Config,
    MaterializeResult,
    MetadataValue,
    asset,
)
from pydantic import Field

from orchestration.activation import SegmentSpec, SyncBlocked, SyncFailed, load_segment_specs, run_erasures, run_sync
from orchestration.activation.scope import skip_reason
from orchestration.ingestion.assets import DUCKDB_POOL
from orchestration.publish.assets import SERVING
from orchestration.settings import Settings

ERASURES = AssetKey(["activation", "erasures"])
CIRCUIT_BREAKER = "circuit_breaker"


class SyncConfig(Config):
    """Per-run switches of a sync (`c360 sync --force`, or the launchpad)."""

    force: bool = Field(default=False, description="Send even when the circuit breaker would stop the sync.")


def sync_asset_key(spec: SegmentSpec, destination: str) -> AssetKey:
    """`activation/<segment model>__<destination>`."""
    return AssetKey(["activation", f"{spec.model}__{destination}"])


def _paths(settings: Settings) -> dict:
    return {"serving_db": settings.serving_database, "warehouse_db": settings.duckdb_database,
            "outbox_dir": settings.home / "outbox"}


def build_erasure_asset(settings: Settings) -> AssetsDefinition:
    """Deletes erased people from every destination they were sent to, before any sync of the run."""

    @asset(key=ERASURES, deps=[SERVING], group_name="activation", pool=DUCKDB_POOL, kinds={"python"},
           description="Erasure requests carried out in every email tool a person was sent to (Klaviyo "
                       "data-privacy-deletion-jobs, Mailchimp delete-permanent, the outbox files); only keyed "
                       "hashes are kept. The only path to a deletion in a destination.")
    def erasures(context: AssetExecutionContext) -> MaterializeResult:
        """Carry out pending erasures."""
        result = run_erasures(env=dict(os.environ), **_paths(settings))
        return MaterializeResult(metadata=result.metadata())

    return erasures


def build_sync_asset(spec: SegmentSpec, destination: str, settings: Settings) -> AssetsDefinition:
    """The asset that syncs one segment to one destination (its diff only), with the circuit-breaker check."""
    key = sync_asset_key(spec, destination)

    @asset(
        key=key,
        deps=[SERVING, ERASURES],
        group_name="activation",
        pool=DUCKDB_POOL,
        kinds={destination} if destination in ("klaviyo", "mailchimp") else {"file"},
        description=f"{spec.model} kept equal to its {destination} list '{spec.list_name}' ({spec.mode}; "
                    f"by {spec.identifier}; holdout never sent). Reads serving.duckdb only.",
        check_specs=[AssetCheckSpec(
            CIRCUIT_BREAKER, asset=key, blocking=True,
            description="The planned change is within the allowed share of the audience and the segment is not "
                        "suddenly empty (override with force).",
        )],
    )
    def sync(context: AssetExecutionContext, config: SyncConfig):
        """Send the segment's changes since the last successful sync."""
        skipped = skip_reason(context.run.tags, destination)
        if skipped:
            context.log.info(f"{spec.sync_id(destination)}: sync skipped: {skipped}")  # the run summary says it once
            yield AssetCheckResult(check_name=CIRCUIT_BREAKER, passed=True, metadata={"skipped": skipped})
            yield MaterializeResult(asset_key=key, metadata={"status": "skipped", "destination": destination,
                                                             "sent": 0, "message": skipped})
            return
        try:
            result = run_sync(spec, destination, env=dict(os.environ), force=config.force, **_paths(settings))
        except SyncBlocked as blocked:
            yield AssetCheckResult(check_name=CIRCUIT_BREAKER, passed=False, severity=AssetCheckSeverity.ERROR,
                                   metadata={**blocked.result.metadata(),
                                             "plan": MetadataValue.md(f"```\n{blocked.result.plan_summary}\n```")})
            raise
        except SyncFailed as failed:
            context.log.error(f"{spec.sync_id(destination)}: {failed.result.message}")
            raise
        yield AssetCheckResult(check_name=CIRCUIT_BREAKER, passed=True,
                               metadata={"audience": result.audience, "forced": config.force})
        if result.status == "skipped":
            context.log.info(f"{spec.sync_id(destination)} skipped: {result.message}")
        metadata = result.metadata()
        if result.plan_summary:
            metadata["plan"] = MetadataValue.md(f"```\n{result.plan_summary}\n```")
        yield MaterializeResult(asset_key=key, metadata=metadata)

    return sync


def build_activation_assets(manifest: dict, settings: Settings) -> list[AssetsDefinition]:
    """The erasure asset and one sync asset per (segment, destination) declared in the segments' meta."""
    assets = [build_erasure_asset(settings)]
    for spec in load_segment_specs(manifest):
        assets.extend(build_sync_asset(spec, destination, settings) for destination in spec.destinations)
    return assets
