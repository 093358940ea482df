"""The predictions step as a Dagster asset: dbt's purchase summary in, predictions.* tables out, read back by
dbt into customer_360 (lineage dbt -> Python -> dbt).

No `from __future__ import annotations` here: Dagster inspects the `context` annotation at runtime.
"""

import base64
import os
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
from dagster import AssetExecutionContext, AssetKey, AssetSpec, Config, MaterializeResult, MetadataValue, multi_asset
from dagster_duckdb import DuckDBResource
from pydantic import Field

from orchestration.ingestion.assets import DUCKDB_POOL
from orchestration.partitions import AS_OF_TAG
from orchestration.predictions.bgnbd import fit_bgnbd
from orchestration.predictions.diagnostics import calibration_holdout_table, params_markdown, plot_calibration_holdout
from orchestration.predictions.forecast import (
    DEFAULT_MIN_CUSTOMERS,
    DEFAULT_MIN_REPEAT_CUSTOMERS,
    REQUIRED_COLUMNS,
    ForecastResult,
    forecast_customers,
)
from orchestration.settings import Settings

SUMMARY = AssetKey(["intermediate", "int_customer_purchase_summary"])
CUSTOMER_PREDICTIONS = AssetKey(["predictions", "customer_predictions"])
MODEL_PARAMS = AssetKey(["predictions", "model_params"])

DDL = """
create schema if not exists predictions;
create table if not exists predictions.customer_predictions (
    customer_key varchar, p_alive double, churn_probability double, predicted_orders_365d double,
    predicted_clv_365d double, expected_next_order_at date, as_of_date date, model_status varchar
);
create table if not exists predictions.model_params (
    model varchar, parameter varchar, value double, time_unit varchar, n_customers bigint, log_likelihood double,
    as_of_date date, fitted_at timestamp
);
create table if not exists predictions.model_runs (
    as_of_date date, status varchar, reason varchar, note varchar, customers_with_orders bigint,
    repeat_customers bigint, recorded_at timestamp
);
"""


class PredictionsConfig(Config):
    """Thresholds below which the models refuse to predict (env C360_PREDICTIONS_MIN_CUSTOMERS and
    C360_PREDICTIONS_MIN_REPEAT_CUSTOMERS set the defaults)."""

    min_customers: int = Field(
        default_factory=lambda: int(os.environ.get("C360_PREDICTIONS_MIN_CUSTOMERS", DEFAULT_MIN_CUSTOMERS)),
        description="Fewest customers with orders the models are fitted on.",
    )
    min_repeat_customers: int = Field(
        default_factory=lambda: int(
            os.environ.get("C360_PREDICTIONS_MIN_REPEAT_CUSTOMERS", DEFAULT_MIN_REPEAT_CUSTOMERS)),
        description="Fewest repeat buyers the models are fitted on.",
    )


