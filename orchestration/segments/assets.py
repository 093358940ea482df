"""The segment history as a Dagster asset, downstream of every segment model found in the dbt manifest.

No `from __future__ import annotations` here: Dagster inspects the `context` annotation at runtime.
"""


from dagster import AssetExecutionContext, AssetKey, AssetSpec, MaterializeResult, MetadataValue, multi_asset
from dagster_duckdb import DuckDBResource

from orchestration.ingestion.assets import DUCKDB_POOL
from orchestration.segments.catalog import SegmentDefinition, segment_definitions
from orchestration.segments.history import HistoryOutOfOrder, record_segment_history

MEMBERSHIPS = AssetKey(["segments", "segment_memberships"])
SIZES = AssetKey(["segments", "segment_sizes_daily"])
DEFINITIONS = AssetKey(["segments", "segment_definitions"])


def sizes_table(sizes: dict[str, dict[str, int]]) -> str:
    """Markdown table of the segment sizes and moves recorded."""
    lines = ["| segment | members | holdout | entered | exited |", "|---|---:|---:|---:|---:|"]
    for name, s in sizes.items():
        lines.append(f"| {name} | {s['members']} | {s['holdout_members']} | {s['entered']} | {s['exited']} |")
    return "\n".join(lines)


def build_segment_history_asset(manifest: dict):
    """The multi-asset that records segment memberships, daily sizes and definitions after the segments
    (the segments of the dbt `manifest`)."""
    segments: list[SegmentDefinition] = segment_definitions(manifest)
    segment_keys = [AssetKey([s.schema, s.name]) for s in segments]

    @multi_asset(
        name="segment_history",
        specs=[
            AssetSpec(MEMBERSHIPS, deps=segment_keys, group_name="segments", kinds={"duckdb"},
                      description="Every stay of a person in a segment (entered_at, exited_at, is_holdout), "
                                  "kept across runs."),
            AssetSpec(SIZES, deps=segment_keys, group_name="segments", kinds={"duckdb"},
                      description="Members, holdout, entries and exits per segment and as-of date."),
            AssetSpec(DEFINITIONS, deps=segment_keys, group_name="segments", kinds={"duckdb"},
                      description="Each segment's purpose, holdout share and destinations (from its dbt meta)."),
        ],
        pool=DUCKDB_POOL,
    )
    def segment_history(context: AssetExecutionContext, warehouse: DuckDBResource):
        """Record who entered and left each segment at the build's as-of date."""
        with warehouse.get_connection() as con:
            try:
                result = record_segment_history(con, segments)
            except HistoryOutOfOrder as refused:
                context.log.warning(str(refused))
                for key in (MEMBERSHIPS, SIZES, DEFINITIONS):
                    yield MaterializeResult(asset_key=key, metadata={"skipped": MetadataValue.text(str(refused))})
                return
        table = MetadataValue.md(sizes_table(result.sizes))
        yield MaterializeResult(asset_key=MEMBERSHIPS, metadata={
            "as_of_date": result.as_of_date.isoformat(), "entered": result.entered, "exited": result.exited,
            "segments": table,
        })
        yield MaterializeResult(asset_key=SIZES, metadata={
            "as_of_date": result.as_of_date.isoformat(),
            "members": sum(s["members"] for s in result.sizes.values()),
        })
        yield MaterializeResult(asset_key=DEFINITIONS, metadata={"segments": len(segments)})

    return segment_history
