"""The main command end to end on the `tiny` tier, and the personas of CUSTOMER_360.md in its marts.

`c360 generate` then `c360 run` as a user would type them (subprocesses, their own C360_HOME), once per
test session (fixtures `tiny_run` and `warehouse` in conftest.py); every persona assertion reads the
warehouse that run built.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest
from pipeline_helpers import c360, person


def test_main_command_runs_through_dagster_and_summarises(tiny_run):
    home, ran = tiny_run
    assert "succeeded" in ran.stdout
    assert "raw/shop__orders" in ran.stdout
    assert (home / "dagster" / "dagster.yaml").exists()
    assert any((home / "lake" / "raw" / "shop__orders").glob("dt=*/data_0.parquet"))
    # Every dbt command of the run starts from the parse `c360 run` made with the run's vars.
    log = Path(ran.stdout.split("  log: ", 1)[1].splitlines()[0]).read_text()
    assert "Running with dbt" in log and "Unable to do partial parsing" not in log


def test_run_prints_dbt_progress_and_records_row_counts(tiny_run):
    import re

    from dagster import DagsterEventType, DagsterInstance

    home, ran = tiny_run
    # Each dbt step ends with its node count on the terminal (and says which node runs while it lasts).
    steps = re.findall(r"\] (warehouse_\w+) done \(dbt: (\d+)/(\d+) nodes\)", ran.stderr)
    assert {step for step, _, _ in steps} >= {"warehouse_models", "warehouse_incremental_models"}, ran.stderr
    assert all(done == total and int(total) > 0 for _, done, total in steps)
    run_id = re.search(r"^run (\S+) succeeded", ran.stdout, re.M)[1]
    with DagsterInstance.from_config(str(home / "dagster")) as instance:
        records = instance.get_records_for_run(run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION).records
    metadata = {}
    for record in records:
        materialization = record.event_log_entry.asset_materialization
        metadata[materialization.asset_key.to_user_string()] = {k: v.value for k, v in materialization.metadata.items()}
    # Raw: the table's rows and those of the run's days; a first run loads every day, so all three agree.
    raw = metadata["raw/shop__orders"]
    assert raw["dagster/row_count"] == raw["dagster/partition_row_count"] == raw["rows_loaded"] > 0
    # dbt: the rows of each table built, as the warehouse holds them (views are not counted).
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        counted = [key for key in metadata
                   if key.split("/")[0] in ("marts", "segments") and "dagster/row_count" in metadata[key]]
        assert {"marts/customer_360", "marts/fct_orders", "segments/seg_service_recovery"} <= set(counted)
        for key in counted:
            table = key.replace("/", ".")
            assert metadata[key]["dagster/row_count"] == con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    finally:
        con.close()
    assert "dagster/row_count" not in metadata["staging/stg_web__events"]  # a view


def test_rerun_loads_nothing_twice(tiny_run, tmp_path):
    home, _ = tiny_run
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    before = con.execute("SELECT count(*) FROM raw.web__events").fetchone()[0]
    con.close()
    docs = home / "docs" / "dbt" / "static_index.html"
    docs_written = docs.stat().st_mtime_ns
    again = c360(["run"], home)
    assert again.returncode == 0, again.stderr[-2000:]
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    assert con.execute("SELECT count(*) FROM raw.web__events").fetchone()[0] == before
    con.close()
    # The project did not change: the dbt docs page is the first run's, not generated again.
    assert docs.stat().st_mtime_ns == docs_written


def test_main_command_publishes_and_writes_the_outbox(tiny_run):
    home, ran = tiny_run
    assert "published: " in ran.stdout and (home / "serving.duckdb").exists()
    assert "activation file: 8 segments synced" in ran.stdout
    assert "activation klaviyo: skipped (KLAVIYO_API_KEY is not set" in ran.stdout
    outbox = list((home / "outbox").rglob("*.jsonl"))
    assert outbox, "the file destination writes one file per segment with changes"
    serving = duckdb.connect(str(home / "serving.duckdb"), read_only=True)
    schemas = {r[0] for r in serving.execute("SELECT DISTINCT table_schema FROM information_schema.tables").fetchall()}
    assert {"marts", "segments", "predictions"} <= schemas and not {"raw", "staging", "intermediate"} & schemas
    serving.close()


def test_sync_command_dry_run_plans_and_a_second_sync_sends_nothing(tiny_run):
    home, _ = tiny_run
    planned = c360(["sync", "--segment", "points_expiring", "--destination", "file", "--dry-run"], home)
    assert planned.returncode == 0, planned.stderr
    assert "seg_points_expiring:file: dry_run" in planned.stdout and "unchanged" in planned.stdout
    synced = c360(["sync", "--destination", "file"], home)
    assert synced.returncode == 0, synced.stdout + synced.stderr
    assert "seg_points_expiring:file: success (0 sent" in synced.stdout  # nothing changed since the run
    unknown = c360(["sync", "--segment", "nope"], home)
    assert unknown.returncode == 2 and "seg_points_expiring" in unknown.stderr


def test_naomi_negative_experience_recorded_with_reason_and_date(warehouse):
    naomi = person(warehouse, 1001)
    assert naomi["orders_count"] == 1
    assert naomi["late_deliveries_count"] == 1
    assert naomi["last_review_rating"] == 1
    # Her latest negative experience: the support ticket rated "bad", the day after her 1-star review.
    assert naomi["last_negative_experience_reason"] == "csat"
    assert naomi["last_negative_experience_at"] == datetime(2026, 10, 27, 9, 0)
    assert naomi["sentiment"] == "negative"
    assert naomi["lifecycle_stage"] == "first_time"


def test_chrissy_points_balance_expiry_and_tier_change_are_exact(warehouse):
    chrissy = person(warehouse, 1002)
    # Lots 89 (expired), 239, 102, 141, 500; an expiry of 89 and a redemption of 200 consume FIFO, so
    # 39 of the 239-point lot remain and expire on 2026-11-20, within 30 days of the as-of date.
    assert chrissy["loyalty_points_balance"] == 39 + 102 + 141 + 500
    assert chrissy["points_expiring_30d"] == 39
    assert chrissy["next_points_expiry_at"] == datetime(2026, 11, 20, 23, 59, 59)
    assert (chrissy["previous_loyalty_tier"], chrissy["loyalty_tier"]) == ("silver", "gold")
    assert chrissy["loyalty_tier_changed_at"].date() == date(2026, 10, 28)


def test_marshall_subscribed_products_are_listed(warehouse):
    marshall = person(warehouse, 1003)
    assert marshall["active_subscriptions_count"] == 1
    assert marshall["subscribed_product_ids"] == "P-200"
    assert marshall["subscribed_categories"] == "filters"


@pytest.mark.parametrize("shop_id, consent", [
    (1004, "unsubscribed"), (1005, "bounced"), (1006, "spam_complaint"), (1001, "subscribed"),
])
def test_email_consent_of_the_consent_personas(warehouse, shop_id, consent):
    assert person(warehouse, shop_id)["email_consent"] == consent


def test_advocate_and_drifting_loyal_customer(warehouse):
    ava = person(warehouse, 1008)
    assert ava["lifecycle_stage"] == "advocate" and ava["referrals_converted"] >= 2
    larry = person(warehouse, 1009)
    assert larry["orders_count"] >= 4 and larry["activity_status"] in ("at_risk", "lapsed")


def test_the_erased_person_is_nowhere_in_the_built_warehouse(warehouse):
    relations = warehouse.execute(
        "SELECT table_schema, table_name FROM information_schema.tables "
        "WHERE table_schema IN ('intermediate', 'marts', 'segments')"
    ).fetchall()
    assert relations
    for schema, table in relations:
        columns = [r[0] for r in warehouse.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = ? AND table_name = ?",
            [schema, table]).fetchall()]
        for column in ("email", "identifier", "identifier_value"):
            if column in columns:
                hits = warehouse.execute(
                    f'SELECT count(*) FROM "{schema}"."{table}" WHERE CAST("{column}" AS VARCHAR) LIKE ?',
                    ["%erin.erased@example.com%"]).fetchone()[0]
                assert hits == 0, f"{schema}.{table}.{column}"
        if "shop_customer_id" in columns:
            hits = warehouse.execute(
                f'SELECT count(*) FROM "{schema}"."{table}" WHERE shop_customer_id = 1007').fetchone()[0]
            assert hits == 0, f"{schema}.{table}"


def test_revenue_reconciles_between_customers_and_orders(warehouse):
    customers = warehouse.execute("SELECT sum(lifetime_net_revenue) FROM marts.customer_360").fetchone()[0]
    orders = warehouse.execute(
        "SELECT sum(net_revenue) FROM intermediate.int_orders_unioned "
        "WHERE is_revenue_order AND customer_key IS NOT NULL").fetchone()[0]
    assert customers == orders and customers > 0


def test_a_landing_zone_with_only_the_required_sources_runs_end_to_end(shop_only_run):
    home, ran = shop_only_run
    landing = home / "landing"
    assert {p.name for p in landing.iterdir() if not p.name.startswith("_")} == {"shop"}
    assert "absent optional sources" in ran.stdout
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    rows, with_orders, points = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE orders_count > 0), sum(loyalty_points_balance) "
        "FROM marts.customer_360").fetchone()
    assert rows > 0 and with_orders > 0 and points == 0
    assert con.execute("SELECT count(*) FROM raw.web__events").fetchone()[0] == 0
    con.close()


@pytest.mark.e2e
def test_a_locked_warehouse_is_a_clear_error(tmp_path):
    home = tmp_path / "locked"
    from orchestration.sample_data import generate

    generate(home / "landing", tier="tiny", days=3, sources={"shop"})
    home.mkdir(exist_ok=True)
    holder = subprocess.Popen([sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
                               "print('held', flush=True); time.sleep(60)", str(home / "warehouse.duckdb")],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        ran = c360(["run"], home)
    finally:
        holder.kill()
    assert ran.returncode == 2
    assert "is in use by another process" in ran.stderr and "serving.duckdb" in ran.stderr
