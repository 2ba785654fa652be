"""Windows cut on the device from a padded panel: memory grows with the points, not with windows x window length.

A panel of S series lives as arrays of S rows, each series right-aligned so that its last fitted row is row P-1
(left padding marked by `observed` = 0). A training example is a pair (series, origin); a step gathers its batch of
windows inside the compiled step from the pairs it drew. One window, origin o, context L, horizon H:

    encoder rows o-L+1..o: [value, observed, past covariates, known features, 0, 0, static]
    decoder rows o+1..o+H: [0, 0, 0...,                      known features, k/H, 1, static]
    targets rows o+1..o+H

Values are measured from the window's level (the mean of its last `reference` observed values, known at the
origin) and divided by the series' scale, so every series reaches the network as a scale-free shape.
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
    past: np.ndarray  # [S, P, c] scaled past covariates
    known: np.ndarray  # [S, P + H, q] calendar and known-future features (H rows past the end, for forecasts)
    static: np.ndarray  # [S, s] static features (standardized numbers, one-hot categories)
    scale: np.ndarray  # [S] what a series' values are divided by
    pair_start: np.ndarray  # [S'] first pair of each series with training windows (pairs sorted by series)
    pair_count: np.ndarray  # [S'] how many pairs it has


@dataclasses.dataclass(frozen=True)
class WindowLayout:
    """How windows are cut (static: part of the compiled program)."""

    context: int
    horizon: int
    reference: int  # the window's level is the mean of this many last observed values
    sampling: str = "window"  # "window": every window equally likely; "series": every series equally likely

    def input_dim(self, arrays: PanelArrays) -> int:
        return 2 + arrays.past.shape[-1] + arrays.known.shape[-1] + 2 + arrays.static.shape[-1]

    def gather(self, arrays: PanelArrays, pairs, with_targets: bool = True):
        """Windows for pairs [B, 2] (series, origin): x [B, L + H, input_dim], and y [B, H] when asked."""
        series, origins = pairs[:, 0], pairs[:, 1]
        rows = origins[:, None] + jnp.arange(1 - self.context, 1)
        ahead = origins[:, None] + jnp.arange(1, self.horizon + 1)
        at = series[:, None]
        values, observed = arrays.values[at, rows], arrays.observed[at, rows]
        tail = observed[:, -self.reference:]
        level = jnp.sum(values[:, -self.reference:] * tail, 1) / jnp.maximum(jnp.sum(tail, 1), 1.0)
        scale = arrays.scale[series][:, None]
        batch = len(origins)
        encoder = jnp.concatenate([
            (observed * (values - level[:, None]) / scale)[..., None], observed[..., None],
            arrays.past[at, rows] * observed[..., None], arrays.known[at, rows],
            jnp.zeros((batch, self.context, 2), values.dtype)], -1)
        position = jnp.broadcast_to(jnp.arange(1, self.horizon + 1, dtype=values.dtype) / self.horizon,
                                    (batch, self.horizon))
        decoder = jnp.concatenate([
            jnp.zeros((batch, self.horizon, 2 + arrays.past.shape[-1]), values.dtype), arrays.known[at, ahead],
            position[..., None], jnp.ones((batch, self.horizon, 1), values.dtype)], -1)
        static = jnp.broadcast_to(arrays.static[series][:, None], (batch, self.context + self.horizon,
                                                                    arrays.static.shape[-1]))
        x = jnp.concatenate([jnp.concatenate([encoder, decoder], 1), static], -1)
        if not with_targets:
            return x, level, scale[:, 0]
        return x, (arrays.values[at, ahead] - level[:, None]) / scale

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
