"""Maximum-likelihood plumbing shared by the BG/NBD and Gamma-Gamma fits: L-BFGS-B over log-parameters."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

# The search box is [1e-6, 1e6]. An optimum outside [1e-5, 1e5] means the likelihood runs off to a limit (e.g.
# r, alpha -> infinity when every customer buys at the same rate, a -> 0 when nobody drops out); the line search
# often stops short of the box edge there, hence the decade of margin. Such fits are reported as degenerate.
LOG_BOUND = float(np.log(1e6))
_PLAUSIBLE = float(np.log(1e5))
_AT_BOUND = LOG_BOUND - 1e-2
# Convergence on the mean log-likelihood scale: a gradient this small is an optimum whatever the line search says.
_GRAD_TOL = 1e-5


@dataclass(frozen=True)
class LogParamOptimum:
    """Best point found by `maximise_log_params` and how it was reached."""

    log_params: np.ndarray
    mean_neg_log_likelihood: float
    converged: bool
    out_of_range: bool
    message: str
    iterations: int
    gradient_norm: float


def maximise_log_params(
    objective: Callable[[np.ndarray], tuple[float, np.ndarray]],
    starts: Sequence[Sequence[float]],
) -> LogParamOptimum:
    """Minimise a mean negative log-likelihood over log-parameters from several starts; return the best.

    `objective(theta)` returns (value, gradient) with respect to theta = log(params). Later starts are only
    tried if the earlier ones did not converge, so a well-posed fit costs one optimisation.
    """
    best: LogParamOptimum | None = None
    for start in starts:
        theta0 = np.clip(np.log(np.asarray(start, dtype=float)), -LOG_BOUND, LOG_BOUND)
        with np.errstate(all="ignore"):
            res = minimize(objective, theta0, jac=True, method="L-BFGS-B",
                           bounds=[(-LOG_BOUND, LOG_BOUND)] * theta0.size,
                           options={"maxiter": 2000, "ftol": 1e-14, "gtol": 1e-9})
        value, grad = objective(res.x)
        out_of_range = bool(np.any(np.abs(res.x) > _PLAUSIBLE))
        # On the box edge the free gradient need not vanish, so judge only the interior coordinates.
        free = np.abs(res.x) < _AT_BOUND
        grad_norm = float(np.max(np.abs(grad[free]))) if free.any() else 0.0
        finite = bool(np.isfinite(value) and np.all(np.isfinite(res.x)))
        converged = finite and (bool(res.success) or grad_norm < _GRAD_TOL)
        found = LogParamOptimum(res.x.copy(), float(value), converged, out_of_range, str(res.message),
                                int(res.nit), grad_norm)
        if best is None or (found.converged, -found.mean_neg_log_likelihood) > (
                best.converged, -best.mean_neg_log_likelihood):
            best = found
        if found.converged and not found.out_of_range:
            break
    assert best is not None, "at least one start is required"
    return best


def dot(a: np.ndarray, b: np.ndarray) -> float:
    """Inner product of two 1-D arrays without BLAS.

    OpenBLAS threads its ddot on long vectors; on a small shared machine the thread hand-off costs several
    times the arithmetic, and the likelihoods take a few dozen of these per evaluation.
    """
    return float(np.einsum("i,i->", a, b))


def as_float_array(values, name: str) -> np.ndarray:
    """1-D float array of `values`; rejects NaN/inf, which the likelihood cannot use."""
    arr = np.asarray(values, dtype=float).reshape(-1)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def as_weights(weights, n: int) -> np.ndarray:
    """Row weights (customer counts per aggregated row); ones when None. Must be finite and non-negative."""
    if weights is None:
        return np.ones(n)
    w = as_float_array(weights, "weights")
    if w.shape != (n,):
        raise ValueError(f"weights has {w.size} values for {n} rows")
    if np.any(w < 0):
        raise ValueError("weights must be non-negative")
    return w
