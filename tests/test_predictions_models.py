"""BG/NBD, Gamma-Gamma, forecast and diagnostics: published CDNOW fits, closed forms, simulation, refusals."""

from __future__ import annotations

import importlib.metadata
import math

import numpy as np
import pandas as pd
import pytest
from scipy.integrate import quad
from scipy.optimize import approx_fprime
from scipy.special import betaln

from orchestration.predictions import (
    PARAMS_COLUMNS,
    PREDICTION_COLUMNS,
    BgNbdFit,
    BgNbdParams,
    GammaGammaFit,
    GammaGammaParams,
    InsufficientDataError,
    bgnbd_individual_log_likelihood,
    bgnbd_log_likelihood,
    calibration_holdout_table,
    check_data_sufficiency,
    collapse_rows,
    conditional_expected_purchases,
    conditional_expected_spend,
    expected_cumulative_repeat_purchases,
    expected_purchases,
    fit_bgnbd,
    fit_gamma_gamma,
    forecast_customers,
    gamma_gamma_log_likelihood,
    params_markdown,
    plot_calibration_holdout,
    predict_customers,
    prob_alive,
    prob_purchase_within,
    simulate_customers,
    time_to_expected_purchases,
)
from orchestration.predictions import bgnbd as bgnbd_module
from orchestration.predictions import gamma_gamma as gamma_gamma_module

PUBLISHED_BGNBD = BgNbdParams(r=0.243, alpha=4.414, a=0.793, b=2.426)  # FHL 2005, LL = -9582.4
PUBLISHED_GG = GammaGammaParams(p=6.25, q=3.74, gamma=15.44)  # Fader & Hardie 2013 note
CALIBRATION_END = pd.Timestamp("1997-09-30")
HOLDOUT_END = pd.Timestamp("1998-06-30")
AS_OF = pd.Timestamp("2024-06-30")


# ---------------------------------------------------------------- CDNOW sample


def _cdnow_path():
    files = importlib.metadata.files("lifetimes") or []
    found = [f.locate() for f in files if str(f).endswith("datasets/CDNOW_sample.txt")]
    assert found, "lifetimes' CDNOW_sample.txt is missing (pip install lifetimes==0.11.3)"
    return found[0]


@pytest.fixture(scope="module")
def cdnow() -> pd.DataFrame:
    """Calibration summary (to 1997-09-30) of the CDNOW sample, purchases counted per distinct day, plus holdout.

    File columns: customer id (master file), customer id (1..2357 in the sample), yyyymmdd, CDs, dollars.
    """
    raw = pd.read_csv(_cdnow_path(), sep=r"\s+", header=None, names=["master_id", "customer", "date", "cds", "value"],
                      dtype={"master_id": str, "date": str})
    raw["date"] = pd.to_datetime(raw["date"], format="%Y%m%d")
    days = raw.groupby(["customer", "date"], as_index=False)["value"].sum()
    first = days.groupby("customer")["date"].transform("min")
    days["weeks"] = (days["date"] - first).dt.days / 7
    days["repeat"] = days["date"] > first
    cal = days[days["date"] <= CALIBRATION_END]
    g = cal.groupby("customer")
    out = pd.DataFrame({
        "frequency": g.size() - 1,
        "recency_weeks": g["weeks"].max(),
        "age_weeks": (CALIBRATION_END - g["date"].min()).dt.days / 7,
        "first_purchase_week": (g["date"].min() - pd.Timestamp("1997-01-01")).dt.days / 7,
        "monetary_value": cal[cal["repeat"]].groupby("customer")["value"].mean(),
        "monetary_all_purchases": g["value"].mean(),
    })
    holdout = days[(days["date"] > CALIBRATION_END) & (days["date"] <= HOLDOUT_END)]
    out["holdout_frequency"] = holdout.groupby("customer").size().reindex(out.index, fill_value=0)
    out["repeat_days_total"] = days[days["repeat"]].groupby("customer").size().reindex(out.index, fill_value=0)
    out.index.name = "customer_key"
    return out.reset_index()


def test_cdnow_summary_is_the_published_one(cdnow):
    assert len(cdnow) == 2357
    assert cdnow["first_purchase_week"].max() < 13  # everybody's first purchase is in Q1 1997
    assert int(cdnow["frequency"].sum()) == 2457  # repeat purchase days in the 39-week calibration period
    first = cdnow[cdnow["customer_key"] == 1].iloc[0]
    assert (first["frequency"], round(first["recency_weeks"], 2), round(first["age_weeks"], 2)) == (2, 30.43, 38.86)
    assert int((cdnow["frequency"] > 0).sum()) == 946