def read_summary(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """The purchase summary dbt built (one row per buyer), with the calibration/holdout split."""
    return con.execute(
        "select customer_key, frequency, recency_weeks, age_weeks, monetary_value, frequency_cal, "
        "recency_weeks_cal, age_weeks_cal, holdout_frequency, calibration_end_day, as_of_date "
        "from intermediate.int_customer_purchase_summary"
    ).df()


def calibration_figure(summary: pd.DataFrame, path: Path, min_customers: int) -> tuple[pd.DataFrame | None, str]:
    """The classic calibration/holdout check: BG/NBD fitted on the calibration period only, then the mean
    repeat purchases in the holdout predicted vs actual by calibration frequency. Returns (table, note)."""
    calibration = summary[summary["frequency_cal"].notna()]
    if len(calibration) < min_customers:
        return None, f"not drawn: {len(calibration)} buyers before the calibration end (fewer than {min_customers})"
    fit = fit_bgnbd(calibration["frequency_cal"].to_numpy(float), calibration["recency_weeks_cal"].to_numpy(float),
                    calibration["age_weeks_cal"].to_numpy(float))
    if fit.problem:
        return None, f"not drawn: the calibration fit is unusable ({fit.problem})"
    as_of = pd.Timestamp(summary["as_of_date"].iloc[0])
    holdout_weeks = (as_of - pd.Timestamp(summary["calibration_end_day"].iloc[0])).days / 7
    frame = pd.DataFrame({
        "frequency": calibration["frequency_cal"].to_numpy(float),
        "recency_weeks": calibration["recency_weeks_cal"].to_numpy(float),
        "age_weeks": calibration["age_weeks_cal"].to_numpy(float),
        "holdout_frequency": calibration["holdout_frequency"].to_numpy(float),
    })
    table = calibration_holdout_table(frame, fit.params, holdout_weeks)
    plot_calibration_holdout(table, path, holdout_weeks=holdout_weeks)
    return table, f"calibration fit on {len(calibration)} buyers, holdout {holdout_weeks:.0f} weeks"


def write_predictions(con: duckdb.DuckDBPyConnection, result: ForecastResult, as_of: date) -> None:
    """Replace predictions.customer_predictions and predictions.model_params in one transaction."""
    predictions = result.predictions.assign(as_of_date=pd.Timestamp(as_of), model_status=result.status)
    params = result.params
    con.execute(DDL)
    con.register("new_predictions", predictions)
    con.register("new_params", params)
    con.execute("begin transaction")
    try:
        con.execute("delete from predictions.customer_predictions")
        con.execute(
            "insert into predictions.customer_predictions select cast(customer_key as varchar), p_alive, "
            "churn_probability, predicted_orders_365d, predicted_clv_365d, cast(expected_next_order_at as date), "
            "cast(as_of_date as date), model_status from new_predictions"
        )
        con.execute("delete from predictions.model_params")
        con.execute(
            "insert into predictions.model_params select model, parameter, value, time_unit, n_customers, "
            "log_likelihood, cast(as_of_date as date), cast(fitted_at as timestamp) from new_params"
        )
        # One row per as-of date: what the step decided and why (the report and BI quote it).
        metadata = result.metadata()
        con.execute("delete from predictions.model_runs where as_of_date = ?", [as_of])
        con.execute(
            "insert into predictions.model_runs values (?, ?, ?, ?, ?, ?, current_timestamp::timestamp)",
            [as_of, result.status, result.reason or "fitted",
             result.bgnbd.note if result.bgnbd is not None else None,
             metadata["n_customers"], metadata["n_repeat_customers"]],
        )
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    finally:
        con.unregister("new_predictions")
        con.unregister("new_params")


def build_predictions_asset(settings: Settings):
    """The multi-asset that fits the models and writes predictions.customer_predictions and model_params."""

    @multi_asset(
        name="customer_predictions",
        specs=[
            AssetSpec(CUSTOMER_PREDICTIONS, deps=[SUMMARY], group_name="predictions", kinds={"python", "duckdb"},
                      description="Per buyer: P(alive), churn probability, predicted orders and CLV over 365 days, "
                                  "expected next order (BG/NBD + Gamma-Gamma). Null when the data is too thin."),
            AssetSpec(MODEL_PARAMS, deps=[SUMMARY], group_name="predictions", kinds={"python", "duckdb"},
                      description="The fitted parameters, log-likelihood and customers of each model."),
        ],
        pool=DUCKDB_POOL,
    )
    def customer_predictions(context: AssetExecutionContext, config: PredictionsConfig, warehouse: DuckDBResource):
        """Fit BG/NBD and Gamma-Gamma on the purchase summary, predict every buyer, or refuse thin data."""
        with warehouse.get_connection() as con:
            summary = read_summary(con)
        if summary.empty:
            as_of = date.fromisoformat(context.run.tags.get(AS_OF_TAG, date.min.isoformat()))
        else:
            as_of = pd.Timestamp(summary["as_of_date"].iloc[0]).date()
        result = forecast_customers(summary[list(REQUIRED_COLUMNS)], as_of, min_customers=config.min_customers,
                                    min_repeat_customers=config.min_repeat_customers)
        figure_path = settings.home / "docs" / "predictions" / "calibration_holdout.png"
        figure_path.parent.mkdir(parents=True, exist_ok=True)
        table, figure_note = (None, "not drawn: the models refused the data") if result.status == "refused" else \
            calibration_figure(summary, figure_path, config.min_customers)
        with warehouse.get_connection() as con:
            write_predictions(con, result, as_of)
        if result.status == "refused":
            context.log.warning(f"predictions refused: {result.reason}")
        metadata = result.metadata()
        common = {
            "status": result.status,
            "reason": MetadataValue.text(result.reason or "fitted"),
            "as_of_date": as_of.isoformat(),
            "customers_with_orders": metadata["n_customers"],
            "repeat_customers": metadata["n_repeat_customers"],
        }
        details = {
            "parameters": MetadataValue.md(params_markdown(result)),
            "model_note": MetadataValue.text(
                (result.bgnbd.note if result.bgnbd is not None else None) or "none"),
            "calibration_holdout": MetadataValue.text(figure_note),
            "predicted_customers": int(result.predictions["p_alive"].notna().sum()),
        }
        if table is not None:
            details["calibration_holdout_table"] = MetadataValue.md(frame_markdown(table))
            details["calibration_holdout_figure"] = MetadataValue.md(
                "![calibration vs holdout](data:image/png;base64,"
                + base64.b64encode(figure_path.read_bytes()).decode() + ")")
            details["calibration_holdout_png"] = MetadataValue.path(str(figure_path))
        yield MaterializeResult(asset_key=CUSTOMER_PREDICTIONS, metadata={**common, **details})
        yield MaterializeResult(asset_key=MODEL_PARAMS, metadata={**common, "rows": len(result.params)})

    return customer_predictions


def frame_markdown(frame: pd.DataFrame) -> str:
    """A small DataFrame as a markdown table (numbers rounded to 3 decimals)."""
    def cell(value) -> str:
        return f"{value:.3f}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(map(str, frame.columns)) + " |", "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines)
