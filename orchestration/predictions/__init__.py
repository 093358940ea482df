"""Predictive CLV and churn: BG/NBD purchase model, Gamma-Gamma spend model, 365-day forecast, diagnostics.

Pure NumPy/SciPy/pandas; no Dagster or dbt here. The entry point for the asset is `forecast_customers`.
"""

from orchestration.predictions.bgnbd import (
    BgNbdFit,
    BgNbdParams,
    CollapsedRows,
    bgnbd_individual_log_likelihood,
    bgnbd_log_likelihood,
    collapse_rows,
    conditional_expected_purchases,
    expected_purchases,
    fit_bgnbd,
    prob_alive,
    prob_purchase_within,
    time_to_expected_purchases,
    time_to_purchase_probability,
)
from orchestration.predictions.diagnostics import (
    calibration_holdout_table,
    expected_cumulative_repeat_purchases,
    params_markdown,
    plot_calibration_holdout,
)
from orchestration.predictions.forecast import (
    HORIZON_DAYS,
    PARAMS_COLUMNS,
    PREDICTION_COLUMNS,
    REQUIRED_COLUMNS,
    ForecastResult,
    InsufficientDataError,
    Refusal,
    check_data_sufficiency,
    forecast_customers,
    params_frame,
    predict_customers,
)
from orchestration.predictions.gamma_gamma import (
    GammaGammaFit,
    GammaGammaParams,
    conditional_expected_spend,
    fit_gamma_gamma,
    frequency_spend_correlation,
    gamma_gamma_log_likelihood,
)
from orchestration.predictions.simulate import simulate_customers

__all__ = [
    "HORIZON_DAYS", "PARAMS_COLUMNS", "PREDICTION_COLUMNS", "REQUIRED_COLUMNS",
    "BgNbdFit", "BgNbdParams", "CollapsedRows", "ForecastResult", "GammaGammaFit", "GammaGammaParams",
    "InsufficientDataError", "Refusal",
    "bgnbd_individual_log_likelihood", "bgnbd_log_likelihood", "calibration_holdout_table", "check_data_sufficiency",
    "collapse_rows", "conditional_expected_purchases", "conditional_expected_spend",
    "expected_cumulative_repeat_purchases",
    "expected_purchases", "fit_bgnbd", "fit_gamma_gamma", "forecast_customers", "frequency_spend_correlation",
    "gamma_gamma_log_likelihood", "params_frame", "params_markdown", "plot_calibration_holdout", "predict_customers",
    "prob_alive", "prob_purchase_within", "simulate_customers", "time_to_expected_purchases",
    "time_to_purchase_probability",
]
