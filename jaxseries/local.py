"""Local models: one LSTM per series of a panel, every one trained in the same compiled call.

The panel is encoded exactly as for the global model (same split, scaling and windows); each series' windows
become one member's own data in the population machinery (`loop.fit` with `counts`), each member stopping on its
own validation window. A member forecasts only its own series.
"""

from __future__ import annotations

import dataclasses

import jax
import numpy as np

from jaxseries import loop
from jaxseries.steps import compiled_apply
from jaxseries.windows import gather_all

# Full batches cost every window of every series at every step (M3 monthly: 137,000 windows, about 4 s a step on
# 2 cores); 16 windows per series and step is about a tenth of that.
LOCAL_BATCH = 16


def own_data(layout, arrays, pairs: np.ndarray, count: int):
    """Each series' training windows, padded to the longest: x [S, N, L + H, F], y [S, N, H], counts [S]."""
    x, y = gather_all(layout, arrays, pairs)
    counts = np.bincount(pairs[:, 0], minlength=count)
    missing = np.flatnonzero(counts == 0)
    if len(missing):
        return None, None, missing
    slot = np.arange(len(pairs)) - np.repeat(np.cumsum(counts) - counts, counts)
    x_own = np.zeros((count, counts.max()) + x.shape[1:], np.float32)
    y_own = np.zeros((count, counts.max()) + y.shape[1:], np.float32)
    x_own[pairs[:, 0], slot], y_own[pairs[:, 0], slot] = x, y
    return (x_own, y_own), counts, missing


def train_local(ids, layout, arrays, pairs, val_windows, model_config, train_config, extra, saving):
    """One member per series, each on mini-batches of its own windows (`train_config.batch_size`, default
    LOCAL_BATCH) and its own validation windows."""
    count = len(ids)
    data, counts, missing = own_data(layout, arrays, pairs, count)
    if len(missing):
        raise ValueError(f"series {ids[missing[0]]!r} has no training window of its own ({len(missing)} such series):"
                         " a local model needs one; use the global model (the default), or shorten context/horizon")
    x_val, y_val = val_windows
    per_series = len(x_val) // count
    configs = tuple(dataclasses.replace(train_config, seed=train_config.seed + i) for i in range(count))
    return loop.fit(*data, model_config, configs, counts=counts, extra=extra,
                    validation_data=(x_val.reshape((count, per_series) + x_val.shape[1:]),
                                     y_val.reshape((count, per_series) + y_val.shape[1:])), **saving)


def predict_local(run, x: np.ndarray, members: np.ndarray) -> np.ndarray:
    """Member members[i] applied to window x[i]: [S, H]."""
    params = jax.tree.map(lambda leaf: leaf[members], run.params)
    apply = jax.vmap(compiled_apply(run.model_config), in_axes=(0, 0))
    return np.asarray(apply(params, x[:, None]))[:, 0]