def test_cdnow_bgnbd_fit_matches_published(cdnow):
    fit = fit_bgnbd(cdnow["frequency"], cdnow["recency_weeks"], cdnow["age_weeks"])
    assert fit.problem is None and fit.converged
    for name, published in PUBLISHED_BGNBD.as_dict().items():
        assert getattr(fit.params, name) == pytest.approx(published, rel=0.01), name
    assert fit.log_likelihood == pytest.approx(-9582.4, abs=0.1)
    assert fit.n_customers == 2357


def test_cdnow_bgnbd_fit_on_collapsed_rows_is_the_same(cdnow):
    rows = collapse_rows(cdnow["frequency"], cdnow["recency_weeks"], cdnow["age_weeks"])
    assert rows.weights.size < 1100 and rows.weights.sum() == 2357
    full = fit_bgnbd(cdnow["frequency"], cdnow["recency_weeks"], cdnow["age_weeks"])
    collapsed = fit_bgnbd(rows.frequency, rows.recency, rows.T, rows.weights)
    for name in ("r", "alpha", "a", "b"):
        assert getattr(collapsed.params, name) == pytest.approx(getattr(full.params, name), rel=1e-6)
    assert collapsed.log_likelihood == pytest.approx(full.log_likelihood, rel=1e-10)


def test_cdnow_conditional_expectation_published_value(cdnow):
    # FHL 2005: a customer with x = 2, t_x = 30.43, T = 38.86 is expected to make 1.226 purchases in 39 weeks.
    assert conditional_expected_purchases(PUBLISHED_BGNBD, 39, 2, 30.43, 38.86) == pytest.approx(1.226, abs=1e-3)
    fit = fit_bgnbd(cdnow["frequency"], cdnow["recency_weeks"], cdnow["age_weeks"])
    assert conditional_expected_purchases(fit, 39, 2, 30.43, 38.86) == pytest.approx(1.226, abs=1e-3)


def test_cdnow_gamma_gamma_fit_matches_published(cdnow):
    repeat = cdnow[cdnow["frequency"] > 0]
    fit = fit_gamma_gamma(repeat["frequency"], repeat["monetary_value"])
    assert fit.problem is None
    for name, published in PUBLISHED_GG.as_dict().items():
        assert getattr(fit.params, name) == pytest.approx(published, rel=0.01), name
    # The published fit uses the mean of the repeat purchases; the mean over all purchases gives another model.
    other = fit_gamma_gamma(repeat["frequency"], repeat["monetary_all_purchases"])
    assert other.params.p == pytest.approx(14.3, rel=0.02)


def test_cdnow_calibration_holdout_table_and_plot(cdnow, tmp_path):
    fit = fit_bgnbd(cdnow["frequency"], cdnow["recency_weeks"], cdnow["age_weeks"])
    holdout_weeks = (HOLDOUT_END - CALIBRATION_END).days / 7
    table = calibration_holdout_table(cdnow, fit, holdout_weeks)
    assert table["label"].tolist() == ["0", "1", "2", "3", "4", "5", "6", "7+"]
    assert table["n_customers"].sum() == 2357
    assert table.loc[0, "n_customers"] == 2357 - 946
    assert np.all(np.diff(table["predicted_holdout_mean"]) > 0)
    assert table.loc[0, "predicted_holdout_mean"] == pytest.approx(table.loc[0, "actual_holdout_mean"], abs=0.02)
    predicted = (table["n_customers"] * table["predicted_holdout_mean"]).sum()
    actual = (table["n_customers"] * table["actual_holdout_mean"]).sum()
    assert actual == cdnow["holdout_frequency"].sum()
    assert predicted == pytest.approx(actual, rel=0.2)
    png = plot_calibration_holdout(table, tmp_path / "figs" / "calibration.png", holdout_weeks=holdout_weeks)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


