"""Dagster asset checks of the audit: one per guarded asset (its GX suite and its SQL checks together).

A critical failure fails the check with severity ERROR; the check is blocking, so nothing downstream of the
asset runs (publish, activation). Warning-only failures fail it with severity WARN and block nothing.
Every result lands in `audit.check_results` either way.

Raw checks are partitioned like the raw assets: in a run over a range of export dates (the single-run
backfills of `c360 run`) Dagster hands the check the run's partition keys, and exactly those partitions are
validated.

No `from __future__ import annotations` here: Dagster inspects the `context` annotation at runtime.
"""

import warnings
from datetime import date, datetime, timedelta
from pathlib import Path

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetKey,
    MetadataValue,
    PreviewWarning,
    asset_check,
)
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    PARTITION_NAME_TAG,
)
from dagster_duckdb import DuckDBResource

from orchestration.ingestion.assets import DUCKDB_POOL
from orchestration.ingestion.ledger import mark, read_ledger
from orchestration.partitions import AS_OF_TAG, daily_partitions
from orchestration.quality.audit import Auditor, AuditRun, AuditTarget, audit_targets
from orchestration.quality.config import AuditConfig
from orchestration.quality.results import RunSummary, summary_rows
from orchestration.settings import Settings

AUDIT_CHECK = "quality_audit"


def run_partition_days(context: AssetCheckExecutionContext) -> list[date] | None:
    """The export dates of the run: the check's partition keys, else the run's partition tags, else None."""
    try:
        if context.has_partition_key_range or context.has_partition_key:
            return [date.fromisoformat(k) for k in context.partition_keys]
    except Exception:  # an unpartitioned check of an unpartitioned run has no partition API to ask
        pass
    tags = context.run.tags
    start, end = tags.get(ASSET_PARTITION_RANGE_START_TAG), tags.get(ASSET_PARTITION_RANGE_END_TAG)
    if start and end:
        first, last = date.fromisoformat(start), date.fromisoformat(end)
        return [first + timedelta(days=i) for i in range((last - first).days + 1)]
    if tags.get(PARTITION_NAME_TAG):
        return [date.fromisoformat(tags[PARTITION_NAME_TAG])]
    return None


def raw_audit_loads(settings: Settings, target: AuditTarget, run: AuditRun) -> list[tuple[date, datetime]]:
    """For a raw target: add to the run's export dates every day of the entity whose load has not passed its
    audit yet (up to the as-of date), so no run builds on it unaudited, whatever range it was started with;
    returns the loads (export date, loaded_at) the audit is about to read, to mark audited once it passed."""
    if target.kind != "raw" or run.partition_days is None:
        return []
    entity = target.asset_path[-1]
    states = read_ledger(settings.raw_root, entity)
    unaudited = {s.day for s in states if not s.audited and (run.as_of_date is None or s.day <= run.as_of_date)}
    run.partition_days = sorted({*run.partition_days, *unaudited})
    return [(s.day, s.loaded_at) for s in states if s.day in set(run.partition_days)]


def check_result(summary: RunSummary) -> AssetCheckResult:
    """The Dagster result of an audit: ERROR with a critical failure, WARN with warnings only."""
    failed = summary.critical_failures + summary.warning_failures
    metadata = {
        "suite": summary.suite,
        "checks": len(summary.records),
        "critical_failed": len(summary.critical_failures),
        "warning_failed": len(summary.warning_failures),
        "skipped": len(summary.skipped),
        "rows_validated": summary.rows_validated,
        "seconds": summary.seconds,
        "audit_table": MetadataValue.text(f"audit.check_results where run_id = '{summary.run_id}'"),
    }
    if summary.partitions:
        metadata["partitions"] = summary.partitions
    if summary.as_of_date:
        metadata["as_of_date"] = summary.as_of_date.isoformat()
    if summary.docs_path:
        metadata["data_docs"] = MetadataValue.path(summary.docs_path)
    if failed:
        metadata["failures"] = MetadataValue.md(summary_rows(failed))
    names = [f"{r.check_name} ({r.unexpected_count} unexpected)" if r.unexpected_count else r.check_name
             for r in failed]
    skipped = f", {len(summary.skipped)} skipped" if summary.skipped else ""
    description = (f"{len(summary.critical_failures)} critical, {len(summary.warning_failures)} warning "
                   f"failures: {'; '.join(names)}" if failed
                   else f"{len(summary.records) - len(summary.skipped)} checks passed{skipped}")
    return AssetCheckResult(
        passed=not failed,
        # WARN only when warnings alone failed: that is what lets downstream assets run
        severity=AssetCheckSeverity.WARN if failed and not summary.critical_failures else AssetCheckSeverity.ERROR,
        metadata=metadata,
        description=description[:1000],
    )


