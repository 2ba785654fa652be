"""Training: a pure train step, many steps per dispatch, validation with early stopping, checkpoints.

The loop on the host only slices the run into chunks (one compiled `lax.scan` over steps each), reads the
losses once per chunk, and saves. Everything a step needs, including which examples it sees, comes from the
train state, so a run resumed from a checkpoint takes exactly the steps the uninterrupted run would have.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
import signal
import sys
import threading
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import struct
from tqdm.auto import tqdm

from jaxseries import checkpoint, validation
from jaxseries.config import ModelConfig, TrainConfig, from_dict, to_dict
from jaxseries.errors import CheckpointError, DivergenceError
from jaxseries.model import LSTMRegressor, init_params


class TrainState(struct.PyTreeNode):
    step: jax.Array  # int32: Adam steps taken
    params: Any
    opt_state: Any
    key: jax.Array  # uint32[2]: the data-order stream; epoch e shuffles with fold_in(key, e)
    best_params: Any  # the weights with the lowest validation loss so far (when validating)
    best_loss: jax.Array  # float32, +inf until a validation loss is seen
    best_step: jax.Array  # int32


def _schedule(learning_rate, decay_steps):
    """The step size: the rate, decaying to zero along a cosine over `decay_steps` (constant when 0)."""

    def step_size(count):
        fraction = jnp.clip(count / jnp.maximum(decay_steps, 1), 0.0, 1.0)
        factor = jnp.where(decay_steps > 0, 0.5 * (1.0 + jnp.cos(jnp.pi * fraction)), 1.0)
        return -learning_rate * factor

    return optax.scale_by_schedule(step_size)


def _adam(learning_rate, decay_steps):
    return optax.chain(optax.scale_by_adam(), _schedule(learning_rate, decay_steps))


def _adamw(learning_rate, decay_steps, weight_decay):
    """Adam with decoupled weight decay, in optax.adamw's order: decay added to the Adam direction, then scaled."""
    return optax.chain(optax.scale_by_adam(), optax.add_decayed_weights(weight_decay),
                       _schedule(learning_rate, decay_steps))


def make_optimizer(learning_rate, decay_steps=0, weight_decay=None) -> optax.GradientTransformation:
    # Rate, decay and weight decay live in the optimizer state, so one compiled program serves every value.
    if weight_decay is None:  # plain Adam: the optimizer state of every checkpoint before weight decay existed
        return optax.inject_hyperparams(_adam)(learning_rate=learning_rate, decay_steps=decay_steps)
    return optax.inject_hyperparams(_adamw)(learning_rate=learning_rate, decay_steps=decay_steps,
                                            weight_decay=weight_decay)


def decay_steps(train_config: TrainConfig) -> int:
    return train_config.steps if train_config.lr_decay == "cosine" else 0


def create_train_state(model_config: ModelConfig, learning_rate, seed: int, decay_steps: int = 0,
                       weight_decay: float | None = None, forget_bias: float | None = None) -> TrainState:
    """The state before step 0, built on the host: nothing here compiles.

    `forget_bias` (with a model whose own forget_bias is 0) puts the forget-gate shift into the initial bias
    instead: the same model, with the shift a per-member value in a population.
    """
    params = init_params(model_config, seed)
    if forget_bias is not None:
        for layer in range(model_config.num_layers):
            bias = params["params"][f"lstm_{layer}"]["bias"]
            bias[model_config.hidden_dim : 2 * model_config.hidden_dim] += forget_bias
    abstract = jax.eval_shape(make_optimizer(learning_rate, decay_steps, weight_decay).init, params)
    opt_state = jax.tree.map(lambda leaf: np.zeros(leaf.shape, leaf.dtype), abstract)
    values = {"learning_rate": learning_rate, "decay_steps": decay_steps, "weight_decay": weight_decay}
    hyperparams = {name: np.asarray(values[name], dtype.dtype) for name, dtype in abstract.hyperparams.items()}
    return TrainState(
        step=np.zeros((), np.int32),
        params=params,
        opt_state=opt_state._replace(hyperparams=hyperparams),
        key=np.array([0, seed & 0xFFFFFFFF], np.uint32),  # jax.random.PRNGKey(seed), without a dispatch
        best_params=params,
        best_loss=np.full((), np.inf, np.float32),
        best_step=np.zeros((), np.int32),
    )


