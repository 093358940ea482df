"""dbt's documentation site as an asset: `dbt docs generate --static` into `$C360_HOME/docs/dbt/`, one HTML
file with every model, column description, test and the lineage, readable offline next to the run report.

No `from __future__ import annotations` here: Dagster inspects the `context` annotation at runtime.
"""

from collections.abc import Sequence

from dagster import AssetExecutionContext, AssetKey, AssetsDefinition, MaterializeResult, MetadataValue, asset
from dagster_dbt import DbtCliResource

from orchestration.ingestion.assets import DUCKDB_POOL
from orchestration.settings import Settings
from orchestration.transform.assets import run_dbt_vars
from orchestration.transform.project import dbt_vars_args, reuse_latest_parse

DBT_DOCS = AssetKey(["report", "dbt_docs"])


def build_dbt_docs_asset(settings: Settings, deps: Sequence[AssetKey]) -> AssetsDefinition:
    """The asset that writes dbt's static documentation site after the warehouse is built."""

    @asset(key=DBT_DOCS, deps=list(deps), group_name="report", pool=DUCKDB_POOL, kinds={"dbt", "html"},
           description="dbt docs (models, column descriptions, tests, lineage) as one static page: "
                       f"{settings.home / 'docs' / 'dbt' / 'static_index.html'}.")
    def dbt_docs(context: AssetExecutionContext, dbt: DbtCliResource) -> MaterializeResult:
        """Generate the static docs site (the catalog reads the warehouse's column types)."""
        target = settings.home / "docs" / "dbt"
        # The same vars as the run's builds, so dbt reuses their parse instead of parsing the project again.
        args = ["docs", "generate", "--static", *dbt_vars_args(*run_dbt_vars(context.run.tags))]
        reuse_latest_parse(target)
        dbt.cli(args, target_path=target, raise_on_error=True).wait()
        page = target / "static_index.html"
        return MaterializeResult(metadata={"path": MetadataValue.path(str(page)), "bytes": page.stat().st_size})

    return dbt_docs
