"""Prediction intervals: quantiles across ensemble members, calibrated on backtest residuals.

The members of a seed ensemble agree more than the future does, so their spread alone covers too little. The
calibration is conformalized quantile regression (Romano, Patterson and Candès, 2019): on each backtest fold, a
score says how far the truth fell outside the members' interval (negative when inside), per horizon step, in
model units (transformed and divided by the fold's scale, so folds with different scaling are comparable) and
normalized by the window's own spread (`window_spread`: how much its context moves from row to row), so a calm
series gets a narrower interval than a jumpy one. The interval is then widened by the score quantile that
`level` of the folds stay within, times the window's spread. With one member the members' interval is the point
forecast and this is split-conformal on absolute residuals.
"""

from __future__ import annotations

import math

import numpy as np


SPREAD_FLOOR = 0.05  # in model units (the panel's changes have unit spread): a flat context still gets a width


def window_spread(x: np.ndarray, context: int) -> np.ndarray:
    """[N] how much each window's context moves: the square root of the mean |change| between consecutive observed
    context rows of windows x [N, L + H, input_dim] (the value column 0 and its observed flag 1, in model units),
    the change at least SPREAD_FLOOR. The square root, not the change itself: scaled in full, windows with a calm
    context got intervals too narrow for what followed (M3 monthly's 95% MSIS 199 against 15.7 unscaled); the
    square root was best on all four M3 frequencies' training parts over two seeds (benchmarks/RESULTS.md)."""
    values, observed = x[:, :context, 0].astype(np.float64), x[:, :context, 1]
    both = observed[:, 1:] * observed[:, :-1]
    change = (np.abs(np.diff(values, axis=1)) * both).sum(1) / np.maximum(both.sum(1), 1)
    return np.sqrt(np.maximum(change, SPREAD_FLOOR))


def check_level(level) -> float | None:
    if level is None:
        return None
    if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0 < level < 1:
        raise ValueError(f"level must be a coverage between 0 and 1 (e.g. 0.8 for an 80% interval), got {level!r}")
    return float(level)


def levels_asked(level) -> tuple[list[float], bool]:
    """The coverages asked for, in (0, 1), and whether they came as the peers' list of percentages ([80, 95])."""
    if not isinstance(level, (list, tuple)):
        checked = check_level(level)
        return ([] if checked is None else [checked]), False
    if not level:
        raise ValueError("level=[] asks for no interval: pass levels such as [80, 95], or None")
    percent = lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 1  # noqa: E731
    return sorted({check_level(v / 100 if percent(v) else v) for v in level}), True


def quantiles_asked(quantiles) -> list[float]:
    """The quantiles asked for: increasing, distinct, each in (0, 1); [] for None."""
    if quantiles is None:
        return []
    number = lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)  # noqa: E731
    if not isinstance(quantiles, (list, tuple)) or not quantiles or not all(number(q) and 0 < q < 1 for q in quantiles):
        raise ValueError(f"quantiles must be a list of probabilities in (0, 1), e.g. [0.1, 0.5, 0.9]; got {quantiles!r}")
    if any(b <= a for a, b in zip(quantiles, quantiles[1:])):
        raise ValueError(f"quantiles must be increasing and distinct, e.g. [0.1, 0.5, 0.9]; got {list(quantiles)}")
    return [float(q) for q in quantiles]


def quantile_level(q: float) -> float:
    """The central interval whose bound quantile q is: |2q - 1| (0 for the median)."""
    return round(abs(2 * q - 1), 12)


def quantile_levels(quantiles: list[float]) -> list[float]:
    return sorted({quantile_level(q) for q in quantiles} - {0.0})


def member_interval(predicted: np.ndarray, level: float, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The central `level` interval across members (along `axis`)."""
    tail = (1 - level) / 2
    return np.quantile(predicted, tail, axis=axis), np.quantile(predicted, 1 - tail, axis=axis)


def scores(lower: np.ndarray, upper: np.ndarray, actual: np.ndarray, scale) -> np.ndarray:
    """How far the truth lies outside [lower, upper], in units of `scale` (negative inside)."""
    return np.maximum(lower - actual, actual - upper) / np.asarray(scale)


def widening(fold_scores: np.ndarray, level: float) -> np.ndarray:
    """The conformal quantile over folds (axis 0): with n folds, the ceil((n + 1) * level)-th smallest score.

    Infinite when there are too few folds for that rank (n < level / (1 - level)): no finite interval is honest.
    A NaN score (a missing truth) is not counted: each step then ranks the folds it has.
    """
    if np.isnan(fold_scores).any():
        columns = fold_scores.reshape(len(fold_scores), -1).T
        return np.array([widening(c[~np.isnan(c)], level) for c in columns]).reshape(fold_scores.shape[1:])
    n = fold_scores.shape[0]
    rank = math.ceil((n + 1) * level)
    if n == 0 or rank > n:
        return np.full(fold_scores.shape[1:], np.inf)
    return np.sort(fold_scores, axis=0)[rank - 1]


def min_folds(level: float) -> int:
    """The fewest folds whose leave-one-out calibration gives a finite interval at `level`."""
    return next(n for n in range(2, 10_000) if math.ceil(n * level) <= n - 1)


def leave_one_out_widening(fold_scores: np.ndarray, level: float) -> np.ndarray:
    """For each fold, the widening calibrated on the other folds only: [folds, ...]."""
    folds = np.arange(fold_scores.shape[0])
    return np.stack([widening(fold_scores[folds != f], level) for f in folds])


def coverage(lower: np.ndarray, upper: np.ndarray, actual: np.ndarray) -> float:
    """The share of true values inside their interval (missing truths left out)."""
    observed = ~np.isnan(actual)
    return float(np.mean(((lower <= actual) & (actual <= upper))[observed]))


def around(forecast: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The interval stretched to hold its point forecast: a negative widening (members that disagree more than the
    validation windows did) may shrink it past the members' mean, and coverage only grows from this."""
    return np.minimum(lower, forecast), np.maximum(upper, forecast)
