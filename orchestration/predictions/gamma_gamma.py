"""Gamma-Gamma model of spend per order (Fader & Hardie 2013, "The Gamma-Gamma Model of Monetary Value").

Each order's value is Gamma(p, nu); nu varies across customers as Gamma(q, gamma). A customer is summarised by
x = number of repeat orders and m_x = their mean value. Fitted on repeat buyers only (x > 0, m_x > 0).
The model assumes spend per order is independent of purchase frequency (see `frequency_spend_correlation`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy.special import gammaln, psi

from orchestration.predictions._optim import as_float_array, as_weights, dot, maximise_log_params

PARAM_NAMES = ("p", "q", "gamma")


@dataclass(frozen=True)
class GammaGammaParams:
    """Gamma-Gamma parameters: order value ~ Gamma(shape p, rate nu), nu ~ Gamma(shape q, rate gamma)."""

    p: float
    q: float
    gamma: float

    @classmethod
    def coerce(cls, params) -> GammaGammaParams:
        """Accept a GammaGammaParams, a fit, a mapping with p/q/gamma or a 3-sequence in that order."""
        if isinstance(params, GammaGammaParams):
            return params
        if isinstance(params, GammaGammaFit):
            return params.params
        if isinstance(params, dict):
            return cls(*(float(params[k]) for k in PARAM_NAMES))
        p, q, gamma = (float(v) for v in params)
        return cls(p, q, gamma)

    def as_dict(self) -> dict[str, float]:
        """The parameters by name."""
        return asdict(self)

    @property
    def mean_spend(self) -> float:
        """Population mean order value E[M] = p * gamma / (q - 1); infinite when q <= 1."""
        return self.p * self.gamma / (self.q - 1) if self.q > 1 else np.inf


@dataclass(frozen=True)
class GammaGammaFit:
    """Result of `fit_gamma_gamma`. `problem` is None when the parameters are fit for use."""

    params: GammaGammaParams
    log_likelihood: float
    n_customers: int
    n_rows: int
    converged: bool
    out_of_range: bool  # p, q or gamma/mean spend outside [1e-5, 1e5]: the likelihood ran off to a limit
    message: str
    iterations: int

    def _diagnose(self) -> tuple[str, str] | None:
        values = np.array(list(self.params.as_dict().values()))
        if not (np.all(np.isfinite(values)) and np.isfinite(self.log_likelihood)):
            return "degenerate_fit", "Gamma-Gamma fit gave non-finite parameters or log-likelihood"
        if not self.converged:
            return "not_converged", f"Gamma-Gamma fit did not converge ({self.message})"
        if self.out_of_range or np.any(values <= 0):
            return "degenerate_fit", f"Gamma-Gamma fit is degenerate: a parameter left [1e-5, 1e5] ({self.params})"
        if self.params.q <= 1:
            return "degenerate_fit", f"Gamma-Gamma fit has q = {self.params.q:.3g} <= 1: mean order value is undefined"
        return None

    @property
    def problem(self) -> str | None:
        """Why the fit must not be used, or None. q <= 1 is refused: the population mean spend would be infinite."""
        found = self._diagnose()
        return found[1] if found else None

    @property
    def problem_code(self) -> str | None:
        """Short code of `problem`: 'not_converged' or 'degenerate_fit'; None when the fit is usable."""
        found = self._diagnose()
        return found[0] if found else None


def _validate(x: np.ndarray, m: np.ndarray) -> None:
    if x.shape != m.shape:
        raise ValueError("frequency and monetary_value must have the same length")
    if np.any(x <= 0) or np.any(x != np.round(x)):
        raise ValueError("the Gamma-Gamma model takes repeat buyers only: frequency must be a whole number > 0")
    if np.any(m <= 0):
        raise ValueError("monetary_value must be positive for the Gamma-Gamma model")


class _Data:
    def __init__(self, frequency, monetary_value, weights):
        x = as_float_array(frequency, "frequency")
        m = as_float_array(monetary_value, "monetary_value")
        _validate(x, m)
        w = as_weights(weights, x.size)
        keep = w > 0
        x, m, w = x[keep], m[keep], w[keep]
        self.n = float(w.sum())
        self.n_rows = int(x.size)
        self.ux, xi = np.unique(x, return_inverse=True)
        self.wx = np.bincount(xi, weights=w, minlength=self.ux.size)
        self.x, self.m, self.w = x, m, w
        log_m = np.log(m)
        self.sum_w_log_m = dot(w, log_m)
        self.sum_w_x_log_m = dot(w, x * log_m)

    def log_likelihood_and_grad(self, p: float, q: float, gamma: float) -> tuple[float, np.ndarray]:
        ux, wx, x, m, w = self.ux, self.wx, self.x, self.m, self.w
        px = p * ux
        log_spend = np.log(gamma + x * m)
        ll = (dot(wx, gammaln(px + q) - gammaln(px) - gammaln(q) + q * np.log(gamma) + px * np.log(ux))
              + p * self.sum_w_x_log_m - self.sum_w_log_m - dot(w, (p * x + q) * log_spend))
        d_p = dot(wx, ux * (psi(px + q) - psi(px) + np.log(ux))) + self.sum_w_x_log_m - dot(w, x * log_spend)
        d_q = dot(wx, psi(px + q) - psi(q) + np.log(gamma)) - dot(w, log_spend)
        d_gamma = self.n * q / gamma - dot(w, (p * x + q) / (gamma + x * m))
        return ll, np.array([d_p, d_q, d_gamma])

    def objective(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        params = np.exp(theta)
        with np.errstate(all="ignore"):
            ll, grad = self.log_likelihood_and_grad(*params)
        if not np.isfinite(ll):
            return np.inf, np.zeros_like(theta)
        return -ll / self.n, -(grad * params) / self.n


def gamma_gamma_log_likelihood(params, frequency, monetary_value, weights=None) -> float:
    """Total log-likelihood of the repeat buyers' mean order values m_x given x (Fader & Hardie 2013, eq. 3)."""
    gg = GammaGammaParams.coerce(params)
    with np.errstate(all="ignore"):
        ll, _ = _Data(frequency, monetary_value, weights).log_likelihood_and_grad(gg.p, gg.q, gg.gamma)
    return ll


