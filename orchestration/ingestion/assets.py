"""Dagster assets of the raw layer: one daily-partitioned asset per landing-zone entity.

No `from __future__ import annotations` here: Dagster inspects the `context` annotation at runtime.
"""


from datetime import date, timedelta

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    BackfillPolicy,
    FreshnessPolicy,
    MaterializeResult,
    MetadataValue,
    asset,
)
from dagster_duckdb import DuckDBResource

from orchestration.ingestion.entities import ENTITIES, Entity, max_silent_days
from orchestration.ingestion.landing import scan_entity
from orchestration.ingestion.ledger import unaudited_days
from orchestration.ingestion.loader import DEFAULT_MAX_LINE_BYTES, EntityLoadResult, connect, load_entity
from orchestration.ingestion.raw_views import create_raw_views
from orchestration.ingestion.suppression import Suppressor, suppression_file
from orchestration.partitions import AS_OF_TAG, daily_partitions
from orchestration.settings import Settings

DUCKDB_POOL = "duckdb_writer"
# Dagster's standard table metadata keys (the UI shows them on the asset, and plots them over time).
ROW_COUNT = "dagster/row_count"
PARTITION_ROW_COUNT = "dagster/partition_row_count"
CHECK_FILES_CONSISTENT = "landing_files_consistent"
CHECK_LAYOUT = "landing_layout"
CHECK_READABLE = "landing_files_readable"
CHECK_DELIVERING = "source_delivering"
# Visible in the UI when the raw layer has not been refreshed for two days (no run, or runs failing early).
RAW_FRESHNESS = FreshnessPolicy.time_window(fail_window=timedelta(hours=48), warn_window=timedelta(hours=30))


def delivery_check(entity: Entity, files: list, reference: date) -> AssetCheckResult:
    """WARN when the entity's newest landing file is older than its allowance before `reference` (the run's
    as-of date): a source that stopped delivering shows on its asset instead of silently going stale."""
    allowance = max_silent_days(entity)
    if not files:
        return AssetCheckResult(check_name=CHECK_DELIVERING, passed=True, severity=AssetCheckSeverity.WARN,
                                description="no files: an absent optional source", metadata={"files": 0})
    newest = max(f.file_date for f in files)
    silent = (reference - newest).days
    return AssetCheckResult(
        check_name=CHECK_DELIVERING, passed=silent <= allowance, severity=AssetCheckSeverity.WARN,
        description=(f"newest file {newest}, {silent} days before {reference}"
                     + ("" if silent <= allowance else f": more than the {allowance} days allowed")),
        metadata={"newest_file_date": newest.isoformat(), "silent_days": silent, "allowed_days": allowance},
    )


def raw_asset_key(entity: Entity) -> AssetKey:
    """`raw/<source>__<entity>`: the key dbt sources map onto."""
    return AssetKey(["raw", entity.name])


def raw_row_counts(con, entity: Entity, first: date, last: date) -> tuple[int, int]:
    """(rows of the whole raw table, rows of its export dates first..last), from the Parquet files' footers and
    hive folders through the warehouse's `raw` view (no data page is read)."""
    total, in_range = con.execute(
        f"select count(*), count(*) filter (where dt between ? and ?) from raw.{entity.name}", [first, last]
    ).fetchone()
    return int(total), int(in_range)


def load_metadata(result: EntityLoadResult, problems: list[str],
                  row_counts: tuple[int, int] | None = None) -> dict[str, object]:
    """Materialisation metadata: counts a data engineer checks first, with Dagster's standard row counts when
    `row_counts` (raw_row_counts) is given: `dagster/row_count` the rows of the raw table, all days, and
    `dagster/partition_row_count` those of the run's export dates."""
    standard = {} if row_counts is None else {ROW_COUNT: row_counts[0], PARTITION_ROW_COUNT: row_counts[1]}
    return {
        **standard,
        "rows_read": result.rows_read,
        "rows_loaded": result.rows_loaded,
        "rows_quarantined": result.rows_quarantined,
        "bytes_read": result.bytes_read,
        "rows_suppressed": sum(f.rows_suppressed for p in result.partitions for f in p.files),
        "files_loaded": sum(f.status == "loaded" for p in result.partitions for f in p.files),
        "files_duplicate": sum(f.status == "duplicate" for p in result.partitions for f in p.files),
        "files_quarantined": len(result.quarantined_files),
        "partitions_loaded": result.count("loaded"),
        "partitions_unchanged": result.count("unchanged"),
        "partitions_in_conflict": result.count("conflict") + result.count("missing_file"),
        "errors": MetadataValue.md("\n".join(f"- {p}" for p in result.problems) or "none"),
        "unrecognised_files": MetadataValue.md("\n".join(f"- {p}" for p in problems) or "none"),
    }


