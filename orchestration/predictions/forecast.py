"""Per-customer 365-day forecast: fit BG/NBD + Gamma-Gamma on customer summaries, predict, or refuse thin data.

Input: one row per customer, as of `as_of_date`, with
  customer_key    any hashable key, returned as is
  frequency       repeat purchases: distinct purchase days after the first one (null: the customer has no order)
  recency_weeks   weeks from the first purchase to the last one (ignored when frequency is 0)
  age_weeks       weeks from the first purchase to the as-of date (T)
  monetary_value  mean value of the repeat purchases, each purchase day's orders summed (ignored when frequency
                  is 0; a repeat buyer with a null or non-positive value gets the population mean spend)
Time is in weeks (days / 7); the horizon of the predictions is 365 days = 365/7 weeks.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from orchestration.predictions.bgnbd import (
    BgNbdFit,
    BgNbdParams,
    CollapsedRows,
    collapse_rows,
    conditional_expected_purchases,
    fit_bgnbd,
    prob_alive,
    time_to_expected_purchases,
    time_to_purchase_probability,
)
from orchestration.predictions.gamma_gamma import (
    GammaGammaFit,
    GammaGammaParams,
    conditional_expected_spend,
    fit_gamma_gamma,
    frequency_spend_correlation,
)

HORIZON_DAYS = 365
HORIZON_WEEKS = HORIZON_DAYS / 7
REQUIRED_COLUMNS = ("customer_key", "frequency", "recency_weeks", "age_weeks", "monetary_value")
PREDICTION_COLUMNS = ("customer_key", "p_alive", "churn_probability", "predicted_orders_365d", "predicted_clv_365d",
                      "expected_next_order_at")
PARAMS_COLUMNS = ("model", "parameter", "value", "time_unit", "n_customers", "log_likelihood", "as_of_date",
                  "fitted_at")
DEFAULT_MIN_CUSTOMERS = 500
DEFAULT_MIN_REPEAT_CUSTOMERS = 100
NextOrderRule = Literal["median", "expected_one"]


class InsufficientDataError(ValueError):
    """The data cannot support a model: too few customers or repeat buyers, or a fit that must not be used.

    `code` is one of too_few_customers, too_few_repeat_customers, not_converged, degenerate_fit;
    `reason` is a sentence for humans (and Dagster metadata).
    """

    def __init__(self, code: str, reason: str, model: str = "bgnbd"):
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.model = model


@dataclass(frozen=True)
class Refusal:
    """Why a model was not used: which model ('bgnbd' or 'gamma_gamma'), a code and a sentence."""

    model: str
    code: str
    reason: str


@dataclass(frozen=True)
class _Summaries:
    """Validated numeric columns of the rows that have orders, and where they sit in the input."""

    keys: pd.Series
    rows: np.ndarray  # positions in the input of the customers with orders
    x: np.ndarray
    tx: np.ndarray
    T: np.ndarray
    m: np.ndarray

    @property
    def n_repeat(self) -> int:
        return int((self.x > 0).sum())

    @property
    def spend_ok(self) -> np.ndarray:
        return (self.x > 0) & np.isfinite(self.m) & (self.m > 0)


def _numeric(frame: pd.DataFrame, column: str) -> np.ndarray:
    return pd.to_numeric(frame[column], errors="raise").to_numpy(dtype=float, na_value=np.nan)


def _read_summaries(summaries: pd.DataFrame) -> _Summaries:
    """Check the input contract; contract violations are bugs upstream, so they raise rather than refuse."""
    missing = [c for c in REQUIRED_COLUMNS if c not in summaries.columns]
    if missing:
        raise ValueError(f"customer summaries lack columns {missing}")
    x_all = _numeric(summaries, "frequency")
    T_all = _numeric(summaries, "age_weeks")
    has_orders = np.isfinite(x_all) & np.isfinite(T_all)
    rows = np.flatnonzero(has_orders)
    x, T = x_all[rows], T_all[rows]
    tx = _numeric(summaries, "recency_weeks")[rows]
    m = _numeric(summaries, "monetary_value")[rows]
    tx = np.where(x > 0, tx, 0.0)
    problems = {
        "frequency is negative or not a whole number": (x < 0) | (x != np.round(x)),
        "age_weeks is negative": T < 0,
        "recency_weeks is null or negative for a repeat buyer": (x > 0) & ~(tx >= 0),
        "recency_weeks exceeds age_weeks": tx > T * (1 + 1e-9) + 1e-9,
    }
    found = [f"{name} ({int(bad.sum())} rows)" for name, bad in problems.items() if bad.any()]
    if found:
        raise ValueError("customer summaries break the input contract: " + "; ".join(found))
    return _Summaries(summaries["customer_key"], rows, x, tx, T, m)


def check_data_sufficiency(summaries: pd.DataFrame, *, min_customers: int = DEFAULT_MIN_CUSTOMERS,
                           min_repeat_customers: int = DEFAULT_MIN_REPEAT_CUSTOMERS) -> None:
    """Raise InsufficientDataError when there are too few customers with orders or too few repeat buyers."""
    _check_counts(_read_summaries(summaries), min_customers, min_repeat_customers)


def _check_counts(data: _Summaries, min_customers: int, min_repeat_customers: int) -> None:
    n, n_repeat = int(data.x.size), data.n_repeat
    if n < min_customers:
        raise InsufficientDataError(
            "too_few_customers", f"{n} customers with orders, fewer than the minimum of {min_customers}")
    if n_repeat < min_repeat_customers:
        raise InsufficientDataError(
            "too_few_repeat_customers",
            f"{n_repeat} repeat buyers, fewer than the minimum of {min_repeat_customers}")


def _as_of(as_of_date) -> pd.Timestamp:
    stamp = pd.Timestamp(as_of_date)
    if stamp is pd.NaT:
        raise ValueError("as_of_date is required")
    return stamp.tz_localize(None).normalize() if stamp.tzinfo else stamp.normalize()


def _null_predictions(data: _Summaries) -> pd.DataFrame:
    n = len(data.keys)
    return pd.DataFrame({"customer_key": data.keys.to_numpy(),
                         **{name: np.full(n, np.nan) for name in PREDICTION_COLUMNS[1:5]},
                         "expected_next_order_at": np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")})


def _next_order_days(params: BgNbdParams, x, tx, T, rule: NextOrderRule, horizon_days: int) -> np.ndarray:
    """Whole days after the as-of date by which the rule's threshold is met; inf when not within the horizon."""
    horizon_weeks = horizon_days / 7
    if rule == "median":
        weeks = time_to_purchase_probability(params, x, tx, T, probability=0.5)
        days = np.ceil(weeks * 7 - 1e-9)
    elif rule == "expected_one":
        # Bisection to an hour, then one check of the day before: the crossing may sit in that day's last hour.
        weeks = time_to_expected_purchases(params, x, tx, T, target=1.0, horizon=horizon_weeks,
                                           tolerance=1 / (7 * 24))
        days = np.ceil(weeks * 7 - 1e-9)
        found = np.flatnonzero(np.isfinite(days) & (days > 1))
        earlier = conditional_expected_purchases(params, (days[found] - 1) / 7, x[found], tx[found], T[found]) >= 1
        days[found[earlier]] -= 1
    else:
        raise ValueError(f"unknown next_order_rule {rule!r}")
    return np.where(days <= horizon_days, days, np.inf)