def fit_gamma_gamma(frequency, monetary_value, weights=None, *, initial=None) -> GammaGammaFit:
    """Fit p, q, gamma by maximum likelihood on repeat buyers (frequency > 0, monetary_value > 0).

    `monetary_value` is each customer's mean value of the repeat orders. Check `fit.problem` before use.
    """
    x = as_float_array(frequency, "frequency")
    m = as_float_array(monetary_value, "monetary_value")
    _validate(x, m)
    w = as_weights(weights, x.size)
    if w.sum() <= 0:
        raise ValueError("no repeat buyers to fit")
    # Fit in units of the mean spend so gamma (a spend scale) is O(1) whatever the currency; the density of
    # m = c * m' is f(m') / c, hence the log-likelihood shift below.
    scale = dot(w, m) / float(w.sum())
    data = _Data(x, m / scale, w)
    if initial is not None:
        p0 = GammaGammaParams.coerce(initial)
        starts = [(p0.p, p0.q, p0.gamma / scale)]
    else:
        # With p = 1, q = 2 the population mean spend p*gamma/(q-1) equals gamma: start it at the sample mean.
        starts = [(1.0, 2.0, 1.0), (5.0, 4.0, 0.6), (0.5, 1.5, 1.0)]
    opt = maximise_log_params(data.objective, starts)
    p, q, gamma = (float(v) for v in np.exp(opt.log_params))
    log_likelihood = -opt.mean_neg_log_likelihood * data.n - data.n * np.log(scale)
    return GammaGammaFit(GammaGammaParams(p, q, gamma * scale), float(log_likelihood), int(round(data.n)),
                         data.n_rows, opt.converged, opt.out_of_range, opt.message, opt.iterations)


def conditional_expected_spend(params, frequency, monetary_value) -> np.ndarray:
    """E[M | x, m_x] = (q - 1)/(p x + q - 1) * p gamma/(q - 1) + p x/(p x + q - 1) * m_x (F&H 2013, eq. 5).

    A weighted average of the population mean and the customer's own mean. For x = 0 the formula gives the
    population mean p*gamma/(q-1) whatever m_x is, so one-time buyers get it (pass any value, e.g. 0 or NaN).
    """
    gg = GammaGammaParams.coerce(params)
    x = np.asarray(frequency, dtype=float)
    m = np.where(x > 0, np.asarray(monetary_value, dtype=float), 0.0)
    px = gg.p * x
    return (gg.p * gg.gamma + px * m) / (px + gg.q - 1)


def frequency_spend_correlation(frequency, monetary_value) -> float:
    """Pearson correlation of frequency and mean order value among repeat buyers.

    The Gamma-Gamma model assumes they are independent; a value far from 0 means its CLV is biased.
    """
    x = np.asarray(frequency, dtype=float)
    m = np.asarray(monetary_value, dtype=float)
    keep = (x > 0) & np.isfinite(m) & (m > 0)
    if keep.sum() < 3 or np.std(x[keep]) == 0 or np.std(m[keep]) == 0:
        return float("nan")
    return float(np.corrcoef(x[keep], m[keep])[0, 1])