def build_quality_check(target: AuditTarget, settings: Settings, config: AuditConfig,
                        manifest_path: Path | None = None) -> AssetChecksDefinition:
    """The asset check of one guarded asset."""
    suite = target.suite()
    partitioned = target.kind == "raw"
    with warnings.catch_warnings():
        # partitions_def on an asset check is marked preview in Dagster 1.13; it is what makes the check
        # receive the run's partition keys.
        warnings.simplefilter("ignore", PreviewWarning)

        @asset_check(
            asset=AssetKey(list(target.asset_path)),
            name=AUDIT_CHECK,
            description=(f"GX suite {suite.name} ({target.suite_file.relative_to(config.expectations_dir.parent)}) "
                         f"and set-based SQL checks; results in audit.check_results, Data Docs in $C360_HOME/docs."),
            blocking=target.blocking(config),
            additional_deps=[AssetKey(list(d)) for d in target.deps],
            partitions_def=daily_partitions(settings) if partitioned else None,
            pool=DUCKDB_POOL,
            metadata={"suite": suite.name, "expectations": len(suite.expectations)},
        )
        def _quality_check(context: AssetCheckExecutionContext, warehouse: DuckDBResource) -> AssetCheckResult:
            run = AuditRun(
                run_id=context.run.run_id,
                as_of_date=date.fromisoformat(context.run.tags[AS_OF_TAG]) if AS_OF_TAG in context.run.tags else None,
                partition_days=run_partition_days(context) if partitioned else None,
            )
            loads = raw_audit_loads(settings, target, run)
            auditor = Auditor(settings, warehouse.get_connection, config, manifest_path)
            summary = auditor.audit(target, run)
            if loads and not summary.critical_failures:
                marked = mark(settings.raw_root, target.asset_path[-1], "audited", loads, run.run_id)
                context.log.info(f"{target.asset}: {marked} loaded export dates marked audited in the ledger")
            for record in summary.critical_failures:
                context.log.error(f"{target.asset}: {record.check_name} failed: {record.unexpected_keys[:3]}")
            for record in summary.warning_failures:
                context.log.warning(f"{target.asset}: {record.check_name} failed: {record.unexpected_keys[:3]}")
            return check_result(summary)

    return _quality_check


def build_quality_checks(
    settings: Settings,
    segment_names: list[str],
    *,
    config: AuditConfig | None = None,
    manifest_path: Path | None = None,
) -> list[AssetChecksDefinition]:
    """One blocking-or-not asset check per guarded asset: every `raw/<source>__<entity>` (partitioned like
    the raw assets), `marts/customer_360`, `marts/fct_orders` and `segments/<name>` for each segment name.

    The checks need a `DuckDBResource` named `warehouse`. `config` defaults to
    `expectations/audit_config.json`; `manifest_path` (the dbt manifest giving contracts and segment meta)
    defaults to `dbt_project/target/manifest.json`, read at run time.
    """
    config = config or AuditConfig.load()
    return [build_quality_check(t, settings, config, manifest_path)
            for t in audit_targets(list(segment_names), config.expectations_dir)]