def test_cdnow_tracking_curve(cdnow):
    fit = fit_bgnbd(cdnow["frequency"], cdnow["recency_weeks"], cdnow["age_weeks"])
    starts = cdnow["first_purchase_week"].to_numpy()
    weeks = np.array([5.0, CALIBRATION_END.dayofyear / 7, 78.0])
    curve = expected_cumulative_repeat_purchases(fit, starts, weeks)
    by_hand = [sum(float(expected_purchases(fit, w - s)) for s in starts if s < w) for w in weeks]
    np.testing.assert_allclose(curve, by_hand, rtol=1e-10)
    # The fit reproduces the calibration total (2,457 repeat purchase days) and the 78-week total within a few %.
    assert curve[1] == pytest.approx(2457, rel=0.03)
    assert curve[2] == pytest.approx(cdnow["repeat_days_total"].sum(), rel=0.06)


def test_cdnow_forecast_end_to_end(cdnow):
    result = forecast_customers(cdnow, CALIBRATION_END.date(), fitted_at="2024-01-01T00:00:00Z")
    assert result.status == "ok" and result.ok and result.reason is None
    assert result.n_customers == 2357 and result.n_repeat_customers == 946
    params = result.params.set_index(["model", "parameter"])["value"]
    assert params["bgnbd", "r"] == pytest.approx(0.243, rel=0.01)
    assert params["gamma_gamma", "q"] == pytest.approx(3.74, rel=0.01)
    assert list(result.params.columns) == list(PARAMS_COLUMNS)
    assert set(result.params["time_unit"].dropna()) == {"week"}
    assert (result.params["as_of_date"] == pd.Timestamp("1997-09-30")).all()
    assert (result.params["fitted_at"] == pd.Timestamp("2024-01-01", tz="UTC")).all()
    pred = result.predictions
    assert pred["customer_key"].tolist() == cdnow["customer_key"].tolist()
    one = pred[pred["customer_key"] == 1].iloc[0]
    assert one["predicted_orders_365d"] == pytest.approx(
        float(conditional_expected_purchases(result.bgnbd, 365 / 7, 2, 30 + 3 / 7, 38 + 6 / 7)), rel=1e-12)
    meta = result.metadata()
    assert meta["status"] == "ok" and meta["fits"]["bgnbd"]["n_customers"] == 2357
    markdown = params_markdown(result)
    assert "**Status:** ok" in markdown and "| bgnbd | alpha |" in markdown and "| gamma_gamma | gamma |" in markdown


# ---------------------------------------------------------------- likelihoods by hand


def _beta(a, b):
    return math.gamma(a) * math.gamma(b) / math.gamma(a + b)


@pytest.mark.parametrize("T", [0.0, 1.5, 38.86, 120.0])
def test_bgnbd_likelihood_of_a_one_time_buyer(T):
    r, alpha, a, b = 0.7, 3.2, 1.3, 2.9
    expected = (alpha / (alpha + T)) ** r
    assert bgnbd_log_likelihood((r, alpha, a, b), [0], [0], [T]) == pytest.approx(math.log(expected), rel=1e-12)


@pytest.mark.parametrize(("x", "t_x", "T"), [(1, 2.0, 10.0), (3, 20.0, 30.0), (7, 5.5, 52.0)])
def test_bgnbd_likelihood_of_a_repeat_buyer(x, t_x, T):
    r, alpha, a, b = 0.9, 4.0, 0.8, 2.5
    common = math.gamma(r + x) * alpha**r / math.gamma(r)
    alive = _beta(a, b + x) / _beta(a, b) * common / (alpha + T) ** (r + x)
    dropped = _beta(a + 1, b + x - 1) / _beta(a, b) * common / (alpha + t_x) ** (r + x)
    expected = math.log(alive + dropped)
    assert bgnbd_log_likelihood((r, alpha, a, b), [x], [t_x], [T]) == pytest.approx(expected, rel=1e-12)
    individual = bgnbd_individual_log_likelihood((r, alpha, a, b), [x, 0], [t_x, 0], [T, T])
    assert individual[0] == pytest.approx(expected, rel=1e-12)


