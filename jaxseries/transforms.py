"""Which series the model reads as logs, and the log and its inverse.

A positive series is modelled in log units (scale-free: a level and a season that multiply become sums); one with
a zero or a negative value as it is. `transform="auto"` decides per series from every row the model reads (those
before the holdout), so one series with a zero in a panel leaves the others' logs alone (on M3 monthly's training
parts, a zero in 1% of the series had cost every other series 0.24 sMAPE when the whole panel lost its logs:
benchmarks/RESULTS.md). A run stores the flags; rows in hand later (new data, a backtest's later origins) keep a
series' flag unless a value there is not positive.
"""

from __future__ import annotations

import numpy as np

from jaxseries.panel import Panel


def transformed(values: np.ndarray, logs) -> np.ndarray:
    """Values in model units: their logs where `logs` (one flag, or flags broadcast against the values)."""
    return _where(logs, np.log, values, 1.0)


def untransformed(values: np.ndarray, logs) -> np.ndarray:
    return _where(logs, np.exp, values, 0.0)


def _where(logs, function, values, neutral: float):
    logs = np.asarray(logs, bool)
    if logs.all():  # the whole panel one way: no masking
        return function(values)
    if not logs.any():
        return values
    return np.where(logs, function(np.where(logs, values, neutral)), values)


def positive_series(panel: Panel, lengths: np.ndarray) -> np.ndarray:
    """[S] whether every observed value among each series' first `lengths` rows is positive (missing ones, NaN,
    are left out)."""
    position = np.arange(len(panel.y)) - np.repeat(panel.starts, panel.lengths)  # row within its series
    inside = position < np.repeat(lengths, panel.lengths)
    bad = inside & np.isfinite(panel.y) & (panel.y <= 0)
    return np.bincount(panel.series_of_rows(), weights=bad, minlength=len(panel.ids)) == 0


def logged(panel: Panel, spec) -> np.ndarray:
    """[S] which series the model reads as logs: the panel's own flags where it carries them (`encoding.fit_spec`
    decides them per series under "auto", a run stores them, `forecasting.as_trained` sets them for rows in hand),
    else every one under `spec.transform` "log", none under "none"."""
    if panel.logged is not None:
        return panel.logged
    return np.full(len(panel.ids), spec.transform == "log")
