"""The audit as Dagster asset checks: blocking on critical failures, warnings reported only, and the
partitions of a raw run validated. A small job of stand-in assets runs over a copy of the tiny warehouse."""

from __future__ import annotations

import json
from datetime import date

from dagster import (
    AssetCheckSeverity,
    AssetKey,
    BackfillPolicy,
    DagsterInstance,
    Definitions,
    asset,
    define_asset_job,
    in_process_executor,
)
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG
from dagster_duckdb import DuckDBResource
from quality_helpers import END, Workspace, raw_workspace

from orchestration.ingestion.entities import ENTITIES
from orchestration.ingestion.ledger import current_loads, mark
from orchestration.partitions import AS_OF_TAG, daily_partitions
from orchestration.quality import AUDIT_CHECK, build_quality_checks

PUBLISHED = AssetKey(["serving", "published"])


def stand_in(key: AssetKey, partitions_def=None):
    """An asset standing for a table already built in the copied warehouse."""
    @asset(key=key, partitions_def=partitions_def,
           backfill_policy=BackfillPolicy.single_run() if partitions_def else None)
    def _built() -> None:
        """Nothing to build: the table is in the warehouse copy."""

    return _built


def run_job(ws: Workspace, keys: list[AssetKey], partitions_def=None, tags: dict | None = None):
    """Materialise stand-ins of `keys` (the raw ones partitioned by `partitions_def`), their audit checks, and a
    publish asset downstream of them."""
    @asset(key=PUBLISHED, deps=keys)
    def publish() -> None:
        """Stands for the publish step: it must never run after a critical failure."""

    checks = [c for c in build_quality_checks(ws.settings, [], config=ws.config, manifest_path=ws.manifest)
              if next(iter(c.check_keys)).asset_key in keys]
    defs = Definitions(
        assets=[*(stand_in(k, partitions_def if k.path[0] == "raw" else None) for k in keys), publish],
        asset_checks=checks,
        jobs=[define_asset_job("audit_job", executor_def=in_process_executor)],
        resources={"warehouse": DuckDBResource(database=str(ws.settings.duckdb_database))},
    )
    with DagsterInstance.ephemeral() as instance:
        return defs.resolve_job_def("audit_job").execute_in_process(
            instance=instance, tags={AS_OF_TAG: END.isoformat(), **(tags or {})}, raise_on_error=False)


def evaluations(result) -> dict[str, object]:
    """The run's check evaluations by asset."""
    return {e.asset_key.to_user_string(): e for e in result.get_asset_check_evaluations()}


def materialized(result) -> set[AssetKey]:
    """The assets the run materialised."""
    return {e.asset_key for e in result.get_asset_materialization_events()}


MARTS = [AssetKey(["marts", "customer_360"]), AssetKey(["marts", "fct_orders"])]


def test_factory_builds_one_check_per_guarded_asset(workspace):
    checks = build_quality_checks(workspace.settings, ["seg_a", "seg_b"], manifest_path=workspace.manifest)
    specs = {next(iter(c.check_keys)).asset_key: next(iter(c.check_specs)) for c in checks}
    expected = {AssetKey(["raw", e.name]) for e in ENTITIES} | set(MARTS) | {
        AssetKey(["segments", "seg_a"]), AssetKey(["segments", "seg_b"])}
    assert set(specs) == expected and len(checks) == len(expected)
    assert all(s.name == AUDIT_CHECK and s.blocking for s in specs.values())  # every suite has critical ones
    raw = specs[AssetKey(["raw", "web__events"])]
    assert raw.partitions_def == daily_partitions(workspace.settings)
    assert specs[MARTS[0]].partitions_def is None
    assert {d.asset_key for d in specs[MARTS[0]].additional_deps} == {MARTS[1]}
    assert not specs[MARTS[1]].additional_deps  # blocking checks must not read each other's assets
    assert {d.asset_key for d in specs[AssetKey(["segments", "seg_a"])].additional_deps} == {MARTS[0]}
    assert all("warehouse" in c.required_resource_keys for c in checks)


