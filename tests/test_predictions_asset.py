"""The predictions step end to end on the `tiny` tier: dbt's purchase summary in, predictions tables out, read
back by dbt into customer_360; thin data refused with the reason, never faked."""

from __future__ import annotations

import json
import shutil

import duckdb
import pytest
from dagster import materialize
from dagster_duckdb import DuckDBResource
from warehouse_helpers import run_dbt

from orchestration.predictions.assets import build_predictions_asset


def test_the_tiny_run_refuses_thin_data_and_leaves_the_columns_null(tiny_run, warehouse):
    _, ran = tiny_run
    assert "predictions: refused" in ran.stdout and "fewer than the minimum of 500" in ran.stdout
    status, rows = warehouse.execute(
        "SELECT min(model_status), count(*) FROM predictions.customer_predictions").fetchone()
    assert status == "refused" and rows > 0
    nulls = warehouse.execute(
        "SELECT count(*) FILTER (WHERE churn_probability IS NOT NULL OR churn_risk_band IS NOT NULL "
        "OR predicted_clv_365d IS NOT NULL OR expected_next_order_at IS NOT NULL) FROM marts.customer_360"
    ).fetchone()[0]
    assert nulls == 0
    assert warehouse.execute("SELECT count(*) FROM predictions.model_params").fetchone()[0] == 0
    status, reason, buyers = warehouse.execute(
        "SELECT status, reason, customers_with_orders FROM predictions.model_runs").fetchone()
    assert status == "refused" and "fewer than the minimum of 500" in reason and 0 < buyers < 500


@pytest.fixture
def tiny_copy(tiny_run, c360_env):
    home, _ = tiny_run
    settings = c360_env
    settings.duckdb_database.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(home / "warehouse.duckdb", settings.duckdb_database)
    return settings


def test_with_lower_minimums_the_models_fit_and_customer_360_reads_them_back(tiny_copy, tmp_path):
    settings = tiny_copy
    asset = build_predictions_asset(settings)
    result = materialize(
        [asset], resources={"warehouse": DuckDBResource(database=str(settings.duckdb_database))},
        run_config={"ops": {"customer_predictions": {"config": {"min_customers": 50, "min_repeat_customers": 20}}}},
    )
    assert result.success
    metadata = {e.asset_key.to_user_string(): e.step_materialization_data.materialization.metadata
                for e in result.get_asset_materialization_events()}
    predictions = metadata["predictions/customer_predictions"]
    assert predictions["status"].value in ("ok", "partial"), predictions["reason"].value
    assert predictions["predicted_customers"].value > 100
    con = duckdb.connect(str(settings.duckdb_database))
    params = dict(con.execute("SELECT parameter, value FROM predictions.model_params WHERE model = 'bgnbd'").fetchall())
    assert set(params) == {"r", "alpha", "a", "b"} and all(v > 0 for v in params.values())
    bad = con.execute("SELECT count(*) FROM predictions.customer_predictions WHERE p_alive NOT BETWEEN 0 AND 1 "
                      "OR abs(churn_probability - (1 - p_alive)) > 1e-12 OR predicted_orders_365d < 0").fetchone()[0]
    assert bad == 0
    con.close()
    built = run_dbt(settings.duckdb_database, tmp_path, "build", "--select", "stg_predictions__customer_predictions+",
                    "--exclude", "segments", "--vars", json.dumps({"as_of_date": "2026-10-31"}))
    assert built.success, [str(r.message) for r in built.result.results if r.status not in ("success", "pass")]
    con = duckdb.connect(str(settings.duckdb_database))  # dbt ran in this process: same configuration
    bands = dict(con.execute("SELECT churn_risk_band, count(*) FROM marts.customer_360 "
                             "WHERE orders_count > 0 GROUP BY 1").fetchall())
    assert None not in bands and sum(bands.values()) > 100
    mismatched = con.execute(
        "SELECT count(*) FROM marts.customer_360 WHERE (churn_probability >= 0.66) <> (churn_risk_band = 'high') "
        "OR (churn_probability < 0.33) <> (churn_risk_band = 'low')").fetchone()[0]
    assert mismatched == 0
    prospects = con.execute("SELECT count(*) FROM marts.customer_360 WHERE orders_count = 0 "
                            "AND churn_probability IS NOT NULL").fetchone()[0]
    assert prospects == 0
    con.close()
