"""The classical partner whose forecast the network's is averaged with: the mean of the Theta method's
(Assimakopoulos & Nikolopoulos, 2000) and a damped-trend smoothing's (Gardner & McKenzie, 1985) where that fits
(`combine="theta+damped"`: better at three origins of the M3 training parts on panels and on most single series,
benchmarks/RESULTS.md), or Theta's alone (`combine="theta"`); by default (`"theta+damped+ets"`, but on yearly data)
the mean of that and an exponential smoothing's with its own season and form (ets.py, `partner`'s `ets`).

Theta won M3 and is the benchmark every forecaster there is measured against; the network and it make different
errors, so their mean beat both by sMAPE on every M3 frequency's training parts (by MASE on all but "other";
benchmarks/RESULTS.md). It runs on the values the network sees before its windows (transformed, seasonal indices
removed), as Hyndman & Billah (2003) write it: simple exponential smoothing with a drift of half the series'
least-squares slope,

    forecast(h) = level_n + slope / 2 * (h - 1 + (1 - (1 - alpha)^n) / alpha),

alpha chosen per series on a grid by the one-step errors. The forecast is a line in h: a run stores each series'
intercept and slope, so it forecasts from its stored rows as from the whole history. The same alpha smooths the
level each of the series' windows shows the network (`windows`), so a run stores it too.

The damped trend (additive, on the same values) bends where Theta's drift keeps rising:

    level_t = ahead_t + alpha * e_t,   trend_t = phi * trend_{t-1} + alpha * beta * e_t,
    ahead_t = level_{t-1} + phi * trend_{t-1},   e_t = z_t - ahead_t,
    forecast(h) = level_n + trend_n * (phi + phi^2 + ... + phi^h),

from level z_first and trend 0, (alpha, beta, phi) chosen per series on a grid by the one-step errors; a missing
row moves the state on without a correction. It joins a series' partner only where its one-step errors beat simple
exponential smoothing's by Akaike's criterion (n log(SSE / n) + 2k; k = 4 against 2), so a series with no trend to
damp keeps Theta alone. A run stores each series' (level, trend, phi, joined).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

ALPHAS = np.linspace(0.05, 1.0, 20)
SHARE = 0.5  # the partner's share of a combined forecast: an even mean (benchmarks/RESULTS.md: on the validation
# windows the network looks better than it is, early stopping chose it there, so a share chosen on them is always 0)
FULL_WINDOWS = 100  # a network trained on fewer windows than this gets less than its half (`share_for`)
SERIES_WINDOWS = 60  # and a series counts for at most this many of them, however long: one series alone gets 0.7+
# The damped trend's grid: 160 (alpha, beta, phi); a finer one (20 x 5 x 5) scored the same (benchmarks/RESULTS.md)
DAMPED_GRID = tuple(g.ravel() for g in np.meshgrid(np.linspace(0.1, 1.0, 10), [0.0, 0.05, 0.1, 0.2],
                                                   [0.8, 0.9, 0.95, 0.98], indexing="ij"))
CHUNK = 4096  # series smoothed at once (bounds the [series, rows, alphas] work on large panels)
SHORT = 512  # series up to this long share chunks (`alike_chunks`): every M1, M3 and Tourism panel is one class


class Smoothed(NamedTuple):
    lines: np.ndarray  # [S, 2] (intercept, slope) of each series' Theta forecast, intercept + slope * h, h = 1, 2, ..
    alphas: np.ndarray  # [S] its simple exponential smoothing's coefficient (also the window's smoothed level's)
    damped: np.ndarray | None = None  # [S, 4] (level, trend, phi, joined) of its damped trend; None: not fitted
    ets: np.ndarray | None = None  # [S, forms, 5 + season] its exponential smoothing's forms (ets.py); None: not fitted

    def take(self, rows) -> "Smoothed":
        """The same for the series `rows` (one per window)."""
        return Smoothed(*(None if part is None else part[rows] for part in self))


def smoothed(values: np.ndarray, observed: np.ndarray, damped: bool = False) -> Smoothed:
    """Each series' Theta line and smoothing coefficient (and with `damped`, its damped trend). `values` [S, P]:
    each series right-aligned (its last row in the last column), `observed` 1 on its real rows (left padding 0). A
    series with one row forecasts that row."""
    lines, alphas = np.zeros((len(values), 2)), np.zeros(len(values))
    trends = np.zeros((len(values), 4)) if damped else None
    first = np.argmax(observed > 0, 1)  # each series' first real column: the columns before it are padding
    for part in alike_chunks(values.shape[1] - first, CHUNK):
        begin = first[part].min()
        z, real = values[part, begin:].astype(np.float64), observed[part, begin:] > 0
        lines[part], alphas[part], flat_squared = _smoothed(z, real)
        if damped:
            trends[part, :3], squared = _damped(z, real)
            n = np.maximum(real.sum(1), 1)
            trends[part, 3] = _akaike(squared, n, 4) < _akaike(flat_squared, n, 2)
    return Smoothed(lines, alphas, trends)


def alike_chunks(lengths: np.ndarray, size: int):
    """The series' indices in chunks of at most `size`, each of series whose lengths share a power of two (every
    one up to SHORT rows in one class, in their order): each chunk runs over its own longest series' rows, so a long
    series in a panel of short ones widens no other (20,000 series of 200 rows and 20 of 2,800 trained 20 steps
    in 32 s instead of 153: benchmarks/RESULTS.md)."""
    classes = np.ceil(np.log2(np.maximum(lengths, SHORT)))
    for kind in np.unique(classes):
        alike = np.flatnonzero(classes == kind)
        for start in range(0, len(alike), size):
            yield alike[start:start + size]


def _akaike(squared: np.ndarray, n: np.ndarray, parameters: int) -> np.ndarray:
    return n * np.log(np.maximum(squared, 1e-300) / n) + 2 * parameters


def least_squares(z: np.ndarray, real: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each row's least-squares line through its real columns (column numbers as time): (slope, mean column, mean
    value); slope 0 where fewer than two columns are real."""
    t = np.arange(z.shape[1], dtype=np.float64)[None]
    n = np.maximum(real.sum(1), 1)
    t_mean, z_mean = (t * real).sum(1) / n, (z * real).sum(1) / n
    spread = (((t - t_mean[:, None]) ** 2) * real).sum(1)
    covariance = ((t - t_mean[:, None]) * (z - z_mean[:, None]) * real).sum(1)
    return np.where(spread > 0, covariance / np.where(spread > 0, spread, 1.0), 0.0), t_mean, z_mean


