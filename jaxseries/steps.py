"""The compiled programs: the pure train step, a chunk of steps in one dispatch, prediction, and where data sits.

Everything a step needs, including which examples it sees, comes from the train state, so a run resumed from a
checkpoint takes exactly the steps the uninterrupted run would have.
"""

from __future__ import annotations

import os
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxseries import distributions, kernel
from jaxseries.config import ModelConfig
from jaxseries.model import LSTMRegressor
from jaxseries.state import TrainState, make_optimizer
from jaxseries.windows import WindowLayout


def example_losses(params, model_config: ModelConfig, x, y):
    """Each example's loss (`model_config.loss`: mse, mae, huber or pinball; or its distribution's), averaged over
    its outputs: [N]. A NaN target (a missing value) is left out of its example's average."""
    if model_config.distribution is not None:  # outputs [N, H * P]: each step's parameters
        out = LSTMRegressor(model_config).apply(params, x).reshape(x.shape[0], model_config.horizon, -1)
        pointwise, observed = distributions.pointwise_loss(model_config.distribution, out, y)
        return jnp.sum(pointwise, axis=1) / jnp.maximum(jnp.sum(observed, axis=1), 1)
    observed = jnp.isfinite(y)
    error = jnp.where(observed, LSTMRegressor(model_config).apply(params, x) - jnp.where(observed, y, 0.0), 0.0)
    if model_config.loss == "mae":
        pointwise = jnp.abs(error)
    elif model_config.loss == "pinball":  # error = prediction - truth: under-forecasts cost `quantile` per unit
        pointwise = jnp.maximum(-model_config.quantile * error, (1 - model_config.quantile) * error)
    elif model_config.loss == "huber":
        pointwise = optax.huber_loss(error, delta=1.0)
    else:
        pointwise = jnp.square(error)
    pointwise, observed = (a.reshape(a.shape[0], -1) for a in (pointwise, observed))
    return jnp.sum(pointwise, axis=1) / jnp.maximum(jnp.sum(observed, axis=1), 1)


def loss(params, model_config: ModelConfig, x, y, weights=None):
    """The mean loss over examples; with `weights` [N] (0 marks padding) the weighted mean."""
    per_example = example_losses(params, model_config, x, y)
    if weights is None:
        return jnp.mean(per_example)
    return jnp.sum(weights * per_example) / jnp.maximum(jnp.sum(weights), 1.0)


def chunked_loss(params, model_config: ModelConfig, x, y, chunk: int = 4096):
    """The mean loss over many examples (a panel's validation windows), `chunk` at a time so the activations of
    one chunk are all that is alive: memory stays flat however many series there are."""
    count = x.shape[0]
    if count <= chunk:
        return loss(params, model_config, x, y)
    pad = -count % chunk

    def split(a):
        return jnp.pad(a, [(0, pad)] + [(0, 0)] * (a.ndim - 1)).reshape((-1, chunk) + a.shape[1:])

    real = split(jnp.ones(count, jnp.float32))
    sums = jax.lax.map(lambda part: jnp.sum(part[2] * example_losses(params, model_config, part[0], part[1])),
                       (split(x), split(y), real))
    return jnp.sum(sums) / count


def make_train_step(model_config: ModelConfig) -> Callable:
    """Returns the pure `train_step(state, (x, y)) -> (state, loss)`: one Adam step on the model's loss."""
    def train_step(state: TrainState, batch):
        # The real rate, decay and weight decay are read from state.opt_state; its structure says which optimizer.
        optimizer = make_optimizer(0.0, 0, 0.0 if "weight_decay" in state.opt_state.hyperparams else None)
        x, y, *weights = batch  # optional third part: example weights (padding masked out)
        value, grads = jax.value_and_grad(loss)(state.params, model_config, x, y, *weights)
        updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        return state.replace(step=state.step + 1, params=params, opt_state=opt_state), value

    return train_step


def shuffled_positions(key, size: int, count, positions):
    """Elements `positions` of a pseudo-random permutation of range(count) (count <= size, may be traced), in work
    that grows with len(positions), not with count: a 4-round Feistel network on the smallest power-of-four domain
    holding `size`, cycle-walking any value >= count back into range (positions must be < count: the walk from
    inside the range always returns to it). Every epoch is a true permutation."""
    bits = max(2, int(size - 1).bit_length())
    half = (bits + 1) // 2
    mask = jnp.uint32((1 << half) - 1)
    round_keys = jax.random.bits(key, (4,), jnp.uint32)

    def encrypt(x):
        left, right = x >> half, x & mask
        for round_key in round_keys:
            mixed = (right ^ round_key) * jnp.uint32(0x9E3779B1)
            mixed = (mixed ^ (mixed >> 15)) * jnp.uint32(0x85EBCA6B)
            left, right = right, left ^ ((mixed ^ (mixed >> 13)) & mask)
        return (left << half) | right

    count = jnp.asarray(count, jnp.uint32)
    start = encrypt(jnp.asarray(positions, jnp.uint32))
    walked = jax.lax.while_loop(lambda x: jnp.any(x >= count), lambda x: jnp.where(x >= count, encrypt(x), x), start)
    return walked.astype(jnp.int32)