def test_gamma_gamma_likelihood_by_hand():
    p, q, gamma = 6.0, 3.5, 15.0
    x, m = 3, 42.0
    density = (math.gamma(p * x + q) / (math.gamma(p * x) * math.gamma(q)) * gamma**q * m ** (p * x - 1)
               * x ** (p * x) / (gamma + m * x) ** (p * x + q))
    assert gamma_gamma_log_likelihood((p, q, gamma), [x], [m]) == pytest.approx(math.log(density), rel=1e-12)
    # E[M | x, m_x] is a weighted mean of the population mean p*gamma/(q-1) and the customer's own mean.
    weight = p * x / (p * x + q - 1)
    assert conditional_expected_spend((p, q, gamma), [x], [m])[0] == pytest.approx(
        weight * m + (1 - weight) * p * gamma / (q - 1), rel=1e-12)
    assert conditional_expected_spend((p, q, gamma), [0], [np.nan])[0] == pytest.approx(p * gamma / (q - 1))


def test_weights_equal_expanded_rows():
    rng = np.random.default_rng(3)
    sim = simulate_customers(PUBLISHED_BGNBD, rng.integers(0, 100, 4000) / 7, rng, gamma_gamma=PUBLISHED_GG)
    x, tx, T = sim["frequency"], sim["recency_weeks"], sim["age_weeks"]
    rows = collapse_rows(x, tx, T)
    assert rows.weights.size < len(sim)
    np.testing.assert_array_equal(rows.frequency[rows.inverse], x)
    np.testing.assert_array_equal(rows.T[rows.inverse], T)
    np.testing.assert_array_equal(rows.recency[rows.inverse], np.where(x > 0, tx, 0))
    params = (0.5, 3.0, 0.9, 2.0)
    assert bgnbd_log_likelihood(params, rows.frequency, rows.recency, rows.T, rows.weights) == pytest.approx(
        bgnbd_log_likelihood(params, x, tx, T), rel=1e-12)
    rep = sim[sim["frequency"] > 0].head(50)
    doubled = gamma_gamma_log_likelihood((2.0, 3.0, 10.0), rep["frequency"], rep["monetary_value"],
                                         np.full(len(rep), 2.0))
    assert doubled == pytest.approx(2 * gamma_gamma_log_likelihood((2.0, 3.0, 10.0), rep["frequency"],
                                                                   rep["monetary_value"]), rel=1e-12)


def test_analytic_gradients_match_finite_differences():
    rng = np.random.default_rng(11)
    sim = simulate_customers(PUBLISHED_BGNBD, rng.uniform(0, 60, 3000), rng, gamma_gamma=PUBLISHED_GG)
    data = bgnbd_module._Data(sim["frequency"], sim["recency_weeks"], sim["age_weeks"], None)
    theta = np.log([0.4, 5.0, 0.9, 2.0])
    np.testing.assert_allclose(data.objective(theta)[1],
                               approx_fprime(theta, lambda th: data.objective(th)[0], 1e-7), atol=1e-5)
    rep = sim[sim["frequency"] > 0]
    gg = gamma_gamma_module._Data(rep["frequency"], rep["monetary_value"] / 30, None)
    theta = np.log([4.0, 3.0, 0.5])
    np.testing.assert_allclose(gg.objective(theta)[1],
                               approx_fprime(theta, lambda th: gg.objective(th)[0], 1e-7), atol=1e-5)


# ---------------------------------------------------------------- P(alive) and E[X(t)]


def test_prob_alive_closed_form_and_monotone():
    p = PUBLISHED_BGNBD
    np.testing.assert_array_equal(prob_alive(p, [0, 0], [0, 0], [0.0, 80.0]), [1.0, 1.0])
    x, tx, T = 4, 20.0, 38.0
    odds = math.exp(betaln(p.a + 1, p.b + x - 1) - betaln(p.a, p.b + x)) * ((p.alpha + T) / (p.alpha + tx)) ** (
        p.r + x)
    assert prob_alive(p, x, tx, T) == pytest.approx(1 / (1 + odds), rel=1e-12)
    # More recent last purchase -> more likely alive; older customer with the same history -> less likely.
    assert np.all(np.diff(prob_alive(p, 4, np.linspace(1, 38, 20), 38.0)) > 0)
    assert np.all(np.diff(prob_alive(p, 4, 10.0, np.linspace(10, 80, 20))) < 0)
    values = prob_alive(p, np.arange(1, 200), 50.0, 60.0)
    assert np.all((values > 0) & (values < 1))