def abstract_train_state(model_config: ModelConfig, train_config: TrainConfig) -> TrainState:
    """Shapes and dtypes of the train state, allocating nothing (restore targets; hostile sizes are cheap)."""
    params = jax.eval_shape(LSTMRegressor(model_config).init, jax.random.PRNGKey(0), jnp.zeros((1, 1, model_config.input_dim)))
    scalar = jax.ShapeDtypeStruct((), jnp.int32)
    return TrainState(
        step=scalar, params=params, key=jax.ShapeDtypeStruct((2,), jnp.uint32), best_params=params,
        opt_state=jax.eval_shape(make_optimizer(train_config.learning_rate, decay_steps(train_config),
                                                train_config.weight_decay).init, params),
        best_loss=jax.ShapeDtypeStruct((), jnp.float32), best_step=scalar,
    )


def mse(params, model_config: ModelConfig, x, y, weights=None):
    """Mean squared error; with `weights` [N] (0 marks padding) the weighted mean over examples."""
    squared = jnp.square(LSTMRegressor(model_config).apply(params, x) - y)
    if weights is None:
        return jnp.mean(squared)
    per_example = jnp.mean(squared.reshape(squared.shape[0], -1), axis=1)
    return jnp.sum(weights * per_example) / jnp.maximum(jnp.sum(weights), 1.0)


def make_train_step(model_config: ModelConfig) -> Callable:
    """Returns the pure `train_step(state, (x, y)) -> (state, loss)`: one Adam step on MSE."""
    def train_step(state: TrainState, batch):
        # The real rate, decay and weight decay are read from state.opt_state; its structure says which optimizer.
        optimizer = make_optimizer(0.0, 0, 0.0 if "weight_decay" in state.opt_state.hyperparams else None)
        x, y, *weights = batch  # optional third part: example weights (padding masked out)
        loss, grads = jax.value_and_grad(mse)(state.params, model_config, x, y, *weights)
        updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        return state.replace(step=state.step + 1, params=params, opt_state=opt_state), loss

    return train_step


