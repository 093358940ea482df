"""The dbt models as Dagster assets; dbt tests become asset checks.

No `from __future__ import annotations`: Dagster inspects the `context` annotation at runtime.
"""

import json

from dagster import AssetExecutionContext
from dagster_dbt import DbtCliResource, dbt_assets

from orchestration.ingestion.assets import DUCKDB_POOL
from orchestration.transform.project import dbt_project
from orchestration.transform.translator import C360DbtTranslator

AS_OF_TAG = "c360/as_of_date"


def dbt_build_args(as_of_date: str | None) -> list[str]:
    """The dbt command of a run: build everything selected, pinned to the run's as-of date if given."""
    args = ["build"]
    if as_of_date:
        args += ["--vars", json.dumps({"as_of_date": as_of_date})]
    return args


@dbt_assets(
    manifest=dbt_project().manifest_path,
    project=dbt_project(),
    dagster_dbt_translator=C360DbtTranslator(),
    pool=DUCKDB_POOL,
)
def warehouse_dbt_assets(context: AssetExecutionContext, dbt: DbtCliResource):
    """`dbt build` of the selected models and their tests (a failing test stops what depends on it)."""
    as_of = context.run.tags.get(AS_OF_TAG)
    yield from dbt.cli(dbt_build_args(as_of), context=context).stream()
