"""Model checks: calibration/holdout conditional expectations (FHL 2005 fig. 4), tracking curve, metadata table.

Plots use matplotlib's Agg canvas directly (no pyplot, no display, no global backend switch).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from orchestration.predictions.bgnbd import BgNbdParams, conditional_expected_purchases, expected_purchases

CALIBRATION_COLUMNS = ("calibration_frequency", "label", "n_customers", "actual_holdout_mean",
                       "predicted_holdout_mean")


def calibration_holdout_table(summaries: pd.DataFrame, params, holdout_weeks: float, *,
                              max_frequency: int = 7) -> pd.DataFrame:
    """Mean holdout repeat purchases, actual vs BG/NBD conditional expectation, by calibration frequency.

    `summaries` has the calibration-period frequency, recency_weeks, age_weeks and the actual
    holdout_frequency (repeat purchases in the `holdout_weeks` after the calibration end). Customers with
    frequency >= max_frequency share the last bin (label '7+'). Returns CALIBRATION_COLUMNS, one row per bin
    with customers.
    """
    missing = [c for c in ("frequency", "recency_weeks", "age_weeks", "holdout_frequency")
               if c not in summaries.columns]
    if missing:
        raise ValueError(f"calibration summaries lack columns {missing}")
    if holdout_weeks <= 0:
        raise ValueError("holdout_weeks must be positive")
    x = summaries["frequency"].to_numpy(dtype=float)
    tx = np.where(x > 0, summaries["recency_weeks"].to_numpy(dtype=float), 0.0)
    predicted = conditional_expected_purchases(BgNbdParams.coerce(params), holdout_weeks, x, tx,
                                               summaries["age_weeks"].to_numpy(dtype=float))
    bins = np.minimum(x, max_frequency).astype(np.int64)
    frame = pd.DataFrame({"calibration_frequency": bins, "actual": summaries["holdout_frequency"].to_numpy(float),
                          "predicted": predicted})
    table = frame.groupby("calibration_frequency").agg(
        n_customers=("actual", "size"), actual_holdout_mean=("actual", "mean"),
        predicted_holdout_mean=("predicted", "mean")).reset_index()
    table.insert(1, "label", [f"{b}+" if b == max_frequency else str(b) for b in table["calibration_frequency"]])
    return table[list(CALIBRATION_COLUMNS)]


def plot_calibration_holdout(table: pd.DataFrame, path, *, holdout_weeks: float | None = None,
                             title: str | None = None) -> Path:
    """Render the calibration/holdout table as the classic line chart (actual vs model) to a PNG at `path`."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4.5), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    positions = np.arange(len(table))
    ax.plot(positions, table["actual_holdout_mean"], marker="o", label="Actual")
    ax.plot(positions, table["predicted_holdout_mean"], marker="s", linestyle="--", label="BG/NBD")
    ax.set_xticks(positions, table["label"])
    ax.set_xlabel("Repeat purchases in calibration period")
    span = f" ({holdout_weeks:g} weeks)" if holdout_weeks else ""
    ax.set_ylabel(f"Mean repeat purchases in holdout{span}")
    ax.set_title(title or "Conditional expectations: calibration vs holdout")
    ax.legend()
    ax.grid(alpha=0.3)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")
    return path


def expected_cumulative_repeat_purchases(params, first_purchase_weeks, at_weeks) -> np.ndarray:
    """Expected cumulative repeat purchases of a customer base at each time in `at_weeks` (FHL 2005 fig. 1).

    `first_purchase_weeks` is each customer's first-purchase time on the same clock as `at_weeks`; the sum of
    the unconditional E[X(t - s_i)] over customers with s_i < t. Customers are grouped by first-purchase time,
    so the cost is (#grid points x #distinct first-purchase times).
    """
    p = BgNbdParams.coerce(params)
    starts, counts = np.unique(np.asarray(first_purchase_weeks, dtype=float), return_counts=True)
    at = np.asarray(at_weeks, dtype=float)
    elapsed = np.clip(np.subtract.outer(at.ravel(), starts), 0.0, None)
    return (expected_purchases(p, elapsed) @ counts).reshape(at.shape)


def _format(value) -> str:
    if isinstance(value, float | np.floating):
        return f"{value:.6g}" if np.isfinite(value) else "null"
    if value is None or (isinstance(value, pd.Timestamp) and pd.isna(value)):
        return "null"
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return str(value)


def params_markdown(result_or_params) -> str:
    """Markdown for Dagster metadata: a status line (and refusal reasons) plus the model-parameter table.

    Takes a ForecastResult or just its `params` DataFrame.
    """
    lines: list[str] = []
    params = result_or_params
    if not isinstance(result_or_params, pd.DataFrame):
        result = result_or_params
        params = result.params
        lines.append(f"**Status:** {result.status} ({result.n_customers:,} customers with orders, "
                     f"{result.n_repeat_customers:,} repeat buyers, as of {result.as_of_date.date().isoformat()})")
        lines.extend(f"- refused `{r.model}` ({r.code}): {r.reason}" for r in result.refusals)
        lines.append("")
    if params.empty:
        lines.append("_No usable model parameters._")
        return "\n".join(lines)
    columns = ["model", "parameter", "value", "time_unit", "n_customers", "log_likelihood"]
    lines.append("| " + " | ".join(columns) + " |")
    lines.append("|" + "|".join("---:" if c in ("value", "n_customers", "log_likelihood") else "---"
                                 for c in columns) + "|")
    for row in params[columns].itertuples(index=False):
        cells = [_format(v) for v in row]
        cells[-1] = f"{row.log_likelihood:.2f}"  # six significant digits would hide likelihood differences
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
