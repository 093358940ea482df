"""Draw customer summaries from the BG/NBD and Gamma-Gamma generative processes (for tests and benchmarks)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from orchestration.predictions.bgnbd import BgNbdParams
from orchestration.predictions.gamma_gamma import GammaGammaParams


def simulate_customers(bgnbd, age_weeks, rng: np.random.Generator, *, gamma_gamma=None,
                       holdout_weeks: float | None = None, day_resolution: bool = True) -> pd.DataFrame:
    """Simulate one customer per entry of `age_weeks` (T, weeks since the first purchase).

    Per customer: lambda ~ Gamma(r, rate alpha), p ~ Beta(a, b); repeat purchases arrive as a Poisson(lambda)
    process and the customer drops out right after the J-th repeat purchase, J ~ Geometric(p). Given N Poisson
    arrivals in (0, T], x = min(N, J) and the x-th arrival time is T * Beta(x, N - x + 1) (order statistic of
    uniforms), so no individual purchase times are drawn.

    Returns columns frequency, recency_weeks, age_weeks, and with `gamma_gamma` monetary_value (mean of the x
    repeat order values; NaN when x = 0), with `holdout_weeks` holdout_frequency (repeat purchases in the
    following holdout_weeks), and the latent lam, p, alive_at_T. With `day_resolution` the recency is floored to
    whole days, as in data summarised per purchase day (two purchases on one day are not merged: at the rates
    retail data shows that is rare, and it keeps the process exact).
    """
    params = BgNbdParams.coerce(bgnbd)
    age = np.asarray(age_weeks, dtype=float)
    n = age.size
    lam = rng.gamma(params.r, 1.0 / params.alpha, n)
    p = rng.beta(params.a, params.b, n)
    arrivals = rng.poisson(lam * age)
    dropout_at = rng.geometric(p)
    x = np.minimum(arrivals, dropout_at)
    recency = np.zeros(n)
    buyers = x > 0
    recency[buyers] = age[buyers] * rng.beta(x[buyers], arrivals[buyers] - x[buyers] + 1)
    if day_resolution:
        recency = np.floor(recency * 7 + 1e-9) / 7
    alive = arrivals < dropout_at
    out = {"frequency": x.astype(np.int64), "recency_weeks": recency, "age_weeks": age}
    if gamma_gamma is not None:
        gg = GammaGammaParams.coerce(gamma_gamma)
        nu = rng.gamma(gg.q, 1.0 / gg.gamma, n)
        # The sum of x Gamma(p, nu) order values is Gamma(p x, nu).
        total = np.zeros(n)
        total[buyers] = rng.gamma(gg.p * x[buyers], 1.0 / nu[buyers])
        out["monetary_value"] = np.where(buyers, total / np.maximum(x, 1), np.nan)
    if holdout_weeks is not None:
        # Memoryless: an alive customer keeps buying at lambda and can make dropout_at - x more purchases.
        later = rng.poisson(lam * holdout_weeks)
        out["holdout_frequency"] = np.where(alive, np.minimum(later, dropout_at - x), 0).astype(np.int64)
    out.update(lam=lam, p=p, alive_at_T=alive)
    return pd.DataFrame(out)
