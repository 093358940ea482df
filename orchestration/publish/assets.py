"""The publish step as a Dagster asset: downstream of every published table and of the blocking checks on
them, so a failed audit in the run means serving.duckdb is not touched.

No `from __future__ import annotations` here: Dagster inspects the `context` annotation at runtime.
"""

from collections.abc import Mapping, Sequence

from dagster import AssetExecutionContext, AssetKey, MaterializeResult, MetadataValue, asset
from dagster_duckdb import DuckDBResource

from orchestration.ingestion.assets import DUCKDB_POOL
from orchestration.publish.serving import PUBLISHED_SCHEMAS, RelationDocs, publish_serving
from orchestration.settings import Settings

SERVING = AssetKey(["serving", "serving_duckdb"])


def published_asset_keys(manifest: dict, extra: Sequence[AssetKey] = ()) -> list[AssetKey]:
    """Keys of the dbt models that land in a published schema, plus `extra` (the pipeline's Python assets)."""
    keys = {
        AssetKey([node["schema"], node["name"]])
        for node in manifest.get("nodes", {}).values()
        if node.get("resource_type") == "model" and node.get("schema") in PUBLISHED_SCHEMAS
    }
    keys.update(k for k in extra if k.path[0] in PUBLISHED_SCHEMAS)
    return sorted(keys, key=lambda k: k.to_user_string())


def build_serving_asset(
    settings: Settings, upstream: Sequence[AssetKey], docs: Mapping[str, RelationDocs] | None = None
):
    """The asset that rebuilds serving.duckdb from the audited warehouse and swaps it in atomically; `docs` (the
    dbt docs, publish.serving.dbt_descriptions) become the tables' and columns' comments."""

    @asset(
        key=SERVING,
        deps=list(upstream),
        group_name="publish",
        kinds={"duckdb"},
        pool=DUCKDB_POOL,
        description=(
            f"The read-only copy BI tools and activation read ({settings.serving_database.name}): schemas "
            f"{', '.join(PUBLISHED_SCHEMAS)}. Rebuilt into a temporary file and renamed over the old one, only "
            "after every blocking check upstream passed in the run."
        ),
    )
    def serving_duckdb(context: AssetExecutionContext, warehouse: DuckDBResource) -> MaterializeResult:
        """Publish the audited marts, segments, predictions, audit and activation tables."""
        with warehouse.get_connection() as con:
            result = publish_serving(con, settings.serving_database, docs=docs)
        context.log.info(f"published {len(result.tables)} tables, {result.rows} rows to {result.path}")
        return MaterializeResult(metadata={
            "path": MetadataValue.path(str(result.path)),
            "tables": len(result.tables),
            "rows": result.rows,
            "bytes": result.path.stat().st_size,
            "table_rows": MetadataValue.md(
                "| table | rows |\n|---|---:|\n" + "\n".join(f"| {t} | {n} |" for t, n in result.tables.items())),
        })

    return serving_duckdb