def predict_customers(summaries: pd.DataFrame, as_of_date, bgnbd_params, gamma_gamma_params=None, *,
                      next_order_rule: NextOrderRule = "median",
                      next_order_horizon_days: int = HORIZON_DAYS) -> pd.DataFrame:
    """Score customers with given parameters; returns one row per input row, in input order.

    Columns (PREDICTION_COLUMNS): customer_key; p_alive = P(alive | x, t_x, T); churn_probability = 1 - p_alive;
    predicted_orders_365d = E[repeat purchases in the next 365 days | x, t_x, T]; predicted_clv_365d =
    predicted orders x Gamma-Gamma E[order value | x, m_x] (undiscounted revenue; one-time buyers and repeat
    buyers without a usable monetary_value get the population mean p*gamma/(q-1), which is what the
    conditional formula gives at x = 0; null without `gamma_gamma_params`); expected_next_order_at, see
    `forecast_customers`. Customers without orders (null frequency or age_weeks) get nulls everywhere.
    """
    data = _read_summaries(summaries)
    rows = collapse_rows(data.x, data.tx, data.T)
    return _predict(data, rows, _as_of(as_of_date), BgNbdParams.coerce(bgnbd_params),
                    None if gamma_gamma_params is None else GammaGammaParams.coerce(gamma_gamma_params),
                    next_order_rule, next_order_horizon_days)


