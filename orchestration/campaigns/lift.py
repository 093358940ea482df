"""Campaign lift statistics: how sure a marketer can be of each segment's lift.

dbt keeps the counts and revenue moments per segment (marts.campaign_lift, portable SQL); this module turns
them into intervals, p-values, the minimum detectable lift and a verdict, vectorised over that small table
(one row per segment). Every figure follows the definition statsmodels implements, and the tests compare
them with statsmodels to 1e-9:

- conversion lift p1 - p0: Newcombe's hybrid score interval (method 10 of Newcombe 1998: Wilson intervals of
  each rate combined), `confint_proportions_2indep(method="newcomb")`; two-sided p-value of the pooled
  two-proportion z-test, `proportions_ztest` (Pearson's chi-square without continuity correction);
- relative lift p1 / p0 - 1: the log interval of the rate ratio with 1/2 added to every count
  (`compare="ratio", method="log-adjusted"`), minus 1;
- revenue per member: Welch's t interval and test from each arm's n, sum and sum of squares
  (`ttest_ind(usevar="unequal")`, `CompareMeans.tconfint_diff(usevar="unequal")`);
- minimum detectable lift: the standardised effect `NormalIndPower().solve_power` finds for a two-sided
  5% test with 80% power, read as Cohen's h above the holdout rate and turned back into rate points.

Undefined figures (an empty arm, no spread to test) are NaN, stored as null.
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np
import pandas as pd
from scipy import optimize, stats

ALPHA = 0.05
POWER = 0.80
DEFAULT_MIN_MEMBERS = 100
VERDICTS = ("significant", "not significant", "too few members")

# What the statistics need from marts.campaign_lift.
INPUT_COLUMNS = ("segment_name", "treated_members", "treated_converted", "holdout_members", "holdout_converted",
                 "treated_revenue", "treated_revenue_sum_squares", "holdout_revenue", "holdout_revenue_sum_squares",
                 "as_of_date")

# marts.campaign_lift_stats, in order, with their SQL types.
OUTPUT_COLUMNS = {
    "segment_name": "varchar",
    "verdict": "varchar",
    "treated_members": "bigint",
    "holdout_members": "bigint",
    "treated_conversion_rate": "double",
    "holdout_conversion_rate": "double",
    "conversion_lift": "double",
    "conversion_lift_low": "double",
    "conversion_lift_high": "double",
    "conversion_p_value": "double",
    "relative_lift": "double",
    "relative_lift_low": "double",
    "relative_lift_high": "double",
    "incremental_conversions": "double",
    "incremental_conversions_low": "double",
    "incremental_conversions_high": "double",
    "treated_revenue_per_member": "double",
    "holdout_revenue_per_member": "double",
    "revenue_lift_per_member": "double",
    "revenue_lift_low": "double",
    "revenue_lift_high": "double",
    "revenue_p_value": "double",
    "incremental_revenue": "double",
    "incremental_revenue_low": "double",
    "incremental_revenue_high": "double",
    "minimum_detectable_lift": "double",
    "min_members_per_arm": "bigint",
    "as_of_date": "date",
}


def _array(values) -> np.ndarray:
    return np.asarray(values, dtype=float)


def _rate(count: np.ndarray, nobs: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(nobs > 0, count / np.where(nobs > 0, nobs, 1), np.nan)


def wilson_interval(count, nobs, alpha: float = ALPHA) -> tuple[np.ndarray, np.ndarray]:
    """Wilson's score interval of a proportion count / nobs (NaN for nobs 0)."""
    count, nobs = _array(count), _array(nobs)
    q = _rate(count, nobs)
    crit = stats.norm.isf(alpha / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        denom = 1 + crit**2 / nobs
        center = (q + crit**2 / (2 * nobs)) / denom
        dist = crit * np.sqrt(q * (1 - q) / nobs + crit**2 / (4 * nobs**2)) / denom
    return np.clip(center - dist, 0, 1), np.clip(center + dist, 0, 1)


def newcombe_interval(count1, nobs1, count0, nobs0, alpha: float = ALPHA) -> tuple[np.ndarray, np.ndarray]:
    """Newcombe's hybrid score interval of p1 - p0, from the Wilson interval of each proportion."""
    p1, p0 = _rate(_array(count1), _array(nobs1)), _rate(_array(count0), _array(nobs0))
    low1, high1 = wilson_interval(count1, nobs1, alpha)
    low0, high0 = wilson_interval(count0, nobs0, alpha)
    diff = p1 - p0
    return (diff - np.sqrt((p1 - low1) ** 2 + (high0 - p0) ** 2),
            diff + np.sqrt((p0 - low0) ** 2 + (high1 - p1) ** 2))


def pooled_z_test(count1, nobs1, count0, nobs0) -> tuple[np.ndarray, np.ndarray]:
    """(z, two-sided p) of the two-proportion z-test with pooled variance; NaN when an arm is empty or the
    pooled rate is 0 or 1 (nothing to test)."""
    count1, nobs1, count0, nobs0 = map(_array, (count1, nobs1, count0, nobs0))
    diff = _rate(count1, nobs1) - _rate(count0, nobs0)
    with np.errstate(divide="ignore", invalid="ignore"):
        pooled = (count1 + count0) / (nobs1 + nobs0)
        std = np.sqrt(pooled * (1 - pooled) * (1 / nobs1 + 1 / nobs0))
        z = np.where(std > 0, diff / np.where(std > 0, std, 1), np.nan)
    return z, 2 * stats.norm.sf(np.abs(z))


def ratio_interval(count1, nobs1, count0, nobs0, alpha: float = ALPHA) -> tuple[np.ndarray, np.ndarray]:
    """Interval of the rate ratio p1 / p0 on the log scale, 1/2 added to each count and size (defined with no
    conversion in an arm; NaN for an empty arm)."""
    count1, nobs1, count0, nobs0 = map(_array, (count1, nobs1, count0, nobs0))
    crit = stats.norm.isf(alpha / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        c1, n1, c0, n0 = count1 + 0.5, nobs1 + 0.5, count0 + 0.5, nobs0 + 0.5
        log_ratio = np.log((c1 / n1) / (c0 / n0))
        half = crit * np.sqrt(1 / c1 - 1 / n1 + 1 / c0 - 1 / n0)
    empty = (nobs1 <= 0) | (nobs0 <= 0)
    return np.where(empty, np.nan, np.exp(log_ratio - half)), np.where(empty, np.nan, np.exp(log_ratio + half))


def mean_and_variance(total, total_squares, nobs) -> tuple[np.ndarray, np.ndarray]:
    """Mean and sample variance (ddof 1) from n, the sum and the sum of squares; NaN where undefined."""
    total, total_squares, nobs = map(_array, (total, total_squares, nobs))
    mean = _rate(total, nobs)
    with np.errstate(divide="ignore", invalid="ignore"):
        variance = np.where(nobs > 1, (total_squares - total * mean) / (nobs - 1), np.nan)
    # Rounding can leave a constant sample a tiny negative sum of squared deviations.
    return mean, np.where(variance < 0, 0.0, variance)


def welch_test(mean1, var1, nobs1, mean0, var0, nobs0, alpha: float = ALPHA) -> dict[str, np.ndarray]:
    """Welch's test of mean1 - mean0 (unequal variances): difference, its interval, t, degrees of freedom
    (Welch-Satterthwaite) and the two-sided p-value. NaN with fewer than 2 in an arm or no spread at all."""
    mean1, var1, nobs1, mean0, var0, nobs0 = map(_array, (mean1, var1, nobs1, mean0, var0, nobs0))
    diff = mean1 - mean0
    with np.errstate(divide="ignore", invalid="ignore"):
        v1, v0 = var1 / nobs1, var0 / nobs0
        se = np.sqrt(v1 + v0)
        ok = (nobs1 > 1) & (nobs0 > 1) & (se > 0)
        df = np.where(ok, (v1 + v0) ** 2 / (v1**2 / (nobs1 - 1) + v0**2 / (nobs0 - 1)), np.nan)
        t = np.where(ok, diff / np.where(ok, se, 1), np.nan)
        half = stats.t.isf(alpha / 2, df) * se
    return {"diff": diff, "low": diff - half, "high": diff + half, "t": t, "df": df,
            "p_value": 2 * stats.t.sf(np.abs(t), df)}


@cache
def _power_multiplier(alpha: float, power: float) -> float:
    """x with Phi(x - c) + Phi(-x - c) = power, c = z_(1 - alpha/2): the standardised effect times sqrt(n) a
    two-sided z-test detects with that power (both tails counted, as statsmodels does)."""
    crit = stats.norm.isf(alpha / 2)

    def shortfall(x: float) -> float:
        return stats.norm.sf(crit - x) + stats.norm.cdf(-crit - x) - power

    return optimize.brentq(shortfall, 0.0, 40.0, xtol=1e-15, rtol=4 * np.finfo(float).eps, maxiter=500)


def detectable_effect_size(nobs1, nobs0, alpha: float = ALPHA, power: float = POWER) -> np.ndarray:
    """The smallest standardised effect a two-sided z-test of two independent samples detects with `power`
    (NormalIndPower's effect_size for nobs1, ratio nobs0 / nobs1); NaN when an arm is empty."""
    nobs1, nobs0 = _array(nobs1), _array(nobs0)
    with np.errstate(divide="ignore", invalid="ignore"):
        effective = np.where((nobs1 > 0) & (nobs0 > 0), 1 / (1 / nobs1 + 1 / nobs0), np.nan)
    return _power_multiplier(alpha, power) / np.sqrt(effective)


def minimum_detectable_lift(nobs1, nobs0, baseline, alpha: float = ALPHA, power: float = POWER) -> np.ndarray:
    """The smallest rise of a conversion rate above `baseline` (the holdout's rate) detectable at these sizes:
    the detectable effect read as Cohen's h = 2 asin(sqrt(p1)) - 2 asin(sqrt(p0)), solved for p1 - p0. NaN
    when an arm is empty or not even a rate of 100% would be detected."""
    h = detectable_effect_size(nobs1, nobs0, alpha, power)
    baseline = _array(baseline)
    angle = np.arcsin(np.sqrt(np.clip(baseline, 0, 1))) + h / 2
    with np.errstate(invalid="ignore"):
        return np.where(angle <= math.pi / 2, np.sin(np.minimum(angle, math.pi / 2)) ** 2 - baseline, np.nan)


def verdicts(p_value, nobs1, nobs0, min_members: int, alpha: float = ALPHA) -> np.ndarray:
    """'too few members' when an arm is below `min_members`, else 'significant' for p < alpha, else
    'not significant' (also when there is nothing to test: nobody or everybody converted)."""
    p_value, nobs1, nobs0 = map(_array, (p_value, nobs1, nobs0))
    return np.where(np.minimum(nobs1, nobs0) < min_members, VERDICTS[2],
                    np.where(p_value < alpha, VERDICTS[0], VERDICTS[1]))


def lift_statistics(lift: pd.DataFrame, min_members: int = DEFAULT_MIN_MEMBERS) -> pd.DataFrame:
    """marts.campaign_lift_stats from the rows of marts.campaign_lift (INPUT_COLUMNS): one row each, the
    columns of OUTPUT_COLUMNS."""
    if min_members < 1:
        raise ValueError(f"the minimum of members per arm must be at least 1, got {min_members}")
    n1 = lift["treated_members"].fillna(0).to_numpy(float)
    x1 = lift["treated_converted"].fillna(0).to_numpy(float)
    n0 = lift["holdout_members"].fillna(0).to_numpy(float)
    x0 = lift["holdout_converted"].fillna(0).to_numpy(float)
    p1, p0 = _rate(x1, n1), _rate(x0, n0)
    low, high = newcombe_interval(x1, n1, x0, n0)
    _, p_value = pooled_z_test(x1, n1, x0, n0)
    ratio_low, ratio_high = ratio_interval(x1, n1, x0, n0)
    with np.errstate(divide="ignore", invalid="ignore"):
        relative = np.where(p0 > 0, p1 / np.where(p0 > 0, p0, 1) - 1, np.nan)
    moments = {c: lift[c].fillna(0).to_numpy(float) for c in INPUT_COLUMNS if "revenue" in c}
    mean1, var1 = mean_and_variance(moments["treated_revenue"], moments["treated_revenue_sum_squares"], n1)
    mean0, var0 = mean_and_variance(moments["holdout_revenue"], moments["holdout_revenue_sum_squares"], n0)
    welch = welch_test(mean1, var1, n1, mean0, var0, n0)
    out = pd.DataFrame({
        "segment_name": lift["segment_name"].astype(str).to_numpy(),
        "verdict": verdicts(p_value, n1, n0, min_members),
        "treated_members": n1.astype("int64"),
        "holdout_members": n0.astype("int64"),
        "treated_conversion_rate": p1,
        "holdout_conversion_rate": p0,
        "conversion_lift": p1 - p0,
        "conversion_lift_low": low,
        "conversion_lift_high": high,
        "conversion_p_value": p_value,
        "relative_lift": relative,
        "relative_lift_low": ratio_low - 1,
        "relative_lift_high": ratio_high - 1,
        "incremental_conversions": (p1 - p0) * n1,
        "incremental_conversions_low": low * n1,
        "incremental_conversions_high": high * n1,
        "treated_revenue_per_member": mean1,
        "holdout_revenue_per_member": mean0,
        "revenue_lift_per_member": welch["diff"],
        "revenue_lift_low": welch["low"],
        "revenue_lift_high": welch["high"],
        "revenue_p_value": welch["p_value"],
        "incremental_revenue": welch["diff"] * n1,
        "incremental_revenue_low": welch["low"] * n1,
        "incremental_revenue_high": welch["high"] * n1,
        "minimum_detectable_lift": minimum_detectable_lift(n1, n0, p0),
        "min_members_per_arm": np.full(len(lift), min_members, dtype="int64"),
        "as_of_date": pd.to_datetime(lift["as_of_date"]).dt.date.to_numpy() if len(lift) else [],
    })
    return out[list(OUTPUT_COLUMNS)]
