"""BG/NBD purchase model (Fader, Hardie & Lee 2005, "Counting your customers the easy way").

While alive a customer buys as a Poisson process with rate lambda ~ Gamma(r, alpha); after each repeat purchase
the customer drops out for good with probability p ~ Beta(a, b). A customer is summarised by
x = number of repeat purchases, t_x = time of the last purchase and T = age, both measured from the first
purchase. Time unit: whatever the inputs use (the forecast uses weeks). Every function is vectorised over
customers; the likelihood and the fit accept aggregated rows with a `weights` count (see `collapse_rows`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy.linalg import eigh_tridiagonal
from scipy.special import expit, gammaln, hyp2f1, psi

from orchestration.predictions._optim import as_float_array, as_weights, dot, maximise_log_params

PARAM_NAMES = ("r", "alpha", "a", "b")


@dataclass(frozen=True)
class BgNbdParams:
    """BG/NBD parameters: purchase rate ~ Gamma(shape r, rate alpha), dropout probability ~ Beta(a, b)."""

    r: float
    alpha: float
    a: float
    b: float

    @classmethod
    def coerce(cls, params) -> BgNbdParams:
        """Accept a BgNbdParams, a fit, a mapping with r/alpha/a/b or a 4-sequence in that order."""
        if isinstance(params, BgNbdParams):
            return params
        if isinstance(params, BgNbdFit):
            return params.params
        if isinstance(params, dict):
            return cls(*(float(params[k]) for k in PARAM_NAMES))
        r, alpha, a, b = (float(v) for v in params)
        return cls(r, alpha, a, b)

    def as_dict(self) -> dict[str, float]:
        """The parameters by name."""
        return asdict(self)


@dataclass(frozen=True)
class BgNbdFit:
    """Result of `fit_bgnbd`. `problem` is None when the parameters are fit for use."""

    params: BgNbdParams
    log_likelihood: float
    n_customers: int
    n_rows: int
    converged: bool
    out_of_range: bool  # a parameter outside [1e-5, 1e5]: the likelihood ran off to a limit
    message: str
    iterations: int

    def _diagnose(self) -> tuple[str, str] | None:
        values = np.array(list(self.params.as_dict().values()))
        if not (np.all(np.isfinite(values)) and np.isfinite(self.log_likelihood)):
            return "degenerate_fit", "BG/NBD fit gave non-finite parameters or log-likelihood"
        if not self.converged:
            return "not_converged", f"BG/NBD fit did not converge ({self.message})"
        if np.any(values <= 0):
            return "degenerate_fit", f"BG/NBD fit is degenerate: a parameter is not positive ({self.params})"
        if self.out_of_range and not self.homogeneous_dropout:
            return "degenerate_fit", f"BG/NBD fit is degenerate: a parameter left [1e-5, 1e5] ({self.params})"
        return None

    @property
    def homogeneous_dropout(self) -> bool:
        """True when a and b ran off together (a + b > 1e5, both >= 1) while r and alpha stayed plausible: the
        Beta of dropout probabilities collapsed to one value, a / (a + b), shared by every customer. That is a
        limit of the model, not a failure: its formulas stay exact there (the likelihood is flat in a + b)."""
        p = self.params
        return bool(
            1e-5 <= p.r <= 1e5 and 1e-5 <= p.alpha <= 1e5 and min(p.a, p.b) >= 1 and p.a + p.b > 1e5
        )

    @property
    def note(self) -> str | None:
        """A sentence for the metadata when the fit sits at a limit of the model (homogeneous dropout)."""
        if self.out_of_range and self.homogeneous_dropout:
            dropout = self.params.a / (self.params.a + self.params.b)
            return (f"dropout probability is the same for every customer: a / (a + b) = {dropout:.4f} after each "
                    "repeat purchase (a and b ran off together, the Beta's limit)")
        return None

    @property
    def problem(self) -> str | None:
        """Why the fit must not be used (did not converge, non-finite, parameter ran off to a limit), or None."""
        found = self._diagnose()
        return found[1] if found else None

    @property
    def problem_code(self) -> str | None:
        """Short code of `problem`: 'not_converged' or 'degenerate_fit'; None when the fit is usable."""
        found = self._diagnose()
        return found[0] if found else None


@dataclass(frozen=True)
class CollapsedRows:
    """Unique (frequency, recency, T) rows with how many customers share each, and the map back."""

    frequency: np.ndarray
    recency: np.ndarray
    T: np.ndarray
    weights: np.ndarray
    inverse: np.ndarray  # row i of the input is unique row inverse[i]


def collapse_rows(frequency, recency, T) -> CollapsedRows:
    """Collapse per-customer summaries into unique (x, t_x, T) rows plus counts.

    Recency is set to 0 when frequency is 0 (the likelihood does not use it), so all one-time buyers of the same
    age share a row. With day-resolution inputs, 1M customers collapse to a few hundred thousand rows at most.
    """
    x = as_float_array(frequency, "frequency")
    tx = np.where(x > 0, as_float_array(recency, "recency"), 0.0)
    age = as_float_array(T, "T")
    codes = pd.DataFrame({"x": x, "tx": tx, "T": age}).groupby(["x", "tx", "T"], sort=False).ngroup().to_numpy()
    n_unique = int(codes.max()) + 1 if codes.size else 0
    first = np.full(n_unique, -1, dtype=np.int64)
    # Reversed assignment leaves the first occurrence of each code in `first`.
    first[codes[::-1]] = np.arange(codes.size - 1, -1, -1)
    weights = np.bincount(codes, minlength=n_unique).astype(float)
    return CollapsedRows(x[first], tx[first], age[first], weights, codes)


def _validate_summary(x: np.ndarray, tx: np.ndarray, age: np.ndarray) -> None:
    if not (x.shape == tx.shape == age.shape):
        raise ValueError("frequency, recency and T must have the same length")
    if np.any(x < 0) or np.any(x != np.round(x)):
        raise ValueError("frequency must be a non-negative whole number")
    if np.any(tx < 0) or np.any(age < 0):
        raise ValueError("recency and T must be non-negative")
    if np.any(tx > age * (1 + 1e-9) + 1e-9):
        raise ValueError("recency cannot exceed T (the age of the customer)")


class _Data:
    """Likelihood inputs split into one-time buyers and repeat buyers, with per-distinct-x weight sums."""

    def __init__(self, frequency, recency, T, weights):
        x = as_float_array(frequency, "frequency")
        tx = as_float_array(recency, "recency")
        age = as_float_array(T, "T")
        _validate_summary(x, tx, age)
        w = as_weights(weights, x.size)
        keep = w > 0
        x, tx, age, w = x[keep], tx[keep], age[keep], w[keep]
        self.n = float(w.sum())
        self.n_rows = int(x.size)
        # Terms that depend on x alone are computed once per distinct x: few hundred values at most.
        self.ux, xi = np.unique(x, return_inverse=True)
        self.wx = np.bincount(xi, weights=w, minlength=self.ux.size)
        zero = x == 0
        self.T0, self.w0 = age[zero], w[zero]
        self.xp, self.txp, self.Tp, self.wp = x[~zero], tx[~zero], age[~zero], w[~zero]
        self.sum_w_x = dot(self.wx, self.ux)

    def log_likelihood_and_grad(self, r: float, alpha: float, a: float, b: float) -> tuple[float, np.ndarray]:
        ux, wx = self.ux, self.wx
        ll_x = (gammaln(r + ux) - gammaln(r) + r * np.log(alpha)
                + gammaln(a + b) + gammaln(b + ux) - gammaln(b) - gammaln(a + b + ux))
        la_T0 = np.log(alpha + self.T0)
        xp = self.xp
        la_Tp = np.log(alpha + self.Tp)
        la_txp = np.log(alpha + self.txp)
        log_b_x1 = np.log(b + xp - 1)
        a3 = -(r + xp) * la_Tp
        a4 = np.log(a) - log_b_x1 - (r + xp) * la_txp
        lse = np.logaddexp(a3, a4)
        ll = dot(wx, ll_x) - r * dot(self.w0, la_T0) + dot(self.wp, lse)
        # Share of the "alive at T" and "dropped after t_x" branches in each repeat buyer's likelihood.
        w4 = np.exp(a4 - lse)
        w3 = 1.0 - w4
        wp = self.wp
        d_r = (dot(wx, psi(r + ux) - psi(r)) + self.n * np.log(alpha)
               - dot(self.w0, la_T0) - dot(wp, w3 * la_Tp + w4 * la_txp))
        d_alpha = (self.n * r / alpha - r * dot(self.w0, 1.0 / (alpha + self.T0))
                   - dot(wp, (r + xp) * (w3 / (alpha + self.Tp) + w4 / (alpha + self.txp))))
        d_a = dot(wx, psi(a + b) - psi(a + b + ux)) + dot(wp, w4) / a
        d_b = dot(wx, psi(a + b) + psi(b + ux) - psi(b) - psi(a + b + ux)) - dot(wp, w4 / (b + xp - 1))
        return ll, np.array([d_r, d_alpha, d_a, d_b])

    def objective(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        """Mean negative log-likelihood and its gradient in log-parameters."""
        params = np.exp(theta)
        with np.errstate(all="ignore"):
            ll, grad = self.log_likelihood_and_grad(*params)
        if not np.isfinite(ll):
            return np.inf, np.zeros_like(theta)
        return -ll / self.n, -(grad * params) / self.n


def bgnbd_log_likelihood(params, frequency, recency, T, weights=None) -> float:
    """Total BG/NBD log-likelihood of the customers (rows weighted by `weights`, the customers per row)."""
    p = BgNbdParams.coerce(params)
    with np.errstate(all="ignore"):
        ll, _ = _Data(frequency, recency, T, weights).log_likelihood_and_grad(p.r, p.alpha, p.a, p.b)
    return ll


def bgnbd_individual_log_likelihood(params, frequency, recency, T) -> np.ndarray:
    """Log-likelihood of each customer (FHL 2005 eq. 6), computed as log-sum-exp of its two branches."""
    p = BgNbdParams.coerce(params)
    x = as_float_array(frequency, "frequency")
    tx = as_float_array(recency, "recency")
    age = as_float_array(T, "T")
    _validate_summary(x, tx, age)
    with np.errstate(all="ignore"):
        base = (gammaln(p.r + x) - gammaln(p.r) + p.r * np.log(p.alpha)
                + gammaln(p.a + p.b) + gammaln(p.b + x) - gammaln(p.b) - gammaln(p.a + p.b + x))
        a3 = -(p.r + x) * np.log(p.alpha + age)
        a4 = np.where(x > 0, np.log(p.a) - np.log(p.b + x - 1) - (p.r + x) * np.log(p.alpha + tx), -np.inf)
    return base + np.logaddexp(a3, a4)


def _starts(data: _Data) -> list[tuple[float, float, float, float]]:
    # alpha on the scale of the data: r/alpha is the purchase rate, roughly repeat purchases per unit of age.
    mean_T = (dot(data.w0, data.T0) + dot(data.wp, data.Tp)) / data.n if data.n else 1.0
    rate = max(data.sum_w_x / data.n, 1e-3) / max(mean_T, 1e-3) if data.n else 1.0
    alpha = float(np.clip(1.0 / rate, 1e-3, 1e6))
    return [(1.0, alpha, 1.0, 1.0), (0.3, alpha / 3, 0.7, 2.5), (2.0, 2 * alpha, 3.0, 6.0)]


def fit_bgnbd(frequency, recency, T, weights=None, *, initial=None) -> BgNbdFit:
    """Fit the BG/NBD by maximum likelihood (L-BFGS-B over log-parameters, analytic gradient).

    Inputs are per-customer or aggregated rows (`weights` = customers per row, e.g. from `collapse_rows`).
    `initial` (BgNbdParams or (r, alpha, a, b)) replaces the default starting points. Check `fit.problem`
    before using the parameters.
    """
    data = _Data(frequency, recency, T, weights)
    if data.n <= 0:
        raise ValueError("no customers to fit")
    starts = [tuple(BgNbdParams.coerce(initial).as_dict().values())] if initial is not None else _starts(data)
    opt = maximise_log_params(data.objective, starts)
    r, alpha, a, b = (float(v) for v in np.exp(opt.log_params))
    return BgNbdFit(BgNbdParams(r, alpha, a, b), -opt.mean_neg_log_likelihood * data.n, int(round(data.n)),
                    data.n_rows, opt.converged, opt.out_of_range, opt.message, opt.iterations)


def _broadcast(*arrays):
    return np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in arrays))


def prob_alive(params, frequency, recency, T) -> np.ndarray:
    """P(alive at T | x, t_x, T) (FHL 2005 eq. 13); exactly 1 for x = 0, who cannot have dropped out yet."""
    p = BgNbdParams.coerce(params)
    x, tx, age = _broadcast(frequency, recency, T)
    with np.errstate(all="ignore"):
        log_odds_dead = (np.log(p.a) - np.log(p.b + x - 1)
                         + (p.r + x) * (np.log(p.alpha + age) - np.log(p.alpha + tx)))
    return np.where(x > 0, expit(-log_odds_dead), 1.0)


# Gauss-Jacobi nodes: enough for any row the hypergeometric forms cannot evaluate (checked against adaptive
# quadrature in the tests); accuracy only degrades when t is hundreds of times alpha + T.
_QUADRATURE_NODES = 128


def _beta_quadrature(a: float, b: float, n: int = _QUADRATURE_NODES) -> tuple[np.ndarray, np.ndarray]:
    """Gauss nodes on (0, 1) and weights summing to 1 for the Beta(a, b) density (Golub-Welsch).

    scipy's roots_jacobi also returns the total mass 2^(a+b-1) B(a, b), which overflows for the large b (= b + x)
    met here; the eigenvectors of the Jacobi matrix give normalised weights directly.
    """
    al, be = b - 1.0, a - 1.0  # Jacobi weight (1-u)^al (1+u)^be on (-1, 1), with p = (1 + u) / 2
    k = np.arange(n, dtype=float)
    s = 2 * k + al + be
    with np.errstate(divide="ignore", invalid="ignore"):
        diag = (be**2 - al**2) / (s * (s + 2))
    diag[0] = (be - al) / (al + be + 2)
    j = k[1:]
    s = 2 * j + al + be
    with np.errstate(divide="ignore", invalid="ignore"):
        off = np.sqrt(4 * j * (j + al) * (j + be) * (j + al + be) / (s**2 * (s + 1) * (s - 1)))
    # j = 1 written with the (1 + al + be) factor cancelled, which is 0/0 when al + be = -1.
    off[0] = np.sqrt(4 * (1 + al) * (1 + be) / ((2 + al + be) ** 2 * (3 + al + be)))
    nodes, vectors = eigh_tridiagonal(diag, off)
    weights = vectors[0] ** 2
    return (1 + nodes) / 2, weights / weights.sum()


def _alive_expectation_quadrature(p: BgNbdParams, t, x, age) -> np.ndarray:
    """E[X(t) | alive at T] as the posterior mean over p ~ Beta(a, b + x) of (1 - (1 + p s)^-(r+x)) / p.

    Integrating lambda ~ Gamma(r + x, alpha + T) out of E[(1 - exp(-lambda p t)) / p] gives this 1-D integral,
    done by Gauss-Jacobi quadrature whose weight function is the Beta density itself.
    """
    out = np.empty(x.shape)
    s_all = t / (p.alpha + age)
    for xv in np.unique(x):
        rows = np.flatnonzero(x == xv)
        prob, w = _beta_quadrature(p.a, p.b + xv)
        # Chunks keep the (rows x nodes) matrix to ~16 MB when a ~ 1 sends every customer here.
        for chunk in np.array_split(rows, max(1, rows.size // 16_384)):
            h = -np.expm1(-(p.r + xv) * np.log1p(np.multiply.outer(s_all[chunk], prob))) / prob
            out[chunk] = np.einsum("ij,j->i", h, w)
    return out


def _alive_expectation(p: BgNbdParams, t, x, age) -> np.ndarray:
    """E[X(t) | x, T, alive at T]: FHL 2005 eq. 10 without its P(alive) factor. Depends on x and T only.

    Evaluated as (a+b+x-1)/(a-1) * (1 - F) where, by Euler's then Pfaff's transformation of 2F1,
      F = ((alpha+T)/(alpha+T+t))^(r+x) 2F1(r+x, b+x; a+b+x-1; z)       (the paper's form)
        = (1 + t/(alpha+T))^(1-a) 2F1(a+b-1-r, a-1; a+b+x-1; z),      z = t / (alpha + T + t).
    The second form's upper parameters do not grow with x, so scipy's hyp2f1 stays accurate for frequent
    buyers where the paper's form returns nan/inf (e.g. x = 300, z near 1). Rows still non-finite or outside
    [0, (r+x) t/(alpha+T)] (the no-dropout Poisson mean, a hard upper bound) fall back to the paper's form, then
    to quadrature. Near a = 1 the (a-1) ratio cancels catastrophically, so quadrature is used directly there.
    """
    t, x, age = _broadcast(t, x, age)
    t, x, age = t.ravel(), x.ravel(), age.ravel()
    if abs(p.a - 1) < 1e-3:
        return _alive_expectation_quadrature(p, t, x, age)
    s = t / (p.alpha + age)
    upper = (p.r + x) * s
    z = t / (p.alpha + age + t)
    scale = (p.a + p.b + x - 1) / (p.a - 1)
    with np.errstate(all="ignore"):
        f = np.exp((1 - p.a) * np.log1p(s)) * hyp2f1(p.a + p.b - 1 - p.r, p.a - 1, p.a + p.b + x - 1, z)
        out = scale * (1 - f)
        bad = ~(np.isfinite(out) & (out >= 0) & (out <= upper * (1 + 1e-9) + 1e-12))
        if bad.any():
            xb, zb, sb = x[bad], z[bad], s[bad]
            f = np.exp(-(p.r + xb) * np.log1p(sb)) * hyp2f1(p.r + xb, p.b + xb, p.a + p.b + xb - 1, zb)
            out[bad] = scale[bad] * (1 - f)
            bad = ~(np.isfinite(out) & (out >= 0) & (out <= upper * (1 + 1e-9) + 1e-12))
    if bad.any():
        out[bad] = _alive_expectation_quadrature(p, t[bad], x[bad], age[bad])
    # Tiny negative values from rounding at t ~ 0.
    return np.clip(out, 0.0, None)


def conditional_expected_purchases(params, t, frequency, recency, T) -> np.ndarray:
    """E[X(T, T + t] | x, t_x, T]: expected purchases in the next `t` time units (FHL 2005 eq. 10).

    `t` may be a scalar or an array broadcastable against the customers.
    """
    p = BgNbdParams.coerce(params)
    t, x, tx, age = _broadcast(t, frequency, recency, T)
    return prob_alive(p, x, tx, age) * _alive_expectation(p, t, x, age).reshape(x.shape)


def expected_purchases(params, t) -> np.ndarray:
    """Unconditional E[X(t)] (FHL 2005 eq. 7): expected repeat purchases of a new customer within t of the first.

    It is the conditional expectation for a customer with x = 0 at age 0, who is alive for sure.
    """
    p = BgNbdParams.coerce(params)
    t = np.asarray(t, dtype=float)
    return _alive_expectation(p, t, np.zeros_like(t), np.zeros_like(t)).reshape(t.shape)


def prob_purchase_within(params, t, frequency, recency, T) -> np.ndarray:
    """P(at least one purchase in (T, T + t] | x, t_x, T) = P(alive) * (1 - ((alpha+T)/(alpha+T+t))^(r+x)).

    Exact under the model: a customer alive at T stays alive until the next purchase, and given alive the rate
    has posterior Gamma(r + x, alpha + T). It tends to P(alive), not 1, as t grows.
    """
    p = BgNbdParams.coerce(params)
    t, x, tx, age = _broadcast(t, frequency, recency, T)
    return prob_alive(p, x, tx, age) * -np.expm1(-(p.r + x) * np.log1p(t / (p.alpha + age)))


def time_to_purchase_probability(params, frequency, recency, T, probability: float = 0.5) -> np.ndarray:
    """Smallest t with P(purchase in (T, T + t]) = `probability`; inf when P(alive) <= probability.

    Closed form inversion of `prob_purchase_within`; with probability 0.5 it is the median time to the next
    purchase of a (defective) distribution that puts mass 1 - P(alive) on "never".
    """
    if not 0 < probability < 1:
        raise ValueError("probability must be in (0, 1)")
    p = BgNbdParams.coerce(params)
    x, tx, age = _broadcast(frequency, recency, T)
    alive = prob_alive(p, x, tx, age)
    reachable = alive > probability
    with np.errstate(all="ignore"):
        t = (p.alpha + age) * np.expm1(-np.log1p(-probability / alive) / (p.r + x))
    return np.where(reachable, t, np.inf)


def time_to_expected_purchases(params, frequency, recency, T, *, target: float = 1.0, horizon: float,
                               tolerance: float = 1e-3) -> np.ndarray:
    """Smallest t <= horizon with E[X(T, T + t] | x, t_x, T] >= target, by bisection over all rows at once.

    inf where the conditional expectation does not reach `target` within `horizon` (under the BG/NBD with a > 1
    the expected number of future purchases is finite, so some customers never reach it).
    """
    if target <= 0 or horizon <= 0 or tolerance <= 0:
        raise ValueError("target, horizon and tolerance must be positive")
    p = BgNbdParams.coerce(params)
    x, tx, age = (v.ravel() for v in _broadcast(frequency, recency, T))
    alive = prob_alive(p, x, tx, age)
    # The expectation is monotone in t, so one evaluation at the horizon settles which rows have an answer.
    reach = alive * _alive_expectation(p, np.full(x.shape, float(horizon)), x, age) >= target
    lo = np.zeros(int(reach.sum()))
    hi = np.full(lo.shape, float(horizon))
    xr, ager, aliver = x[reach], age[reach], alive[reach]
    for _ in range(int(np.ceil(np.log2(horizon / tolerance)))):
        mid = (lo + hi) / 2
        up = aliver * _alive_expectation(p, mid, xr, ager) >= target
        hi = np.where(up, mid, hi)
        lo = np.where(up, lo, mid)
    out = np.full(x.shape, np.inf)
    out[reach] = hi
    return out.reshape(np.broadcast_shapes(np.shape(frequency), np.shape(recency), np.shape(T)))