def test_expected_purchases_monotone():
    p = PUBLISHED_BGNBD
    horizon = np.linspace(0, 200, 41)
    conditional = conditional_expected_purchases(p, horizon, 3, 25.0, 30.0)
    assert conditional[0] == 0 and np.all(np.diff(conditional) > 0)
    assert np.all(np.diff(expected_purchases(p, horizon)) > 0)
    # Customers who just bought: more past purchases -> more expected purchases.
    assert np.all(np.diff(conditional_expected_purchases(p, 52, np.arange(0, 40), 30.0, 30.0)) > 0)


def _alive_expectation_by_quad(p: BgNbdParams, x, T, t) -> float:
    """E[X(t) | alive at T] as an adaptive 1-D integral over the Beta(a, b + x) posterior of the dropout p."""
    s, shape = t / (p.alpha + T), p.r + x
    log_norm = betaln(p.a, p.b + x)

    def integrand(prob):
        density = np.exp((p.a - 1) * np.log(prob) + (p.b + x - 1) * np.log1p(-prob) - log_norm)
        return -np.expm1(-shape * np.log1p(prob * s)) / prob * density

    value, _ = quad(integrand, 0, 1, limit=500, epsabs=0, epsrel=1e-12, points=[min(0.5, p.a / (p.a + p.b + x))])
    return value


CASES = [(x, T, t) for x in (0, 1, 5, 30, 300, 2000) for T in (0.5, 10.0, 40.0, 300.0) for t in (1.0, 52.14, 104.3)
         if x <= 7 * T]  # at most one purchase day a day


@pytest.mark.parametrize("params", [PUBLISHED_BGNBD, BgNbdParams(0.5, 10, 1.5, 5), BgNbdParams(1, 5, 1.0, 3),
                                    BgNbdParams(2, 50, 3, 10)], ids=["cdnow", "a>1", "a=1", "large"])
def test_conditional_expectation_against_quadrature(params):
    x = np.array([c[0] for c in CASES], dtype=float)
    T = np.array([c[1] for c in CASES])
    t = np.array([c[2] for c in CASES])
    recency = T * 0.6
    got = conditional_expected_purchases(params, t, x, recency, T)
    alive = prob_alive(params, x, recency, T)
    want = np.array([_alive_expectation_by_quad(params, *c) for c in CASES]) * alive
    np.testing.assert_allclose(got, want, rtol=1e-7)


def test_hypergeometric_edge_cases_fall_back():
    # scipy's hyp2f1 returns nan for both forms of eq. 10 here (large x, z near 1); the answer must still be right.
    p, x, T, t = BgNbdParams(0.5, 10, 1.5, 5), 300.0, 0.5, 104.3
    # Whatever this scipy returns for the two hypergeometric forms there, the answer must match the quadrature.
    got = conditional_expected_purchases(p, t, x, T, T)
    assert got == pytest.approx(_alive_expectation_by_quad(p, x, T, t) * prob_alive(p, x, T, T), rel=1e-7)


def test_quadrature_fallback_directly():
    for params in (PUBLISHED_BGNBD, BgNbdParams(0.5, 10, 1.5, 5), BgNbdParams(1, 5, 1.0, 3)):
        x = np.array([c[0] for c in CASES], dtype=float)
        T = np.array([c[1] for c in CASES])
        t = np.array([c[2] for c in CASES])
        got = bgnbd_module._alive_expectation_quadrature(params, t, x, T)
        want = [_alive_expectation_by_quad(params, *c) for c in CASES]
        np.testing.assert_allclose(got, want, rtol=1e-6)


# ---------------------------------------------------------------- simulation


def test_unconditional_expectation_matches_simulation():
    rng = np.random.default_rng(2024)
    n, weeks = 400_000, 52.0
    sim = simulate_customers(PUBLISHED_BGNBD, np.full(n, weeks), rng)
    x = sim["frequency"].to_numpy()
    assert x.mean() == pytest.approx(float(expected_purchases(PUBLISHED_BGNBD, weeks)), abs=4 * x.std() / n**0.5)
    any_purchase = (x > 0).mean()
    want = float(prob_purchase_within(PUBLISHED_BGNBD, weeks, 0, 0, 0))
    assert any_purchase == pytest.approx(want, abs=4 * (want * (1 - want) / n) ** 0.5)


