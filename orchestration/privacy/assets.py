"""The purge as a Dagster asset: after every model and Python table of the warehouse is built (the identity
graph says who is erased and which identifiers were theirs), before publish (serving.duckdb and everything
downstream of it never sees a purged row).

No `from __future__ import annotations` here: Dagster inspects the `context` annotation at runtime.
"""

from collections.abc import Sequence
from datetime import UTC, datetime

from dagster import AssetExecutionContext, AssetKey, MaterializeResult, asset
from dagster_duckdb import DuckDBResource

from orchestration.ingestion.assets import DUCKDB_POOL
from orchestration.ingestion.retention import retire_landing_files
from orchestration.privacy.deadline import record_pending_deletions
from orchestration.privacy.purge import purge_erased
from orchestration.settings import Settings

PURGE = AssetKey(["privacy", "erasure_purge"])


def model_asset_keys(manifest: dict) -> list[AssetKey]:
    """Keys of every dbt model (schema, name), as the translator names them."""
    return sorted(
        {AssetKey([n["schema"], n["name"]]) for n in manifest.get("nodes", {}).values()
         if n.get("resource_type") == "model"},
        key=lambda k: k.to_user_string(),
    )


def build_purge_asset(settings: Settings, upstream: Sequence[AssetKey]):
    """The asset that purges every stored copy of newly erased people (orchestration.privacy.purge)."""

    @asset(
        key=PURGE,
        deps=list(upstream),
        group_name="privacy",
        kinds={"duckdb", "parquet"},
        pool=DUCKDB_POOL,
        description=(
            "Right to erasure on every stored copy: raw lake partitions and quarantine rewritten without the "
            "records of people erased since the last purge (manifest: `redacted`), their rows deleted from "
            "every table of the warehouse and serving.duckdb (checkpointed; a file whose freed blocks still "
            "hold them is rewritten whole), the outbox and temporary files cleaned, and their keyed hashes "
            "added to the suppression list ingestion checks. With C360_LANDING_RETENTION_DAYS, landing files "
            "older than that, loaded, audited and built, are then deleted (ingestion/retention.py)."
        ),
    )
    def erasure_purge(context: AssetExecutionContext, warehouse: DuckDBResource) -> MaterializeResult:
        """Purge the people erased since the last purge from every store."""
        with warehouse.get_connection() as con:
            holder: dict = {}

            def close() -> None:
                con.close()
                holder["closed"] = True

            result = purge_erased(
                con, warehouse_db=settings.duckdb_database, serving_db=settings.serving_database,
                lake_root=settings.lake_root, outbox_dir=settings.home / "outbox", salt=settings.erasure_salt,
                close_warehouse=close, compact_within_days=settings.erasure_rewrite_days,
            )
        context.log.info(f"purge: {result.identifiers} identifiers, {sum(result.raw_rows.values())} raw records, "
                         f"{sum(result.warehouse_rows.values())} warehouse rows, {result.seconds:.1f} s")
        metadata = result.metadata()
        with warehouse.get_connection() as con:
            # What the run report shows: the deletions destinations still owe, as of this purge.
            pending = record_pending_deletions(con, settings.lake_root, settings.erasure_salt, datetime.now(UTC),
                                               settings.erasure_deadline_days)
        metadata["deletions_pending"] = sum(r[1] for r in pending)
        metadata["deletions_overdue"] = sum(r[2] for r in pending)
        if settings.landing_retention_days is not None:
            # After the purge: the lake no longer holds an erased person's records, and neither will the
            # landing files retention deletes.
            retired = retire_landing_files(settings.landing_root, settings.raw_root, settings.landing_retention_days)
            context.log.info(f"landing retention ({settings.landing_retention_days} days): "
                             f"{retired.files_deleted} files deleted, {retired.kept_not_done} old files kept "
                             f"until audited and built, {retired.kept_changed} changed since loaded")
            metadata.update(retired.metadata())
        else:
            metadata["landing_retention"] = "off (C360_LANDING_RETENTION_DAYS unset)"
        return MaterializeResult(metadata=metadata)

    return erasure_purge