def test_clean_marts_pass_and_publish_runs(workspace):
    result = run_job(workspace, MARTS)
    assert result.success
    evaluation = evaluations(result)["marts/customer_360"]
    assert evaluation.passed and evaluation.metadata["critical_failed"].value == 0
    assert PUBLISHED in materialized(result)
    runs = workspace.sql("SELECT asset, passed FROM audit.check_runs WHERE run_id = ?", [result.run_id])
    assert sorted(runs) == [("marts/customer_360", True), ("marts/fct_orders", True)]
    assert (workspace.settings.home / "docs" / "gx" / "index.html").exists()


def test_a_critical_failure_fails_the_check_blocks_publish_and_is_recorded(workspace):
    key = workspace.sql("SELECT min(customer_key) FROM marts.customer_360")[0][0]
    workspace.sql("INSERT INTO marts.customer_360 SELECT * FROM marts.customer_360 WHERE customer_key = ?", [key])
    result = run_job(workspace, MARTS)
    assert not result.success
    evaluation = evaluations(result)["marts/customer_360"]
    assert not evaluation.passed and evaluation.severity == AssetCheckSeverity.ERROR
    assert "expect_column_values_to_be_unique(customer_key)" in evaluation.description
    assert "failures" in evaluation.metadata and "data_docs" in evaluation.metadata
    assert PUBLISHED not in materialized(result)
    row = workspace.sql(
        "SELECT status, severity, unexpected_keys FROM audit.check_results WHERE run_id = ? "
        "AND check_name = 'expect_column_values_to_be_unique(customer_key)'", [result.run_id])
    assert row[0][:2] == ("failed", "critical") and json.loads(row[0][2]) == [{"customer_key": key}]


def test_a_warning_failure_is_reported_and_does_not_block(workspace):
    workspace.sql("UPDATE marts.fct_orders SET currency = 'usd' WHERE order_key = (SELECT min(order_key) "
                  "FROM marts.fct_orders)")
    result = run_job(workspace, MARTS)
    assert result.success
    evaluation = evaluations(result)["marts/fct_orders"]
    assert not evaluation.passed and evaluation.severity == AssetCheckSeverity.WARN
    assert evaluation.metadata["warning_failed"].value == 1
    assert PUBLISHED in materialized(result)
    assert workspace.sql("SELECT passed, severity FROM audit.check_runs WHERE run_id = ? AND asset = ?",
                         [result.run_id, "marts/fct_orders"]) == [(True, "WARN")]


def test_a_partitioned_raw_check_validates_the_partitions_of_the_run(built, tmp_path):
    ws = raw_workspace(built, tmp_path, "web__events")
    first, last = date(2026, 10, 20), date(2026, 10, 22)
    key = AssetKey(["raw", "web__events"])
    # The other days passed their audit in an earlier run (the ledger): this run validates its own days only.
    (loads,) = current_loads(ws.settings.raw_root, "web__events").values()
    earlier = [(day, loaded_at) for day, loaded_at in loads if not first <= day <= last]
    mark(ws.settings.raw_root, "web__events", "audited", earlier, "earlier")
    # as in the main job: a range of export dates, partitioned raw assets and unpartitioned marts in one run
    result = run_job(ws, [key, *MARTS], partitions_def=daily_partitions(ws.settings), tags={
        ASSET_PARTITION_RANGE_START_TAG: first.isoformat(), ASSET_PARTITION_RANGE_END_TAG: last.isoformat()})
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    assert evaluations(result)["marts/customer_360"].passed and PUBLISHED in materialized(result)
    evaluation = evaluations(result)["raw/web__events"]
    assert evaluation.passed and evaluation.metadata["partitions"].value == f"{first}..{last}"
    files = [str(ws.settings.raw_root / "web__events" / f"dt=2026-10-{d}" / "data_0.parquet") for d in (20, 21, 22)]
    rows = ws.sql("SELECT count(*) FROM read_parquet(?)", [files])[0][0]
    assert ws.sql("SELECT partitions, rows_validated FROM audit.check_runs WHERE run_id = ? AND asset = ?",
                  [result.run_id, "raw/web__events"]) == [(f"{first}..{last}", rows)]
    assert evaluation.metadata["rows_validated"].value == rows
