"""The code location loads, and its assets are wired as the design says."""

from __future__ import annotations

from dagster import AssetKey, BackfillPolicy, DailyPartitionsDefinition

from orchestration.definitions import MAIN_JOB, build_definitions
from orchestration.ingestion.assets import CHECK_FILES_CONSISTENT, CHECK_LAYOUT, DUCKDB_POOL
from orchestration.ingestion.entities import ENTITIES


def test_every_entity_is_a_daily_partitioned_single_run_raw_asset(c360_env):
    defs = build_definitions(c360_env)
    graph = defs.resolve_asset_graph()
    for entity in ENTITIES:
        key = AssetKey(["raw", entity.name])
        node = graph.get(key)
        assert isinstance(node.partitions_def, DailyPartitionsDefinition)
        assert node.backfill_policy == BackfillPolicy.single_run()
        assert node.pools == {DUCKDB_POOL}
        checks = {k.name for k in node.check_keys}
        assert {CHECK_FILES_CONSISTENT, CHECK_LAYOUT} <= checks
    assert defs.resolve_job_def(MAIN_JOB) is not None
