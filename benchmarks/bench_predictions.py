"""Benchmark: BG/NBD + Gamma-Gamma fit and 365-day forecast on customers simulated from known parameters.

    python -m benchmarks.bench_predictions [--customers 1000000] [--seed 42] [--max-age-days 728]

Draws customers from the BG/NBD generative process (ages uniform in whole days, recency floored to days) with
Gamma-Gamma spends, then times `forecast_customers` (collapse to unique rows, both fits, predictions) and,
separately, scoring with the bisection rule for expected_next_order_at. Peak RSS per stage is sampled with
psutil. Prints one table (stage, customers, unique rows, seconds, peak RSS) and recovered vs true parameters.
Not a test: no thresholds here (the goal is under 60 s for 1M customers on 2 cores).
"""

from __future__ import annotations

import argparse
import threading
import time
from contextlib import contextmanager

import numpy as np
import pandas as pd
import psutil

from orchestration.predictions import (
    BgNbdParams,
    GammaGammaParams,
    collapse_rows,
    forecast_customers,
    predict_customers,
    simulate_customers,
)

TRUE_BGNBD = BgNbdParams(r=0.243, alpha=4.414, a=0.793, b=2.426)  # the CDNOW fit (FHL 2005)
TRUE_GG = GammaGammaParams(p=6.25, q=3.74, gamma=15.44)  # the CDNOW spend fit (Fader & Hardie 2013)
AS_OF = pd.Timestamp("2026-10-31")


class PeakRss:
    """Samples this process's RSS in a thread; `peak_mb` is the highest value since the last reset."""

    def __init__(self, interval: float = 0.005):
        self._process = psutil.Process()
        self._interval = interval
        self._peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._peak = max(self._peak, self._process.memory_info().rss)
            time.sleep(self._interval)

    def reset(self) -> None:
        """Start a new stage: the peak restarts from the current RSS."""
        self._peak = self._process.memory_info().rss

    @property
    def peak_mb(self) -> float:
        """Highest RSS seen since the last reset, in MB."""
        return max(self._peak, self._process.memory_info().rss) / 2**20

    def close(self) -> None:
        """Stop sampling."""
        self._stop.set()
        self._thread.join()


@contextmanager
def stage(rows: list, rss: PeakRss, name: str, customers: int, unique_rows: int | str = ""):
    """Time a block and append (name, customers, unique rows, seconds, peak RSS) to `rows`."""
    rss.reset()
    started = time.perf_counter()
    yield
    rows.append((name, customers, unique_rows, time.perf_counter() - started, rss.peak_mb))


def simulate(n: int, seed: int, max_age_days: int) -> pd.DataFrame:
    """Customer summaries in the forecast's input format, drawn from the true parameters."""
    rng = np.random.default_rng(seed)
    age_days = rng.integers(0, max_age_days + 1, n)
    sim = simulate_customers(TRUE_BGNBD, age_days / 7, rng, gamma_gamma=TRUE_GG)
    return pd.DataFrame({"customer_key": np.arange(n, dtype=np.int64), "frequency": sim["frequency"],
                         "recency_weeks": sim["recency_weeks"], "age_weeks": sim["age_weeks"],
                         "monetary_value": sim["monetary_value"]})


def main() -> None:
    """Run the benchmark and print its tables."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--max-age-days", type=int, default=728)
    args = parser.parse_args()
    n = args.customers
    rss = PeakRss()
    rows: list = []

    with stage(rows, rss, "simulate summaries (not part of the goal)", n):
        customers = simulate(n, args.seed, args.max_age_days)
    unique = collapse_rows(customers["frequency"], customers["recency_weeks"], customers["age_weeks"]).weights.size

    with stage(rows, rss, "forecast_customers: fit + predict (median rule)", n, unique):
        result = forecast_customers(customers, AS_OF)
    if not result.ok:
        raise SystemExit(f"forecast refused: {result.reason}")
    timings = result.timings
    for key, label in (("collapse", "  of which: collapse to unique (x, t_x, T)"),
                       ("fit_bgnbd", "  of which: BG/NBD fit"),
                       ("fit_gamma_gamma", "  of which: Gamma-Gamma fit"),
                       ("predict", "  of which: predictions")):
        fit_rows = {"fit_bgnbd": unique, "fit_gamma_gamma": result.gamma_gamma.n_rows}.get(key, "")
        rows.append((label, n, fit_rows, timings[key], float("nan")))

    with stage(rows, rss, "predict_customers (expected_one rule, bisection)", n, unique):
        predict_customers(customers, AS_OF, result.bgnbd, result.gamma_gamma, next_order_rule="expected_one")
    rss.close()

    print(f"| stage ({n:,} simulated customers) | customers | unique rows | seconds | peak RSS MB |")
    print("|---|---:|---:|---:|---:|")
    for name, count, uniq, seconds, peak in rows:
        uniq_text = f"{uniq:,}" if isinstance(uniq, int) else uniq
        peak_text = "" if np.isnan(peak) else f"{peak:,.0f}"
        print(f"| {name} | {count:,} | {uniq_text} | {seconds:.2f} | {peak_text} |")

    print(f"\n| parameter | true | recovered | relative error |   "
          f"(BG/NBD LL {result.bgnbd.log_likelihood:,.1f}; {result.n_repeat_customers:,} repeat buyers)")
    print("|---|---:|---:|---:|")
    for model, truth, fit in (("bgnbd", TRUE_BGNBD, result.bgnbd), ("gamma_gamma", TRUE_GG, result.gamma_gamma)):
        for name, value in truth.as_dict().items():
            got = getattr(fit.params, name)
            print(f"| {model}.{name} | {value:g} | {got:.4f} | {got / value - 1:+.2%} |")
    pred = result.predictions
    print(f"\nmean p_alive {pred['p_alive'].mean():.3f}, "
          f"mean predicted orders {pred['predicted_orders_365d'].mean():.3f}, "
          f"mean CLV {pred['predicted_clv_365d'].mean():.2f}, "
          f"with expected_next_order_at {pred['expected_next_order_at'].notna().mean():.1%}")


if __name__ == "__main__":
    main()