def select_batch(state: TrainState, x, y, batch_size: int | None, count=None, layout: WindowLayout | None = None):
    """The batch for `state.step`: the full set, or a fixed-size slice of this epoch's shuffle.

    Choosing a batch costs O(batch), whatever the number of examples: the shuffle is a keyed permutation evaluated
    at this step's positions only. `count` (traced, for padded data such as backtest folds) marks the first `count`
    rows as real: the batch then comes with weights that mask the padding, and shuffles draw from the real rows only.
    With a window `layout`, x is a panel (`windows.PanelArrays`) and y its (series, origin) pairs: the batch's
    windows are cut from the panel here, inside the compiled step.
    """
    size = y.shape[0]

    def take(index):
        return (x[index], y[index]) if layout is None else layout.gather(x, y[index])

    real = None if count is None else (jnp.arange(size) < count).astype(jnp.float32)
    if batch_size is None or batch_size >= size:
        return take(jnp.arange(size)) if count is None else (x, y, real)
    if layout is not None and layout.sampling == "series":
        return take(layout.sample(x, jax.random.fold_in(state.key, state.step), batch_size))
    count = size if count is None else count
    epoch, position = jnp.divmod(state.step, jnp.maximum(count // batch_size, 1))  # each epoch's ragged tail dropped
    positions = position * batch_size + jnp.arange(batch_size)
    inside = positions < count  # False only where a padded member has fewer real rows than one batch
    index = jnp.where(inside, shuffled_positions(jax.random.fold_in(state.key, epoch), size, count,
                                                 jnp.where(inside, positions, 0)), size - 1)
    return take(index) if real is None else (x[index], y[index], real[index] * inside)


@kernel.cached_per_setting
def compiled_chunk(model_config: ModelConfig, batch_size: int | None, length: int, validate: bool,
                   batch_sharding: jax.sharding.Sharding | None, members: str | None,
                   layout: WindowLayout | None = None):
    """`length` train steps in one dispatch, then (when validating) the validation loss and best weights.

    `members=None`: one model. `"shared"`: the state has a leading axis of models trained side by side (`vmap`) on
    the same data; `"own"`: the data has that axis too, each member its own (padded) set with a real-row `count`.
    With a window `layout` the training data is a panel and its pairs (see `select_batch`).
    """
    train_step = make_train_step(model_config)

    def run(state, x, y, x_val, y_val, count=None):
        def body(state, _):
            batch = select_batch(state, x, y, batch_size, count, layout)
            if batch_sharding is not None:
                batch = jax.lax.with_sharding_constraint(batch, batch_sharding)
            return train_step(state, batch)

        state, losses = jax.lax.scan(body, state, None, length=length)
        if not validate:
            return state, losses, jnp.full((), jnp.nan, jnp.float32)
        val_loss = chunked_loss(state.params, model_config, x_val, y_val)
        better = val_loss < state.best_loss  # NaN is never better
        state = state.replace(
            best_params=jax.tree.map(lambda new, old: jnp.where(better, new, old), state.params, state.best_params),
            best_loss=jnp.where(better, val_loss, state.best_loss),
            best_step=jnp.where(better, state.step, state.best_step),
        )
        return state, losses, val_loss

    if members is not None:
        run = jax.vmap(run, in_axes=(0, None, None, None, None, None) if members == "shared" else 0)
    return jax.jit(run, donate_argnums=0)


@kernel.cached_per_setting
def compiled_apply(model_config: ModelConfig):
    return jax.jit(LSTMRegressor(model_config).apply)


def enable_compilation_cache() -> None:
    """Turns on JAX's persistent compilation cache so a second process skips compiling.

    The directory is $JAXSERIES_COMPILATION_CACHE or ~/.cache/jaxseries/xla; set the variable to "off" to disable.
    A cache directory the user configured in JAX already wins.
    """
    setting = os.environ.get("JAXSERIES_COMPILATION_CACHE", "")
    if setting.lower() in ("off", "0", "false", "no") or jax.config.jax_compilation_cache_dir:
        return
    directory = setting or os.path.join(os.path.expanduser("~"), ".cache", "jaxseries", "xla")
    jax.config.update("jax_compilation_cache_dir", directory)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


class Placement(NamedTuple):
    replicated: jax.sharding.Sharding  # the state and validation data: whole on every device
    examples: jax.sharding.Sharding  # the training set: split over devices when full batch
    batch: jax.sharding.Sharding | None  # each step's mini-batch, split over devices (None: one device)


def one_device() -> Placement:
    single = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
    return Placement(single, single, None)


def data_placement(count: int, batch_size: int | None) -> Placement:
    """Data parallelism over every device when the batch divides evenly; otherwise one device (or, across
    processes, the whole batch on every device).

    The devices are the local ones, or every process's after `jax.distributed.initialize()` (each process runs the
    same script on the same data). XLA partitions the compiled step from these shardings and inserts the gradient
    all-reduce itself. Set JAXSERIES_DATA_PARALLEL=off to keep to one device (one per process).
    """
    devices = jax.devices()
    batch = count if batch_size is None or batch_size >= count else batch_size
    off = os.environ.get("JAXSERIES_DATA_PARALLEL", "").lower() in ("off", "0", "false", "no")
    split_possible = len(devices) > 1 and batch % len(devices) == 0 and not off
    if jax.process_count() == 1 and not split_possible:
        return one_device()
    mesh = jax.sharding.Mesh(np.array(devices), ("data",))
    split = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("data"))
    whole = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec())
    if not split_possible:  # several processes must still run one program: each computes the whole batch
        return Placement(whole, whole, None)
    full_batch = batch == count
    return Placement(whole, split if full_batch else whole, None if full_batch else split)


def place(tree, sharding: jax.sharding.Sharding):
    """Puts host values (the same in every process) onto `sharding`, also when it spans several processes."""
    if jax.process_count() == 1:
        return jax.device_put(tree, sharding)
    return jax.tree.map(
        lambda leaf: jax.make_array_from_callback(np.shape(leaf), sharding, lambda index: np.asarray(leaf)[index]), tree)
