"""dbt's documentation site as an asset: `dbt docs generate --static` into `$C360_HOME/docs/dbt/`, one HTML
file with every model, column description, test and the lineage, readable offline next to the run report.

The page describes the project, not the day's data: it is generated again only when the project's files, the
engine or dbt's version changed since the page was written (a fingerprint beside it), so a daily run does not
pay for a second parse and the catalog queries.

No `from __future__ import annotations` here: Dagster inspects the `context` annotation at runtime.
"""

import hashlib
from collections.abc import Sequence
from pathlib import Path

from dagster import AssetExecutionContext, AssetKey, AssetsDefinition, MaterializeResult, MetadataValue, asset
from dagster_dbt import DbtCliResource

from orchestration.ingestion.assets import DUCKDB_POOL
from orchestration.settings import Settings
from orchestration.transform.assets import run_dbt_vars
from orchestration.transform.project import DBT_PROJECT_DIR, dbt_target, dbt_vars_args, reuse_latest_parse

DBT_DOCS = AssetKey(["report", "dbt_docs"])
FINGERPRINT_FILE = ".project_fingerprint"
# What dbt writes or fetches inside the project folder (and hidden files such as its .user.yml): not part of
# what the docs describe.
_NOT_PROJECT = {"target", "logs", "dbt_packages"}


def project_fingerprint(project_dir: Path = DBT_PROJECT_DIR, engine: str | None = None) -> str:
    """sha256 over every file of the dbt project (path and bytes), the dbt target and dbt's version."""
    from dbt.version import __version__ as dbt_version

    digest = hashlib.sha256(f"{engine or dbt_target()}\0{dbt_version}\0".encode())
    for path in sorted(p for p in project_dir.rglob("*") if p.is_file() and not p.name.startswith(".")
                       and p.relative_to(project_dir).parts[0] not in _NOT_PROJECT):
        digest.update(str(path.relative_to(project_dir)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def build_dbt_docs_asset(settings: Settings, deps: Sequence[AssetKey]) -> AssetsDefinition:
    """The asset that writes dbt's static documentation site after the warehouse is built."""

    @asset(key=DBT_DOCS, deps=list(deps), group_name="report", pool=DUCKDB_POOL, kinds={"dbt", "html"},
           description="dbt docs (models, column descriptions, tests, lineage) as one static page: "
                       f"{settings.home / 'docs' / 'dbt' / 'static_index.html'}.")
    def dbt_docs(context: AssetExecutionContext, dbt: DbtCliResource) -> MaterializeResult:
        """Generate the static docs site (the catalog reads the warehouse's column types), unless the page of
        this very project is already there."""
        target = settings.home / "docs" / "dbt"
        page, stamp = target / "static_index.html", target / FINGERPRINT_FILE
        fingerprint = project_fingerprint()
        if page.is_file() and stamp.is_file() and stamp.read_text().strip() == fingerprint:
            context.log.info("dbt docs: the project did not change since the page was written; kept")
            return MaterializeResult(metadata={"path": MetadataValue.path(str(page)), "bytes": page.stat().st_size,
                                               "regenerated": False})
        stamp.unlink(missing_ok=True)
        # The same vars as the run's builds, so dbt reuses their parse instead of parsing the project again.
        args = ["docs", "generate", "--static", *dbt_vars_args(*run_dbt_vars(context.run.tags))]
        reuse_latest_parse(target)
        dbt.cli(args, target_path=target, raise_on_error=True).wait()
        stamp.write_text(fingerprint + "\n")
        return MaterializeResult(metadata={"path": MetadataValue.path(str(page)), "bytes": page.stat().st_size,
                                           "regenerated": True})

    return dbt_docs