def _smoothed(z: np.ndarray, real: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    count = real.sum(1)
    slope, _, _ = least_squares(z, real)
    first = z[np.arange(len(z)), np.argmax(real, 1)]
    level = np.repeat(first[:, None], len(ALPHAS), 1)  # [S, alphas]: the padding leaves it at the first value
    squared = np.zeros_like(level)
    for column in range(z.shape[1]):
        error = np.where(real[:, column, None], z[:, column, None] - level, 0.0)
        squared += error**2
        level += ALPHAS[None] * error
    best = np.argmin(squared, 1)  # ties (short series): the smallest alpha
    rows = np.arange(len(z))
    alpha, final = ALPHAS[best], level[rows, best]
    drift = (1 - (1 - alpha) ** count) / alpha - 1
    return np.stack([final + slope / 2 * drift, slope / 2], 1), alpha, squared[rows, best]


def _damped(z: np.ndarray, real: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    alpha, beta, phi = (part[None] for part in DAMPED_GRID)
    first = z[np.arange(len(z)), np.argmax(real, 1)]
    level = np.repeat(first[:, None], alpha.shape[1], 1)  # [S, grid]: held through the padding
    trend, squared = np.zeros_like(level), np.zeros_like(level)
    started = np.zeros(len(z), bool)
    for column in range(z.shape[1]):
        ahead = level + phi * trend
        error = np.where((real[:, column] & started)[:, None], z[:, column, None] - ahead, 0.0)
        squared += error**2
        level = np.where(started[:, None], ahead + alpha * error, level)
        trend = np.where(started[:, None], phi * trend + alpha * beta * error, trend)
        started |= real[:, column]
    best = np.argmin(squared, 1)
    rows = np.arange(len(z))
    return np.stack([level[rows, best], trend[rows, best], phi[0, best]], 1), squared[rows, best]


def forecast(line: np.ndarray, horizon: int, offset=0) -> np.ndarray:
    """[S, horizon] the lines' values at steps offset + 1 .. offset + horizon (`offset`: a number or one per line)."""
    return line[:, :1] + line[:, 1:] * (np.reshape(offset, (-1, 1)) + np.arange(1, horizon + 1)[None])


def damped_forecast(damped: np.ndarray, horizon: int, offset=0) -> np.ndarray:
    """[S, horizon] the damped trends' forecasts (rows of level, trend, phi, ..) at steps offset + 1 .. offset +
    horizon (phi 1: an undamped trend)."""
    steps = np.reshape(offset, (-1, 1)) + np.arange(1, horizon + 1)[None]
    level, trend, phi = (damped[:, k, None] for k in range(3))
    return level + trend * np.where(phi == 1, steps, phi * (1 - phi**steps) / np.where(phi == 1, 1, 1 - phi))


def partner(smoothed: Smoothed, horizon: int, offset=0, ets=None) -> np.ndarray:
    """[S, horizon] the classical forecast: Theta's, or the mean of Theta's and the damped trend's where that
    joined; with `ets` (the exponential smoothing's forecasts [S, horizon] in these units, NaN where it has none),
    the mean of that and the exponential smoothing's."""
    theta = forecast(smoothed.lines, horizon, offset)
    if smoothed.damped is not None:
        joined = smoothed.damped[:, 3:]
        theta = theta + joined * (damped_forecast(smoothed.damped, horizon, offset) - theta) / 2
    return theta if ets is None else np.where(np.isfinite(ets), (theta + ets) / 2, theta)


def in_model_units(smoothed: Smoothed, horizon: int, base: np.ndarray, scale: np.ndarray, offset=0,
                   ets=None) -> np.ndarray:
    """[S, horizon] the partner's forecasts measured as the network's outputs are: from each window's base, in its
    scale."""
    return (partner(smoothed, horizon, offset, ets) - base[:, None]) / scale[:, None]


def share_for(pair_counts) -> float:
    """The partner's share of the mean for a network trained on series with `pair_counts` windows each: SHARE
    from FULL_WINDOWS on, below that the network's part shrinking in proportion, each series counted for at most
    SERIES_WINDOWS. A network fitted to one series leans on its partner more however long the series is (its
    windows overlap: they tell one history): on short M3 series alone (training parts) the partner's best share
    was 0.85-1; on 495 single series in 21 sets (M1, M3, Tourism, 11 real and the repository's four, long ones
    included, two or three origins) a share of at least 0.7 beat the old rule (geometric mean MASE over the
    better of AutoETS and AutoARIMA 1.100x -> 1.085x; better on 9 sets, worse on 3), steadier than at least 0.85
    (worse on 5) (benchmarks/RESULTS.md)."""
    windows = np.minimum(np.asarray(pair_counts), SERIES_WINDOWS).sum()
    return 1.0 - (1.0 - SHARE) * min(1.0, float(windows) / FULL_WINDOWS)


def mix(out: np.ndarray, partner: np.ndarray, share: float = SHARE) -> np.ndarray:
    """Network outputs [members, S, H] mixed with the partner's [S, H] (both in model units): its share `share`."""
    return (1 - share) * out + share * partner[None]