def _predict(data: _Summaries, rows: CollapsedRows, as_of: pd.Timestamp, params: BgNbdParams,
             gg: GammaGammaParams | None, next_order_rule: NextOrderRule,
             next_order_horizon_days: int) -> pd.DataFrame:
    n_out = len(data.keys)
    idx = data.rows
    columns = {name: np.full(n_out, np.nan) for name in PREDICTION_COLUMNS[1:5]}
    dates = np.full(n_out, np.datetime64("NaT"), dtype="datetime64[ns]")
    if idx.size:
        # Everything BG/NBD depends on (x, t_x, T) only: compute once per unique row, then spread.
        ux, utx, uT = rows.frequency, rows.recency, rows.T
        alive = prob_alive(params, ux, utx, uT)[rows.inverse]
        orders = conditional_expected_purchases(params, HORIZON_WEEKS, ux, utx, uT)[rows.inverse]
        next_days = _next_order_days(params, ux, utx, uT, next_order_rule, next_order_horizon_days)[rows.inverse]
        columns["p_alive"][idx] = alive
        columns["churn_probability"][idx] = 1.0 - alive
        columns["predicted_orders_365d"][idx] = orders
        if gg is not None:
            # Repeat buyers without a usable spend are scored like one-time buyers: the population mean.
            spend = conditional_expected_spend(gg, np.where(data.spend_ok, data.x, 0.0), data.m)
            columns["predicted_clv_365d"][idx] = orders * spend
        reached = np.isfinite(next_days)
        # First calendar day by which the threshold is met, counting the as-of date as day 0.
        days = next_days[reached].astype(np.int64)
        dates[idx[reached]] = np.datetime64(as_of.to_datetime64(), "ns") + days.astype("timedelta64[D]")
    return pd.DataFrame({"customer_key": data.keys.to_numpy(), **columns, "expected_next_order_at": dates})