def select_batch(state: TrainState, x, y, batch_size: int | None, count=None):
    """The batch for `state.step`: the full set, or a fixed-size slice of this epoch's shuffle.

    `count` (traced, for padded data such as backtest folds) marks the first `count` rows as real: the batch then
    comes with weights that mask the padding, and shuffles draw from the real rows only.
    """
    size = x.shape[0]
    if count is None:
        if batch_size is None or batch_size >= size:
            return x, y
        epoch, position = jnp.divmod(state.step, size // batch_size)  # the ragged tail of each epoch is dropped
        order = jax.random.permutation(jax.random.fold_in(state.key, epoch), size)
        index = jax.lax.dynamic_slice_in_dim(order, position * batch_size, batch_size)
        return x[index], y[index]
    real = (jnp.arange(size) < count).astype(jnp.float32)
    if batch_size is None or batch_size >= size:
        return x, y, real
    epoch, position = jnp.divmod(state.step, jnp.maximum(count // batch_size, 1))
    noise = jax.random.uniform(jax.random.fold_in(state.key, epoch), (size,))
    order = jnp.argsort(jnp.where(real > 0, noise, 2.0))  # this epoch's shuffle of the real rows, padding last
    index = jax.lax.dynamic_slice_in_dim(order, position * batch_size, batch_size)
    return x[index], y[index], real[index]


class Placement(NamedTuple):
    replicated: jax.sharding.Sharding  # the state and validation data: whole on every device
    examples: jax.sharding.Sharding  # the training set: split over devices when full batch
    batch: jax.sharding.Sharding | None  # each step's mini-batch, split over devices (None: one device)


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
        single = jax.sharding.SingleDeviceSharding(devices[0])
        return Placement(single, single, None)
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


@functools.lru_cache(maxsize=None)
def compiled_chunk(model_config: ModelConfig, batch_size: int | None, length: int, validate: bool,
                   batch_sharding: jax.sharding.Sharding | None = None, members: str | None = None):
    """`length` train steps in one dispatch, then (when validating) the validation loss and best weights.

    `members="shared"`: the state has a leading axis of models trained side by side (`vmap`) on the same data;
    `members="own"`: the data has that axis too, each member its own (padded) set with a real-row `count`.
    """
    train_step = make_train_step(model_config)

    def run(state, x, y, x_val, y_val, count=None):
        def body(state, _):
            batch = select_batch(state, x, y, batch_size, count)
            if batch_sharding is not None:
                batch = jax.lax.with_sharding_constraint(batch, batch_sharding)
            return train_step(state, batch)

        state, losses = jax.lax.scan(body, state, None, length=length)
        if not validate:
            return state, losses, jnp.full((), jnp.nan, jnp.float32)
        val_loss = mse(state.params, model_config, x_val, y_val)
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


@functools.lru_cache(maxsize=None)
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


class BestWeights:
    """Shared by `Trained` and `Population`: predict with the best weights when validation ran, else the last."""

    @property
    def validated(self) -> bool:
        return len(self.val_history) > 0

    @property
    def params(self):
        return self.state.best_params if self.validated else self.state.params


@dataclasses.dataclass(frozen=True)
class Trained(BestWeights):
    """A trained model: configs, the final train state, loss history and any forecasting metadata."""

    model_config: ModelConfig
    train_config: TrainConfig
    state: TrainState
    history: np.ndarray  # training loss at every step (before that step's update)
    val_history: np.ndarray  # [evaluations, 2]: (step, validation loss)
    y_squeezed: bool = False  # y came without its output axis: predictions drop it too
    extra: dict = dataclasses.field(default_factory=dict)  # JSON-able metadata of higher layers (forecasting)

    @property
    def best_step(self) -> int:
        return int(self.state.best_step) if self.validated else int(self.state.step)

    def predict(self, x) -> np.ndarray:
        return predict(self, x)


def predict(trained: Trained, x) -> np.ndarray:
    """Predictions for x [N, T, input_dim], shaped like the training y ([N, T] or [N, T, output_dim])."""
    x = validation.prediction_input(x, trained.model_config.input_dim)
    enable_compilation_cache()
    out = np.asarray(compiled_apply(trained.model_config)(trained.params, x))
    return out[..., 0] if trained.y_squeezed else out


def _meta(trained_so_far: dict, history, val_history) -> dict:
    return {
        "format_version": checkpoint.FORMAT_VERSION,
        **trained_so_far,
        "history": checkpoint.to_json_floats(history),
        "val_history": [[int(s), float(v)] for s, v in val_history],
    }


def _intervals_gcd(*intervals: int | None) -> int:
    return functools.reduce(math.gcd, [i for i in intervals if i])


def train(
    x,
    y,
    *,
    hidden_dim: int = 10,
    num_layers: int = 1,
    steps: int = 1000,
    learning_rate: float = 1e-3,
    batch_size: int | None = None,
    seed: int = 0,
    checkpoint_dir=None,
    checkpoint_every: int | None = None,
    resume: bool = False,
    progress: bool = True,
    forget_bias: float = 1.0,
    lr_decay: str = "constant",
    weight_decay: float | None = None,
    log_every: int = 100,
    max_loss: float | None = None,
    overwrite: bool = False,
    on_log: Callable[[int, float], None] | None = None,
) -> Trained:
    """Trains an LSTM mapping x [N, T, input_dim] to y [N, T] or [N, T, output_dim] with MSE and Adam.

    `batch_size=None` trains full batch; otherwise on shuffled mini-batches of that fixed size.
    `lr_decay="cosine"` lowers the rate to zero over `steps`; the default keeps it constant, as the seed.
    `weight_decay` (e.g. 1e-4) makes the optimizer AdamW (decoupled decay); None is plain Adam.
    A non-finite loss (or one above `max_loss`) stops training with a DivergenceError naming the step.
    `checkpoint_dir` saves every `checkpoint_every` steps and at the end; `resume=True` continues from its
    latest step up to `steps` in total. An existing checkpoint is never replaced unless `overwrite=True`.

    >>> trained = train([[[1], [2]], [[3], [4]]], [[1, 3], [3, 7]], steps=5, progress=False)
    >>> predict(trained, [[[1], [2]]]).shape
    (1, 2)
    """
    x, y, squeezed = validation.training_arrays(x, y, head="sequence")
    model_config = ModelConfig(
        input_dim=x.shape[-1], output_dim=y.shape[-1], hidden_dim=hidden_dim, num_layers=num_layers,
        forget_bias=forget_bias,
    )
    train_config = TrainConfig(
        steps=steps, learning_rate=learning_rate, batch_size=batch_size, seed=seed, log_every=log_every,
        lr_decay=lr_decay, max_loss=max_loss, weight_decay=weight_decay,
    )
    return fit(
        x, y, model_config, train_config, y_squeezed=squeezed, checkpoint_dir=checkpoint_dir,
        checkpoint_every=checkpoint_every, resume=resume, overwrite=overwrite, progress=progress, on_log=on_log,
    )


def check_checkpoint_args(checkpoint_dir, checkpoint_every, resume: bool, overwrite: bool) -> str | None:
    """Validates the checkpoint arguments without touching the disk. Returns the absolute directory."""
    if checkpoint_every is not None:
        if isinstance(checkpoint_every, bool) or not isinstance(checkpoint_every, int) or checkpoint_every < 1:
            raise ValueError(f"checkpoint_every must be a positive int or None, got {checkpoint_every!r}")
        if checkpoint_dir is None:
            raise ValueError("checkpoint_every needs a checkpoint_dir to save into")
    if checkpoint_dir is None:
        if resume:
            raise ValueError("resume=True needs the checkpoint_dir to resume from")
        return None
    directory = validation.checkpoint_path(checkpoint_dir)
    if not resume and not overwrite and checkpoint.is_checkpoint_dir(directory):
        raise ValueError(
            f"checkpoint_dir={directory!r} already holds a checkpoint: pass resume=True to continue it, "
            "overwrite=True to replace it, or another directory"
        )
    return directory


def fit(
    x: np.ndarray,
    y: np.ndarray,
    model_config: ModelConfig,
    train_config: TrainConfig,
    *,
    validation_data: tuple[np.ndarray, np.ndarray] | None = None,
    y_squeezed: bool = False,
    checkpoint_dir=None,
    checkpoint_every: int | None = None,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
    on_log: Callable[[int, float], None] | None = None,
    extra: dict | None = None,
) -> Trained:
    """The training loop for checked arrays and configs; `train` and the forecasting layer call it."""
    directory = check_checkpoint_args(checkpoint_dir, checkpoint_every, resume, overwrite)
    extra = dict(extra or {})
    enable_compilation_cache()
    validate = validation_data is not None
    x_val, y_val = validation_data if validate else (None, None)

    history: list[float] = []
    val_history: list[tuple[int, float]] = []
    state = None
    if directory and resume and checkpoint.is_checkpoint_dir(directory):
        state, history, val_history = _resume(directory, model_config, train_config)
    if state is None:
        state = create_train_state(model_config, train_config.learning_rate, train_config.seed, decay_steps(train_config),
                                   train_config.weight_decay)
    placement = data_placement(x.shape[0], train_config.batch_size)
    state = place(state, placement.replicated)  # placed as the compiled chunk returns it: one program
    x, y = place((x, y), placement.examples)
    if validate:
        x_val, y_val = place((x_val, y_val), placement.replicated)
    if directory and not resume and overwrite and os.path.isdir(directory):
        checkpoint.clear(directory)

    described = {
        "model_config": to_dict(model_config),
        "train_config": to_dict(train_config),
        "y_squeezed": y_squeezed,
        "extra": extra,
    }
    chunk = _intervals_gcd(train_config.log_every, train_config.eval_every if validate else None, checkpoint_every)
    if directory:
        checkpoint.remove_incomplete(directory)  # steps a crash cut short are never resumed from
    manager = checkpoint.open_manager(directory, create=True) if directory else None
    step = int(state.step)
    saved_step = step if history else None
    stalls = _evaluations_since_best(val_history)
    bar = tqdm(total=train_config.steps, initial=step, disable=not progress, desc="train", unit="step", mininterval=0.5)

    def save():
        nonlocal saved_step
        if manager and saved_step != step:
            check_finite(state.params, step)
            checkpoint.save(manager, step, state, _meta(described, history, val_history), _last(val_history))
            saved_step = step

    try:
        with StopOnSignal(enabled=manager is not None) as stop:
            while step < train_config.steps:
                length = min(chunk - step % chunk, train_config.steps - step)
                run = compiled_chunk(model_config, train_config.batch_size, length, validate, placement.batch)
                state, losses, val_loss = run(state, x, y, x_val, y_val)
                losses = np.asarray(losses)
                _check_divergence(losses, step, train_config.max_loss)
                for offset, loss in enumerate(losses):
                    if on_log and (step + offset) % train_config.log_every == 0:
                        on_log(step + offset, float(loss))
                history.extend(losses.tolist())
                step += length
                bar.update(length)
                bar.set_postfix(loss=f"{losses[-1]:.4g}", refresh=False)
                if validate and step % train_config.eval_every == 0:
                    val_loss = float(val_loss)
                    stalls = 0 if int(state.best_step) == step else stalls + 1
                    val_history.append((step, val_loss))
                    bar.set_postfix(loss=f"{losses[-1]:.4g}", val=f"{val_loss:.4g}", refresh=False)
                if checkpoint_every and step % checkpoint_every == 0:
                    save()
                if stop.signal is not None:
                    save()
                    stop.exit(step, directory)
                if train_config.patience and stalls >= train_config.patience:
                    break
            save()
    finally:
        bar.close()
        if manager:
            manager.close()  # waits for any background save and raises its error, if any
    return Trained(
        model_config, train_config, state, np.asarray(history, np.float32), np.asarray(val_history, np.float64).reshape(-1, 2),
        y_squeezed, extra,
    )


class StopOnSignal:
    """While training with checkpoints: SIGTERM/SIGINT finish the current chunk, save it, then exit cleanly."""

    def __init__(self, enabled: bool):
        self.enabled = enabled and threading.current_thread() is threading.main_thread()
        self.signal = None
        self.previous = {}

    def __enter__(self):
        if self.enabled:
            for number in (signal.SIGTERM, signal.SIGINT):
                self.previous[number] = signal.signal(number, self._handle)
        return self

    def _handle(self, number, frame):
        self.signal = number

    def __exit__(self, *exc):
        for number, handler in self.previous.items():
            signal.signal(number, handler)
        return False

    def exit(self, step: int, directory: str):
        name = signal.Signals(self.signal).name
        print(f"\njaxseries: {name} received; saved step {step} to {directory}. Resume with "
              f"train(..., checkpoint_dir={directory!r}, resume=True) or `jaxseries train ... --resume`.",
              file=sys.stderr, flush=True)
        if self.signal == signal.SIGINT:
            raise KeyboardInterrupt(f"training stopped at step {step}; checkpoint saved")
        raise SystemExit(128 + self.signal)


def check_finite(params, step: int) -> None:
    if not all(bool(jnp.isfinite(leaf).all()) for leaf in jax.tree.leaves(params)):
        raise DivergenceError(f"parameters became non-finite by step {step}; not checkpointed. Lower the learning rate.")


def _last(val_history) -> float | None:
    return val_history[-1][1] if val_history else None


def _evaluations_since_best(val_history) -> int:
    if not val_history:
        return 0
    losses = [loss for _, loss in val_history]
    return len(losses) - 1 - int(np.nanargmin(losses)) if np.isfinite(losses).any() else len(losses)


def _check_divergence(losses: np.ndarray, first_step: int, max_loss: float | None) -> None:
    bad = ~np.isfinite(losses) if max_loss is None else ~(np.abs(losses) <= max_loss)
    if bad.any():
        at = first_step + int(np.argmax(bad))
        raise DivergenceError(
            f"training diverged at step {at}: loss {losses[bad][0]} "
            f"({'non-finite' if not np.isfinite(losses[bad][0]) else f'above max_loss={max_loss}'}); "
            "lower the learning rate or scale the data. The last good checkpoint, if any, is untouched."
        )


def _resume(directory: str, model_config: ModelConfig, train_config: TrainConfig):
    step = checkpoint.latest_step(directory, fallback=True)
    meta = checkpoint.read_meta(directory, step)
    saved_model = from_dict(ModelConfig, meta["model_config"])
    if saved_model != model_config:
        raise CheckpointError(
            f"cannot resume {directory!r}: it holds a model {saved_model}, but this call asks for {model_config}"
        )
    saved_train = from_dict(TrainConfig, meta["train_config"])
    for field in ("learning_rate", "batch_size", "seed", "lr_decay", "weight_decay"):
        if getattr(saved_train, field) != getattr(train_config, field):
            raise CheckpointError(
                f"cannot resume {directory!r}: it was trained with {field}={getattr(saved_train, field)!r}, "
                f"this call passes {getattr(train_config, field)!r}"
            )
    abstract = abstract_train_state(model_config, train_config)
    state = checkpoint.restore_state(directory, step, abstract)
    return state, list(meta["history"]), [tuple(v) for v in meta["val_history"]]


def load(checkpoint_dir, *, fallback: bool = False) -> Trained:
    """Restores the latest step of a checkpoint directory (from `train` or the CLI); needs no config.

    Each step is checked against its sha256 manifest first; a damaged latest step raises an error naming the
    file, or with `fallback=True` is skipped (with a warning) for the newest good step.
    """
    directory = validation.checkpoint_path(checkpoint_dir)
    step = checkpoint.latest_step(directory, fallback=fallback)
    meta = checkpoint.read_meta(directory, step)
    if "population" in meta["extra"]:
        from jaxseries import population  # a train_many checkpoint: returns a Population

        return population.from_checkpoint(directory, step, meta)
    try:
        model_config = from_dict(ModelConfig, meta["model_config"])
        train_config = from_dict(TrainConfig, meta["train_config"])
    except (KeyError, TypeError, ValueError) as error:
        raise CheckpointError(f"step {step} in {directory!r} has unusable metadata: {error}") from None
    abstract = abstract_train_state(model_config, train_config)
    state = checkpoint.restore_state(directory, step, abstract)
    val_history = np.asarray(meta.get("val_history", []), np.float64).reshape(-1, 2)
    return Trained(
        model_config, train_config, state, np.asarray(meta["history"], np.float32), val_history,
        bool(meta.get("y_squeezed", False)), dict(meta.get("extra", {})),
    )
