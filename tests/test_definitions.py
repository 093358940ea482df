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


def test_dbt_sources_are_the_raw_assets_and_incremental_models_follow_the_partitions(c360_env):
    defs = build_definitions(c360_env)
    graph = defs.resolve_asset_graph()
    staging = graph.get(AssetKey(["staging", "stg_shop__orders"]))
    assert AssetKey(["raw", "shop__orders"]) in staging.parent_keys
    web = graph.get(AssetKey(["intermediate", "int_web_events_enriched"]))
    assert isinstance(web.partitions_def, DailyPartitionsDefinition)
    assert web.backfill_policy == BackfillPolicy.single_run()
    customer_360 = graph.get(AssetKey(["marts", "customer_360"]))
    assert customer_360.partitions_def is None
    assert any(k.asset_key == customer_360.key for k in customer_360.check_keys)  # dbt tests are checks


def test_dbt_arguments_of_a_run():
    from datetime import date

    from orchestration.transform.assets import dbt_build_args, partition_window_vars

    # unit tests run in CI, not in the pipeline
    build = ["build", "--exclude-resource-type", "unit_test"]
    assert dbt_build_args(None) == build
    assert dbt_build_args("2026-10-31") == [*build, "--vars", '{"as_of_date": "2026-10-31"}']
    assert dbt_build_args("2026-10-31", "2026-10-01") == [
        *build, "--vars", '{"as_of_date": "2026-10-31", "reload_from_date": "2026-10-01"}']
    # A partition range [Oct 1, Nov 1) without a tag is built as of its last day, reloading from its first.
    assert partition_window_vars(date(2026, 10, 1), date(2026, 11, 1), None) == ("2026-10-31", "2026-10-01")
    assert partition_window_vars(date(2026, 10, 1), date(2026, 11, 1), "2026-10-15") == ("2026-10-15", "2026-10-01")


def test_a_dbt_step_starts_from_the_newest_parse(tmp_path):
    """The run's parse (newer) replaces a step's parse from an earlier run; a step's own newer parse stays."""
    import os

    from orchestration.transform.project import reuse_latest_parse

    source, step = tmp_path / "target" / "partial_parse.msgpack", tmp_path / "step"
    source.parent.mkdir()
    source.write_bytes(b"this run")
    reuse_latest_parse(step, source)  # a new step folder gets it
    assert (step / "partial_parse.msgpack").read_bytes() == b"this run"
    (step / "partial_parse.msgpack").write_bytes(b"earlier run")
    os.utime(step / "partial_parse.msgpack", (1_000_000, 1_000_000))
    reuse_latest_parse(step, source)
    assert (step / "partial_parse.msgpack").read_bytes() == b"this run"
    (step / "partial_parse.msgpack").write_bytes(b"the step's own, newer")
    os.utime(source, (1_000_000, 1_000_000))
    reuse_latest_parse(step, source)
    assert (step / "partial_parse.msgpack").read_bytes() == b"the step's own, newer"


def test_the_flow_after_dbt_is_wired_in_order(c360_env):
    """dbt -> predictions -> dbt (customer_360) -> segments -> history -> publish -> activation, from the
    manifest: no Python per segment."""
    from orchestration.definitions import SYNC_JOB

    defs = build_definitions(c360_env)
    graph = defs.resolve_asset_graph()
    predictions = graph.get(AssetKey(["predictions", "customer_predictions"]))
    assert AssetKey(["intermediate", "int_customer_purchase_summary"]) in predictions.parent_keys
    staged = graph.get(AssetKey(["staging", "stg_predictions__customer_predictions"]))
    assert predictions.key in staged.parent_keys
    history = graph.get(AssetKey(["segments", "segment_memberships"]))
    segments = {k for k in history.parent_keys if k.path[1].startswith("seg_")}
    assert len(segments) == 8
    serving = graph.get(AssetKey(["serving", "serving_duckdb"]))
    published = {AssetKey(["marts", "customer_360"]), AssetKey(["marts", "campaign_lift"]), history.key}
    assert published <= serving.parent_keys
    # campaign_lift (dbt, from the history) -> its statistics (Python) -> publish, behind a blocking check
    lift_stats = graph.get(AssetKey(["marts", "campaign_lift_stats"]))
    assert lift_stats.parent_keys == {AssetKey(["marts", "campaign_lift"])}
    assert history.key in graph.get(AssetKey(["staging", "stg_segments__memberships"])).parent_keys
    assert lift_stats.key in serving.parent_keys
    check = next(k for k in lift_stats.check_keys if k.name == "lift_stats_consistent")
    assert graph.get_check_spec(check).blocking
    sync = graph.get(AssetKey(["activation", "seg_points_expiring__klaviyo"]))
    assert serving.key in sync.parent_keys
    assert any(k.name == "circuit_breaker" for k in sync.check_keys)
    syncs = [k for k in graph.get_all_asset_keys() if k.path[0] == "activation" and "__" in k.path[1]]
    assert len(syncs) == 8 * 3  # every segment's meta lists file, klaviyo and mailchimp
    assert defs.resolve_job_def(SYNC_JOB) is not None


def test_schedule_and_sensor_start_the_main_job(c360_env):
    defs = build_definitions(c360_env)
    schedule = defs.resolve_schedule_def("daily_main")
    assert schedule.job_name == MAIN_JOB and schedule.cron_schedule == "0 6 * * *"
    assert defs.resolve_sensor_def("landing_files").job_name == MAIN_JOB