def test_conditional_expectation_matches_simulated_holdout():
    rng = np.random.default_rng(7)
    n, holdout = 300_000, 39.0
    sim = simulate_customers(PUBLISHED_BGNBD, rng.uniform(0, 104, n), rng, holdout_weeks=holdout,
                             day_resolution=False)
    table = calibration_holdout_table(sim, PUBLISHED_BGNBD, holdout)
    spread = sim.assign(bin=np.minimum(sim["frequency"], 7)).groupby("bin")["holdout_frequency"].std()
    se = spread.to_numpy() / np.sqrt(table["n_customers"].to_numpy())
    assert np.all(np.abs(table["predicted_holdout_mean"] - table["actual_holdout_mean"]) < 4 * se)


def test_fits_recover_simulated_parameters():
    rng = np.random.default_rng(5)
    truth_gg = GammaGammaParams(3.0, 5.0, 40.0)
    sim = simulate_customers(PUBLISHED_BGNBD, rng.integers(0, 729, 60_000) / 7, rng, gamma_gamma=truth_gg)
    rows = collapse_rows(sim["frequency"], sim["recency_weeks"], sim["age_weeks"])
    fit = fit_bgnbd(rows.frequency, rows.recency, rows.T, rows.weights)
    assert fit.problem is None
    for name, truth in PUBLISHED_BGNBD.as_dict().items():
        assert getattr(fit.params, name) == pytest.approx(truth, rel=0.12), name
    rep = sim[sim["frequency"] > 0]
    gg = fit_gamma_gamma(rep["frequency"], rep["monetary_value"])
    assert gg.problem is None
    # p, q, gamma trade off along a ridge; the population mean spend is pinned down tightly.
    assert gg.params.mean_spend == pytest.approx(truth_gg.mean_spend, rel=0.03)
    assert gg.params.p == pytest.approx(truth_gg.p, rel=0.12)


# ---------------------------------------------------------------- forecast and refusals