def build_raw_asset(entity: Entity, settings: Settings) -> AssetsDefinition:
    """The raw asset of one entity: loads the partitions in the run's range, then refreshes the views."""
    key = raw_asset_key(entity)

    @asset(
        key=key,
        group_name="raw",
        description=(
            f"`{entity.source}/{entity.entity}` landing files ({entity.format}, {entity.semantics} on "
            f"{', '.join(entity.key)}) as Parquet partitions under lake/raw/{entity.name}/, "
            f"queryable as raw.{entity.name}. Bad lines go to raw.quarantine."
        ),
        partitions_def=daily_partitions(settings),
        backfill_policy=BackfillPolicy.single_run(),
        pool=DUCKDB_POOL,
        kinds={"duckdb", "parquet"},
        check_specs=[
            AssetCheckSpec(
                CHECK_FILES_CONSISTENT, asset=key,
                description="No landing file was re-delivered with different bytes or vanished after loading.",
            ),
            AssetCheckSpec(
                CHECK_LAYOUT, asset=key,
                description="Every file in the entity's landing folder follows the layout.",
            ),
            AssetCheckSpec(
                CHECK_READABLE, asset=key,
                description="Every landing file loaded could be decoded (one that cannot is quarantined whole).",
            ),
            AssetCheckSpec(
                CHECK_DELIVERING, asset=key,
                description=f"The source delivered a file within {max_silent_days(entity)} days of the as-of date.",
            ),
        ],
        metadata={"source": entity.source, "entity": entity.entity, "format": entity.format},
        freshness_policy=RAW_FRESHNESS,
    )
    def _raw_asset(context: AssetExecutionContext, warehouse: DuckDBResource) -> MaterializeResult:
        days = [date.fromisoformat(k) for k in context.partition_keys]
        reference = date.fromisoformat(context.run.tags.get(AS_OF_TAG, days[-1].isoformat()))
        files, layout_problems = scan_entity(settings.landing_root, entity)
        # A day whose load has not passed its audit yet may be corrected in the landing zone (ledger.py).
        replaceable = unaudited_days(settings.raw_root, entity.name)
        con = connect()
        try:
            result = load_entity(con, entity, files, settings.raw_root, days, replaceable=replaceable,
                                 max_line_bytes=settings.max_line_bytes or DEFAULT_MAX_LINE_BYTES,
                                 suppress=Suppressor(suppression_file(settings.lake_root), settings.erasure_salt))
        finally:
            con.close()
        with warehouse.get_connection() as wh:
            create_raw_views(wh, settings.raw_root, refresh=[entity])
            row_counts = raw_row_counts(wh, entity, min(days), max(days))
        for problem in result.problems:
            context.log.error(problem)
        for withdrawn in (p for p in result.partitions if p.status == "withdrawn"):
            context.log.warning(withdrawn.detail)
        problems = [f"{p.rel_path}: {p.reason}" for p in layout_problems]
        for problem in problems:
            context.log.warning(f"not loaded: {problem}")
        for quarantined in result.quarantined_files:
            context.log.warning(f"quarantined whole: {quarantined}")
        context.log.info(
            f"{entity.name}: {result.count('loaded')} partitions loaded, {result.count('unchanged')} unchanged; "
            f"{result.rows_loaded} rows loaded, {result.rows_quarantined} quarantined"
        )
        return MaterializeResult(
            metadata=load_metadata(result, problems, row_counts),
            check_results=[
                AssetCheckResult(
                    check_name=CHECK_FILES_CONSISTENT, passed=not result.problems,
                    severity=AssetCheckSeverity.ERROR,
                    description="; ".join(result.problems) or "all loaded files unchanged",
                    metadata={"conflicts": len(result.problems)},
                ),
                AssetCheckResult(
                    check_name=CHECK_LAYOUT, passed=not problems, severity=AssetCheckSeverity.WARN,
                    description="; ".join(problems) or "every file follows the layout",
                    metadata={"unrecognised_files": len(problems)},
                ),
                AssetCheckResult(
                    check_name=CHECK_READABLE, passed=not result.quarantined_files, severity=AssetCheckSeverity.WARN,
                    description="; ".join(result.quarantined_files) or "every file could be decoded",
                    metadata={"files_quarantined": len(result.quarantined_files)},
                ),
                delivery_check(entity, files, reference),
            ],
        )

    return _raw_asset


def build_raw_assets(settings: Settings) -> list[AssetsDefinition]:
    """One raw asset per entity of the landing-zone contract."""
    return [build_raw_asset(entity, settings) for entity in ENTITIES]
