"""Windows cut on the device from a padded panel: memory grows with the points, not with windows x window length.

A panel of S series lives as arrays of S rows, each series right-aligned so that its last fitted row is row P-1
(left padding marked by `observed` = 0). A training example is a pair (series, origin); a step gathers its batch of
windows inside the compiled step from the pairs it drew. One window, origin o, context L, horizon H:

    encoder rows o-L+1..o: [value, observed, past covariates, known features, 0, 0, static]
    decoder rows o+1..o+H: [0, 0, 0...,                      known features, k/H, 1, static]
    targets rows o+1..o+H

Values are measured from the window's level (the mean of its last `reference` observed values, known at the
origin) and divided by the series' scale, so every series reaches the network as a scale-free shape. A missing
value is an unobserved row: 0 with observed 0 in the context, NaN as a target (left out of the loss). With
`smoothed`, each row also carries the window's smoothed level in the same units: the exponentially weighted mean
of its observed values, weights (1 - alpha)^age with the series' own alpha (Theta's, chosen on its history),
which tells a noisy series' level from a moving one's (benchmarks/RESULTS.md).

The recursive strategy (the seed's layout) cuts one-step-shift windows instead: rows o-L+1..o in, each with the
known features of the row after it, and rows o-L+2..o+1 as targets; a forecast rolls it forward a row at a time.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np


class PanelArrays(NamedTuple):
    """The panel in model units (a pytree of [S, ...] arrays), and where each series' training pairs start."""

    values: np.ndarray  # [S, P] transformed targets (0 in padding)
    observed: np.ndarray  # [S, P] 1 for real rows
    past: np.ndarray  # [S, P, c] scaled past covariates, then 1/0 observed columns (`PanelSpec.observed_covariates`)
    known: np.ndarray  # [S, P + H, q] calendar and known-future features (H rows past the end, for forecasts)
    static: np.ndarray  # [S, s] static features (standardized numbers, one-hot categories)
    scale: np.ndarray  # [S] what a series' values are divided by
    alpha: np.ndarray  # [S] its smoothing coefficient (the smoothed level's)
    pair_start: np.ndarray  # [S'] first pair of each series with training windows (pairs sorted by series)
    pair_count: np.ndarray  # [S'] how many pairs it has