def _customers(n: int, seed: int = 1, no_orders: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    sim = simulate_customers(PUBLISHED_BGNBD, rng.integers(0, 729, n) / 7, rng, gamma_gamma=PUBLISHED_GG)
    frame = sim[["frequency", "recency_weeks", "age_weeks", "monetary_value"]].astype(float)
    frame.insert(0, "customer_key", [f"c{i:06d}" for i in range(n)])
    if no_orders:
        none = pd.DataFrame({"customer_key": [f"z{i}" for i in range(no_orders)], "frequency": np.nan,
                             "recency_weeks": np.nan, "age_weeks": np.nan, "monetary_value": np.nan})
        frame = pd.concat([frame, none], ignore_index=True)
    return frame


def test_forecast_columns_and_ranges():
    frame = _customers(3000, no_orders=5)
    result = forecast_customers(frame, AS_OF)
    assert result.status == "ok", result.reason
    pred = result.predictions
    assert list(pred.columns) == list(PREDICTION_COLUMNS)
    assert pred["customer_key"].tolist() == frame["customer_key"].tolist()
    has = frame["frequency"].notna().to_numpy()
    assert pred.loc[~has, list(PREDICTION_COLUMNS[1:])].isna().all().all()
    got = pred[has]
    assert got[list(PREDICTION_COLUMNS[1:5])].notna().all().all()
    assert ((got["p_alive"] >= 0) & (got["p_alive"] <= 1)).all()
    np.testing.assert_allclose(got["churn_probability"], 1 - got["p_alive"])
    assert (got["predicted_orders_365d"] >= 0).all() and (got["predicted_clv_365d"] >= 0).all()
    assert (got.loc[frame.loc[has, "frequency"] == 0, "p_alive"] == 1).all()
    assert pd.api.types.is_datetime64_any_dtype(pred["expected_next_order_at"])
    # One-time buyers: orders x the Gamma-Gamma population mean E[M] = p*gamma/(q-1).
    gg = result.gamma_gamma.params
    once = (frame["frequency"] == 0).to_numpy()
    np.testing.assert_allclose(pred.loc[once, "predicted_clv_365d"],
                               pred.loc[once, "predicted_orders_365d"] * gg.mean_spend, rtol=1e-12)
    # Same parameters, scored separately, give the same predictions.
    again = predict_customers(frame, AS_OF, result.bgnbd, result.gamma_gamma)
    pd.testing.assert_frame_equal(again, pred)


def test_expected_next_order_at_median_rule():
    frame = _customers(3000)
    result = forecast_customers(frame, AS_OF)
    pred, params = result.predictions, result.bgnbd.params
    x, tx, T = frame["frequency"], frame["recency_weeks"], frame["age_weeks"]
    dated = pred["expected_next_order_at"].notna().to_numpy()
    assert 0 < dated.sum() < len(frame)  # both kinds of customer are present
    days = (pred.loc[dated, "expected_next_order_at"] - AS_OF).dt.days.to_numpy()
    assert days.min() >= 1 and days.max() <= 365
    at = prob_purchase_within(params, days / 7, x[dated], tx[dated], T[dated])
    before = prob_purchase_within(params, (days - 1) / 7, x[dated], tx[dated], T[dated])
    assert np.all(at >= 0.5 - 1e-9) and np.all(before < 0.5)
    # No date: P(alive) <= 1/2 (more likely gone than not) or not likely to have bought within 365 days.
    year = prob_purchase_within(params, 365 / 7, x[~dated], tx[~dated], T[~dated])
    assert np.all(year < 0.5 + 1e-9)
    assert pred.loc[pred["p_alive"] <= 0.5, "expected_next_order_at"].isna().all()


def test_expected_next_order_at_expected_one_rule():
    frame = _customers(3000)
    result = forecast_customers(frame, AS_OF, next_order_rule="expected_one", next_order_horizon_days=200)
    pred, params = result.predictions, result.bgnbd.params
    x, tx, T = frame["frequency"], frame["recency_weeks"], frame["age_weeks"]
    dated = pred["expected_next_order_at"].notna().to_numpy()
    assert 0 < dated.sum() < len(frame)
    days = (pred.loc[dated, "expected_next_order_at"] - AS_OF).dt.days.to_numpy()
    assert days.max() <= 200
    assert np.all(conditional_expected_purchases(params, days / 7, x[dated], tx[dated], T[dated]) >= 1 - 1e-9)
    assert np.all(conditional_expected_purchases(params, (days - 1) / 7, x[dated], tx[dated], T[dated]) < 1)
    assert np.all(conditional_expected_purchases(params, 200 / 7, x[~dated], tx[~dated], T[~dated]) < 1)
    weeks = time_to_expected_purchases(params, [30, 0], [50.0, 0.0], [50.0, 100.0], horizon=52.0)
    assert 0 < weeks[0] < 5 and np.isinf(weeks[1])  # a weekly buyer vs a one-time buyer of two years ago


def test_thin_data_is_refused():
    few = _customers(300)
    result = forecast_customers(few, AS_OF)
    assert result.status == "refused" and not result.ok
    assert [(r.model, r.code) for r in result.refusals] == [("bgnbd", "too_few_customers")]
    assert "300 customers" in result.reason
    assert result.predictions[list(PREDICTION_COLUMNS[1:])].isna().all().all()
    assert len(result.predictions) == 300 and result.params.empty
    assert list(result.params.columns) == list(PARAMS_COLUMNS)
    with pytest.raises(InsufficientDataError) as err:
        check_data_sufficiency(few)
    assert err.value.code == "too_few_customers"
    assert "too_few_customers" in str(result.metadata()["refusals"])
    assert "refused `bgnbd` (too_few_customers)" in params_markdown(result)
    # The minimums are parameters.
    assert forecast_customers(few, AS_OF, min_customers=200, min_repeat_customers=50).status == "ok"


def test_too_few_repeat_buyers_is_refused():
    frame = _customers(2000)
    repeaters = frame.index[frame["frequency"] > 0]
    frame.loc[repeaters[40:], ["frequency", "recency_weeks"]] = 0.0
    result = forecast_customers(frame, AS_OF)
    assert result.status == "refused"
    assert result.refusals[0].code == "too_few_repeat_customers"
    with pytest.raises(InsufficientDataError):
        check_data_sufficiency(frame, min_repeat_customers=41)
    check_data_sufficiency(frame, min_repeat_customers=40)


def test_degenerate_fit_is_refused():
    # Clockwork customers: everyone buys every week and nobody drops out; the likelihood has no interior optimum.
    T = np.linspace(10, 50, 1000)
    frame = pd.DataFrame({"customer_key": range(1000), "frequency": np.floor(T), "recency_weeks": np.floor(T),
                          "age_weeks": T, "monetary_value": 10.0})
    result = forecast_customers(frame, AS_OF)
    assert result.status == "refused"
    assert result.refusals[0].code in ("degenerate_fit", "not_converged")
    assert result.bgnbd is not None and result.bgnbd.problem
    assert result.predictions["p_alive"].isna().all()


def test_fit_problem_codes():
    ok = BgNbdFit(PUBLISHED_BGNBD, -1.0, 10, 10, True, False, "", 1)
    assert ok.problem is None and ok.problem_code is None
    not_converged = BgNbdFit(PUBLISHED_BGNBD, -1.0, 10, 10, False, False, "ABNORMAL", 1)
    assert not_converged.problem_code == "not_converged" and "ABNORMAL" in not_converged.problem
    nan = BgNbdFit(BgNbdParams(np.nan, 1, 1, 1), -1.0, 10, 10, True, False, "", 1)
    assert nan.problem_code == "degenerate_fit"
    heavy_tail = GammaGammaFit(GammaGammaParams(2.0, 0.9, 10.0), -1.0, 10, 10, True, False, "", 1)
    assert heavy_tail.problem_code == "degenerate_fit" and "q = 0.9" in heavy_tail.problem


def test_missing_spend_gives_partial_result():
    frame = _customers(2000)
    frame["monetary_value"] = np.nan
    result = forecast_customers(frame, AS_OF)
    assert result.status == "partial"
    assert [(r.model, r.code) for r in result.refusals] == [("gamma_gamma", "too_few_repeat_customers")]
    assert result.predictions["predicted_clv_365d"].isna().all()
    assert result.predictions["predicted_orders_365d"].notna().all()
    assert set(result.params["model"]) == {"bgnbd"}


def test_input_contract_violations_raise():
    frame = _customers(600)
    bad = frame.copy()
    bad.loc[bad.index[bad["frequency"] > 0][0], "recency_weeks"] = 1e6
    with pytest.raises(ValueError, match="recency_weeks exceeds age_weeks"):
        forecast_customers(bad, AS_OF)
    with pytest.raises(ValueError, match="lack columns"):
        forecast_customers(frame.drop(columns="monetary_value"), AS_OF)
    with pytest.raises(ValueError, match="next_order_rule"):
        forecast_customers(frame, AS_OF, next_order_rule="soon")


def test_homogeneous_dropout_is_the_models_limit_not_a_failure():
    # Every customer drops out with the same probability 0.05 after each repeat purchase (Beta variance ~0):
    # a and b run off together. The fit is used, and its predictions equal those of a 10x smaller a and b.
    rng = np.random.default_rng(1)  # a draw whose optimum runs off (others find a nearby interior one)
    truth = BgNbdParams(0.25, 4.0, 5e5, 9.5e6)
    frame = simulate_customers(truth, rng.uniform(10, 60, 20_000), rng)
    frame.insert(0, "customer_key", range(len(frame)))
    frame["monetary_value"] = np.where(frame["frequency"] > 0, 20.0, np.nan)
    fit = fit_bgnbd(frame["frequency"], frame["recency_weeks"], frame["age_weeks"])
    assert fit.out_of_range and fit.homogeneous_dropout and fit.problem is None
    assert fit.params.a / (fit.params.a + fit.params.b) == pytest.approx(0.05, rel=0.15)
    assert "same for every customer" in fit.note
    smaller = BgNbdParams(fit.params.r, fit.params.alpha, fit.params.a / 10, fit.params.b / 10)
    x, tx, T = frame["frequency"], frame["recency_weeks"], frame["age_weeks"]
    np.testing.assert_allclose(conditional_expected_purchases(fit.params, 52, x, tx, T),
                               conditional_expected_purchases(smaller, 52, x, tx, T), rtol=1e-3)
    result = forecast_customers(frame[["customer_key", "frequency", "recency_weeks", "age_weeks", "monetary_value"]],
                                AS_OF)
    assert result.status in ("ok", "partial")
    assert result.predictions["p_alive"].notna().all()


def test_a_and_b_running_off_alone_is_still_refused():
    runaway_a = BgNbdFit(BgNbdParams(0.25, 4.0, 1e6, 0.5), -1.0, 10, 10, True, True, "", 1)
    assert not runaway_a.homogeneous_dropout and runaway_a.problem_code == "degenerate_fit"
    runaway_r = BgNbdFit(BgNbdParams(1e6, 4.0, 1e6, 1e6), -1.0, 10, 10, True, True, "", 1)
    assert runaway_r.problem_code == "degenerate_fit"
