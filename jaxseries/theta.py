"""The classical partner: the Theta method (Assimakopoulos & Nikolopoulos, 2000), whose forecast the network's is
averaged with (`combine="theta"`).

Theta won M3 and is the benchmark every forecaster there is measured against; the network and it make different
errors, so their mean beat both by sMAPE on every M3 frequency's training parts (by MASE on all but "other") (benchmarks/RESULTS.md). It runs on the
values the network sees before its windows (transformed, seasonal indices removed), as Hyndman & Billah (2003)
write it: simple exponential smoothing with a drift of half the series' least-squares slope,

    forecast(h) = level_n + slope / 2 * (h - 1 + (1 - (1 - alpha)^n) / alpha),

alpha chosen per series on a grid by the one-step errors. The forecast is a line in h: a run stores each series'
intercept and slope, so it forecasts from its stored rows as from the whole history. The same alpha smooths the
level each of the series' windows shows the network (`windows`), so a run stores it too.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

ALPHAS = np.linspace(0.05, 1.0, 20)
SHARE = 0.5  # Theta's share of a combined forecast: an even mean (benchmarks/RESULTS.md: on the validation windows
# the network looks better than it is, early stopping chose it there, so a share chosen on them is always 0)
CHUNK = 4096  # series smoothed at once (bounds the [series, rows, alphas] work on large panels)


class Smoothed(NamedTuple):
    lines: np.ndarray  # [S, 2] (intercept, slope) of each series' Theta forecast, intercept + slope * h, h = 1, 2, ..
    alphas: np.ndarray  # [S] its simple exponential smoothing's coefficient (also the window's smoothed level's)


def smoothed(values: np.ndarray, observed: np.ndarray) -> Smoothed:
    """Each series' Theta line and smoothing coefficient. `values` [S, P]: each series right-aligned (its last row
    in the last column), `observed` 1 on its real rows (left padding 0). A series with one row forecasts that row."""
    lines, alphas = np.zeros((len(values), 2)), np.zeros(len(values))
    for start in range(0, len(values), CHUNK):
        part = slice(start, start + CHUNK)
        lines[part], alphas[part] = _smoothed(values[part].astype(np.float64), observed[part] > 0)
    return Smoothed(lines, alphas)


def _smoothed(z: np.ndarray, real: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    count = real.sum(1)
    t = np.arange(z.shape[1], dtype=np.float64)[None]
    n = np.maximum(count, 1)
    t_mean = (t * real).sum(1) / n
    z_mean = (z * real).sum(1) / n
    spread = (((t - t_mean[:, None]) ** 2) * real).sum(1)
    covariance = ((t - t_mean[:, None]) * (z - z_mean[:, None]) * real).sum(1)
    slope = np.where(spread > 0, covariance / np.where(spread > 0, spread, 1.0), 0.0)
    first = z[np.arange(len(z)), np.argmax(real, 1)]
    level = np.repeat(first[:, None], len(ALPHAS), 1)  # [S, alphas]: the padding leaves it at the first value
    squared = np.zeros_like(level)
    for column in range(z.shape[1]):
        error = np.where(real[:, column, None], z[:, column, None] - level, 0.0)
        squared += error**2
        level += ALPHAS[None] * error
    best = np.argmin(squared, 1)  # ties (short series): the smallest alpha
    alpha, final = ALPHAS[best], level[np.arange(len(z)), best]
    drift = (1 - (1 - alpha) ** count) / alpha - 1
    return np.stack([final + slope / 2 * drift, slope / 2], 1), alpha


def forecast(line: np.ndarray, horizon: int, offset=0) -> np.ndarray:
    """[S, horizon] the lines' values at steps offset + 1 .. offset + horizon (`offset`: a number or one per line)."""
    return line[:, :1] + line[:, 1:] * (np.reshape(offset, (-1, 1)) + np.arange(1, horizon + 1)[None])


def in_model_units(line: np.ndarray, horizon: int, base: np.ndarray, scale: np.ndarray, offset=0) -> np.ndarray:
    """[S, horizon] the lines' forecasts measured as the network's outputs are: from each window's base, in its
    scale."""
    return (forecast(line, horizon, offset) - base[:, None]) / scale[:, None]


def mix(out: np.ndarray, partner: np.ndarray, share: float = SHARE) -> np.ndarray:
    """Network outputs [members, S, H] mixed with Theta's [S, H] (both in model units): Theta's share `share`."""
    return (1 - share) * out + share * partner[None]