@dataclass(frozen=True)
class ForecastResult:
    """What `forecast_customers` returns.

    status: 'ok' (both models used), 'partial' (BG/NBD used, Gamma-Gamma refused: predicted_clv_365d is null),
    'refused' (all predictive columns null). `refusals` says why; `predictions` always has one row per input row.
    `bgnbd` / `gamma_gamma` hold the fits when one was attempted, usable or not (`fit.problem`); `params` only
    lists usable ones.
    """

    predictions: pd.DataFrame
    params: pd.DataFrame
    status: str
    refusals: tuple[Refusal, ...]
    bgnbd: BgNbdFit | None
    gamma_gamma: GammaGammaFit | None
    n_customers: int
    n_repeat_customers: int
    n_unique_rows: int
    frequency_spend_correlation: float
    as_of_date: pd.Timestamp
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when every predictive column is filled."""
        return self.status == "ok"

    @property
    def reason(self) -> str | None:
        """The refusal reasons as one sentence, or None."""
        return "; ".join(f"{r.model}: {r.reason}" for r in self.refusals) or None

    def metadata(self) -> dict:
        """JSON-able summary for Dagster metadata: status, reasons, counts, parameters, fit quality, timings."""
        fits = {}
        for name, fit in (("bgnbd", self.bgnbd), ("gamma_gamma", self.gamma_gamma)):
            if fit is not None:
                fits[name] = {**{k: float(v) for k, v in fit.params.as_dict().items()},
                              "log_likelihood": float(fit.log_likelihood), "n_customers": fit.n_customers,
                              "converged": bool(fit.converged), "problem": fit.problem,
                              "note": getattr(fit, "note", None)}
        corr = self.frequency_spend_correlation
        return {
            "status": self.status,
            "refusals": [{"model": r.model, "code": r.code, "reason": r.reason} for r in self.refusals],
            "as_of_date": self.as_of_date.date().isoformat(),
            "n_customers": self.n_customers,
            "n_repeat_customers": self.n_repeat_customers,
            "n_unique_rows": self.n_unique_rows,
            "fits": fits,
            "frequency_spend_correlation": None if np.isnan(corr) else round(corr, 4),
            "timings_seconds": {k: round(v, 3) for k, v in self.timings.items()},
        }


def params_frame(as_of_date, bgnbd: BgNbdFit | None, gamma_gamma: GammaGammaFit | None,
                 fitted_at=None) -> pd.DataFrame:
    """Model-parameter rows (PARAMS_COLUMNS) for the usable fits; time_unit is 'week' for BG/NBD, null for spend.

    as_of_date is a midnight datetime64, fitted_at a UTC timestamp (now when not given).
    """
    fitted = pd.Timestamp.now(tz="UTC") if fitted_at is None else pd.Timestamp(fitted_at)
    if fitted.tzinfo is None:
        fitted = fitted.tz_localize("UTC")
    records = []
    for model, fit, unit in (("bgnbd", bgnbd, "week"), ("gamma_gamma", gamma_gamma, None)):
        if fit is None:
            continue
        for name, value in fit.params.as_dict().items():
            records.append((model, name, float(value), unit, fit.n_customers, float(fit.log_likelihood)))
    frame = pd.DataFrame(records, columns=list(PARAMS_COLUMNS[:6]))
    frame["n_customers"] = frame["n_customers"].astype("int64")
    frame["as_of_date"] = pd.Series([_as_of(as_of_date)] * len(frame), dtype="datetime64[ns]")
    frame["fitted_at"] = pd.Series([fitted] * len(frame), dtype="datetime64[ns, UTC]")
    return frame


def forecast_customers(summaries: pd.DataFrame, as_of_date, *, min_customers: int = DEFAULT_MIN_CUSTOMERS,
                       min_repeat_customers: int = DEFAULT_MIN_REPEAT_CUSTOMERS,
                       next_order_rule: NextOrderRule = "median", next_order_horizon_days: int = HORIZON_DAYS,
                       fitted_at=None) -> ForecastResult:
    """Fit BG/NBD (all customers with orders) and Gamma-Gamma (repeat buyers with a positive spend), then predict.

    Thin data is refused, never faked: fewer than `min_customers` customers with orders or fewer than
    `min_repeat_customers` repeat buyers, or a BG/NBD fit that did not converge or is degenerate, leaves every
    predictive column null (status 'refused'); a Gamma-Gamma problem (too few repeat buyers with a positive
    spend, no convergence, q <= 1) leaves only predicted_clv_365d null (status 'partial').

    expected_next_order_at: with next_order_rule='median' (default), the as-of date plus the time by which the
    customer has bought again with probability 1/2, P(alive) * (1 - ((alpha+T)/(alpha+T+t))^(r+x)) = 0.5,
    solved in closed form; null when that is later than `next_order_horizon_days` or never happens (P(alive)
    <= 0.5: more likely gone than not). With 'expected_one', the time at which the conditional expected number
    of purchases reaches 1 (bisection), null beyond the horizon. Either way it is a threshold date, not a
    promise of an order, and it is rounded up to whole days after the as-of date.
    Input contract violations (negative ages, recency > age, ...) raise ValueError.
    """
    started = time.perf_counter()
    if next_order_rule not in ("median", "expected_one"):
        raise ValueError(f"unknown next_order_rule {next_order_rule!r}")
    timings: dict[str, float] = {}
    as_of = _as_of(as_of_date)
    data = _read_summaries(summaries)
    n, n_repeat = int(data.x.size), data.n_repeat
    corr = frequency_spend_correlation(data.x, data.m)
    refusals: list[Refusal] = []

    def result(status, bgnbd=None, gamma_gamma=None, predictions=None, n_rows=0) -> ForecastResult:
        timings["total"] = time.perf_counter() - started
        return ForecastResult(
            predictions if predictions is not None else _null_predictions(data),
            params_frame(as_of, *(f if f is not None and f.problem is None else None for f in (bgnbd, gamma_gamma)),
                         fitted_at),
            status, tuple(refusals), bgnbd, gamma_gamma,
            n, n_repeat, n_rows, corr, as_of, timings)

    try:
        _check_counts(data, min_customers, min_repeat_customers)
    except InsufficientDataError as exc:
        refusals.append(Refusal("bgnbd", exc.code, exc.reason))
        return result("refused")

    t0 = time.perf_counter()
    rows = collapse_rows(data.x, data.tx, data.T)
    timings["collapse"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    bgnbd = fit_bgnbd(rows.frequency, rows.recency, rows.T, rows.weights)
    timings["fit_bgnbd"] = time.perf_counter() - t0
    if bgnbd.problem:
        refusals.append(Refusal("bgnbd", bgnbd.problem_code, bgnbd.problem))
        return result("refused", bgnbd, n_rows=rows.weights.size)

    t0 = time.perf_counter()
    gamma_gamma: GammaGammaFit | None = None
    spenders = data.spend_ok
    if spenders.sum() < min_repeat_customers:
        refusals.append(Refusal(
            "gamma_gamma", "too_few_repeat_customers",
            f"{int(spenders.sum())} repeat buyers with a positive monetary_value, fewer than the minimum of "
            f"{min_repeat_customers}"))
    else:
        gamma_gamma = fit_gamma_gamma(data.x[spenders], data.m[spenders])
        if gamma_gamma.problem:
            refusals.append(Refusal("gamma_gamma", gamma_gamma.problem_code, gamma_gamma.problem))
    timings["fit_gamma_gamma"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    usable_gg = gamma_gamma if gamma_gamma is not None and gamma_gamma.problem is None else None
    predictions = _predict(data, rows, as_of, bgnbd.params, usable_gg.params if usable_gg else None,
                           next_order_rule, next_order_horizon_days)
    timings["predict"] = time.perf_counter() - t0
    return result("ok" if usable_gg is not None else "partial", bgnbd, gamma_gamma, predictions,
                  rows.weights.size)
