"""Predictive distributions a network outputs at each step ahead instead of one point (`distribution=`).

- "quantiles": a grid of quantiles (`GRID`) trained with the mean pinball loss over the grid, monotone by
  construction: the median, then positive (softplus) steps up and down from it. Quantiles between grid points are
  interpolated in normal-score space (linear beyond its ends).
- "student_t": location, scale and degrees of freedom (above 2, so the variance is finite), by likelihood.
- "negative_binomial": counts (non-negative integers: intermittent demand, many zeros), mean and dispersion, by
  likelihood; its targets come with their window's level and scale (`WindowLayout.counts`), since the likelihood
  needs the counts themselves.

Every output is in model units (measured from the window's level, in the series' scale: `windows`), so the first
two are location-scale families of the model units; a negative binomial's mean is its window's level plus scale
times the output, through a softplus that keeps it positive. `quantile` returns model units for all three, so a
forecast puts them back in the series' units the way it does a point (`forecasting.transformed_predictions`).
"""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np
from jax.scipy.special import gammaln
from scipy import special, stats

DISTRIBUTIONS = ("quantiles", "student_t", "negative_binomial")
GRID = (0.025, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.975)
MEDIAN = GRID.index(0.5)
MIN_SCALE, MIN_DISPERSION = 1e-3, 1e-3  # dispersion: shapes up to 1,000 keep float32 log-gammas exact enough


def parameters(distribution: str | None) -> int:
    """The network's outputs per step ahead."""
    return {None: 1, "quantiles": len(GRID), "student_t": 3, "negative_binomial": 2}[distribution]


def check(distribution) -> None:
    if distribution is not None and distribution not in DISTRIBUTIONS:
        raise ValueError(f"distribution must be one of {DISTRIBUTIONS} or None (a point forecast), "
                         f"got {distribution!r}")


def check_counts(values: np.ndarray) -> None:
    """A negative binomial's targets: every observed value a non-negative integer."""
    seen = values[np.isfinite(values)]
    bad = seen[(seen < 0) | (seen != np.round(seen))]
    if len(bad):
        raise ValueError(f"distribution='negative_binomial' models counts, but the target has {len(bad)} values "
                         f"that are negative or not integers (first: {float(bad[0])}): use "
                         "distribution='student_t' for real values")


def _softplus(x, xp):
    return xp.logaddexp(x, 0.0)


def grid_values(out, xp=np):
    """The quantile head's outputs [..., len(GRID)] as its monotone quantiles: the median, then softplus steps."""
    median = out[..., MEDIAN : MEDIAN + 1]
    up = median + xp.cumsum(_softplus(out[..., MEDIAN + 1 :], xp), -1)
    down = median - xp.cumsum(_softplus(out[..., :MEDIAN][..., ::-1], xp), -1)[..., ::-1]
    return xp.concatenate([down, median, up], -1)


def _t_parameters(out, xp=np):
    return out[..., 0], _softplus(out[..., 1], xp) + MIN_SCALE, 2.0 + _softplus(out[..., 2] + 2.0, xp)


def _nb_parameters(out, level, scale, xp=np):
    """Mean (a count: the window's level plus scale times the output, kept positive) and dispersion (1 / shape)."""
    mean = scale * _softplus(out[..., 0] + level / scale, xp) + 1e-6
    return mean, _softplus(out[..., 1], xp) + MIN_DISPERSION


def pointwise_loss(distribution: str, out, y):
    """[N, H] each step's loss (negative log-likelihood, or the mean pinball loss over the grid) of outputs
    out [N, H, P] against targets y [N, H] (negative binomial: [N, H, 3], the count, the window's level and
    scale), and [N, H] whether each target is observed; a missing target (NaN) costs 0."""
    target = y[..., 0] if distribution == "negative_binomial" else y
    observed = jnp.isfinite(target)
    target = jnp.where(observed, target, 0.0)
    if distribution == "quantiles":
        error = grid_values(out, jnp) - target[..., None]
        taus = jnp.asarray(GRID)
        loss = jnp.mean(jnp.maximum(-taus * error, (1 - taus) * error), -1)
    elif distribution == "student_t":
        loc, scale, df = _t_parameters(out, jnp)
        z = (target - loc) / scale
        loss = (gammaln(df / 2) - gammaln((df + 1) / 2) + 0.5 * jnp.log(df * math.pi) + jnp.log(scale)
                + (df + 1) / 2 * jnp.log1p(z**2 / df))
    else:
        mean, dispersion = _nb_parameters(out, y[..., 1], y[..., 2], jnp)
        shape, spread = 1 / dispersion, dispersion * mean
        loss = (gammaln(shape) + gammaln(target + 1) - gammaln(target + shape) + shape * jnp.log1p(spread)
                - target * (jnp.log(spread) - jnp.log1p(spread)))
    return jnp.where(observed, loss, 0.0), observed


def quantile(distribution: str, out: np.ndarray, q: float, base, scale) -> np.ndarray:
    """The q quantile of outputs out [..., S, H, P] in model units [..., S, H] (base, scale: each window's level
    and scale [S], which a negative binomial's counts are measured from)."""
    out = np.asarray(out, np.float64)
    base, scale = np.asarray(base, np.float64)[:, None], np.asarray(scale, np.float64)[:, None]
    if distribution == "quantiles":
        values, scores = grid_values(out), special.ndtri(np.asarray(GRID))
        z = special.ndtri(q)
        right = int(np.clip(np.searchsorted(scores, z), 1, len(GRID) - 1))  # the segment holding z, or an end one
        share = (z - scores[right - 1]) / (scores[right] - scores[right - 1])
        return values[..., right - 1] + share * (values[..., right] - values[..., right - 1])
    if distribution == "student_t":
        loc, spread, df = _t_parameters(out)
        return loc + spread * stats.t.ppf(q, df)
    mean, dispersion = _nb_parameters(out, base, scale)
    counts = stats.nbinom.ppf(q, 1 / dispersion, 1 / (1 + dispersion * mean))
    return (counts - base) / scale


def point(distribution: str, out: np.ndarray, base, scale) -> np.ndarray:
    """The point forecast in model units [..., S, H]: the median, a negative binomial's mean (what a count
    forecast is summed for)."""
    if distribution != "negative_binomial":
        return quantile(distribution, out, 0.5, base, scale)
    base64, scale64 = np.asarray(base, np.float64)[:, None], np.asarray(scale, np.float64)[:, None]
    return (_nb_parameters(np.asarray(out, np.float64), base64, scale64)[0] - base64) / scale64


def recentred(distribution: str, out: np.ndarray, center: np.ndarray) -> np.ndarray:
    """Outputs [..., P] moved so their median is `center` [...] (a shift of the whole distribution: how a forecast
    mixed with Theta's keeps its shape)."""
    out = np.array(out, np.float64)
    out[..., MEDIAN if distribution == "quantiles" else 0] = center
    return out