@dataclasses.dataclass(frozen=True)
class WindowLayout:
    """How windows are cut (static: part of the compiled program)."""

    context: int
    horizon: int
    reference: int  # the window's level is the mean of this many last observed values
    sampling: str = "window"  # "window": every window equally likely; "series": every series equally likely
    strategy: str = "direct"  # or "recursive" (see the module doc)
    smoothed: bool = False  # each row also shows the window's smoothed level
    counts: bool = False  # targets are counts with their window's level and scale (a negative binomial's likelihood)

    def input_dim(self, arrays: PanelArrays) -> int:
        return 2 + arrays.past.shape[-1] + arrays.known.shape[-1] + 2 + arrays.static.shape[-1] + self.smoothed

    def gather(self, arrays: PanelArrays, pairs, with_targets: bool = True):
        """Windows for pairs [B, 2] (series, origin): x [B, L + H, input_dim] (recursive: [B, L, input_dim]), and
        y [B, H] (recursive: [B, L, 1]; `counts`: [B, H, 3]) when asked; without targets, x and each window's level
        and scale."""
        series, origins = pairs[:, 0], pairs[:, 1]
        rows = origins[:, None] + jnp.arange(1 - self.context, 1)
        at = series[:, None]
        values, observed = arrays.values[at, rows], arrays.observed[at, rows]
        level, scale = self.level(values, observed), arrays.scale[series][:, None]
        recursive = self.strategy == "recursive"
        known = arrays.known[at, rows + 1 if recursive else rows]
        static = self.window_static(arrays, series, values, observed, level, scale)
        x = self.encoder(values, observed, arrays.past[at, rows], known, static, level, scale)
        if not recursive:
            ahead = origins[:, None] + jnp.arange(1, self.horizon + 1)
            x = jnp.concatenate([x, self.decoder(arrays.known[at, ahead], static, arrays.past.shape[-1])], 1)
        if not with_targets:
            return x, level, scale[:, 0]
        targets = rows + 1 if recursive else ahead  # a missing value is a NaN target, which the loss leaves out
        seen = arrays.observed[at, targets] > 0
        if self.counts:  # [B, H, 3]: the count (untransformed, no seasonal indices), the window's level and scale
            parts = jnp.where(seen, arrays.values[at, targets], jnp.nan), level[:, None], scale
            return x, jnp.stack(jnp.broadcast_arrays(*parts), -1)
        y = jnp.where(seen, (arrays.values[at, targets] - level[:, None]) / scale, jnp.nan)
        return x, y[..., None] if recursive else y

    def level(self, values, observed):
        """The mean of each window's last `reference` observed values, however far back a gap puts them: [B]."""
        later = jnp.cumsum(observed[:, ::-1], 1)[:, ::-1]  # observed values at or after each row
        tail = observed * (later <= self.reference)
        return jnp.sum(values * tail, 1) / jnp.maximum(jnp.sum(tail, 1), 1.0)

    def window_static(self, arrays: PanelArrays, series, values, observed, level, scale):
        """What every row of a window carries: the series' static features, then (`smoothed`) the window's
        smoothed level measured from its level, scaled: [B, s (+ 1)]."""
        static = arrays.static[series]
        if not self.smoothed:
            return static
        ages = jnp.arange(values.shape[1] - 1, -1, -1, dtype=values.dtype)
        weights = observed * (1 - arrays.alpha[series][:, None]) ** ages
        smoothed = jnp.sum(values * weights, 1) / jnp.maximum(jnp.sum(weights, 1), 1e-12)
        return jnp.concatenate([static, ((smoothed - level) / scale[:, 0])[:, None]], 1)

    def encoder(self, values, observed, past, known, static, level, scale):
        """The context rows [B, L, input_dim]: value (from the level, scaled), observed flag, past covariates, known
        features, two empty decoder columns, static features."""
        batch, length = values.shape
        return jnp.concatenate([
            (observed * (values - level[:, None]) / scale)[..., None], observed[..., None], past * observed[..., None],
            known, jnp.zeros((batch, length, 2), values.dtype),
            jnp.broadcast_to(static[:, None], (batch, length, static.shape[-1]))], -1)

    def decoder(self, known, static, past_columns: int):
        """The forecast rows [B, H, input_dim]: known features, the step's position k/H and a flag."""
        batch, dtype = known.shape[0], known.dtype
        position = jnp.broadcast_to(jnp.arange(1, self.horizon + 1, dtype=dtype) / self.horizon, (batch, self.horizon))
        return jnp.concatenate([
            jnp.zeros((batch, self.horizon, 2 + past_columns), dtype), known, position[..., None],
            jnp.ones((batch, self.horizon, 1), dtype),
            jnp.broadcast_to(static[:, None], (batch, self.horizon, static.shape[-1]))], -1)

    def rollout(self, predict, arrays: PanelArrays, pairs, steps: int):
        """Recursive forecasts from pairs [B, 2]: `predict` (windows -> outputs [B, L, 1]) reads the window, its last
        output becomes the next row, the window slides; [B, steps] transformed values (seasonal indices removed)."""
        series, origins = pairs[:, 0], pairs[:, 1]
        rows = origins[:, None] + jnp.arange(1 - self.context, 1)
        at, scale = series[:, None], arrays.scale[series][:, None]
        values, observed = arrays.values[at, rows], arrays.observed[at, rows]
        no_past = jnp.zeros(values.shape + (arrays.past.shape[-1],), values.dtype)  # refused for this strategy

        def step(window, j):
            values, observed = window
            level = self.level(values, observed)
            static = self.window_static(arrays, series, values, observed, level, scale)
            x = self.encoder(values, observed, no_past, arrays.known[at, rows + 1 + j], static, level, scale)
            next_value = level + scale[:, 0] * predict(x)[:, -1, 0]
            slide = lambda a, new: jnp.concatenate([a[:, 1:], new[:, None]], 1)  # noqa: E731
            return (slide(values, next_value), slide(observed, jnp.ones_like(next_value))), next_value

        return jax.lax.scan(step, (values, observed), jnp.arange(steps))[1].T

    def sample(self, arrays: PanelArrays, key, batch_size: int):
        """Pair indices for one batch of the "series" sampling: a series uniformly, then one of its windows."""
        pick, offset = jax.random.split(key)
        which = jax.random.randint(pick, (batch_size,), 0, arrays.pair_start.shape[0])
        return arrays.pair_start[which] + jax.random.randint(offset, (batch_size,), 0, 1 << 30) % \
            arrays.pair_count[which]


@functools.lru_cache(maxsize=None)
def compiled_gather(layout: WindowLayout, with_targets: bool):
    return jax.jit(functools.partial(layout.gather, with_targets=with_targets))


def gather_all(layout: WindowLayout, arrays: PanelArrays, pairs: np.ndarray, with_targets: bool = True,
               chunk: int = 16384):
    """Every window of `pairs` on the host (validation and forecast windows: one or a few per series), in chunks
    so the peak stays bounded on large panels."""
    run = compiled_gather(layout, with_targets)
    parts = [jax.device_get(run(arrays, jnp.asarray(pairs[i : i + chunk]))) for i in range(0, len(pairs), chunk)]
    return tuple(np.concatenate(p) for p in zip(*parts))
