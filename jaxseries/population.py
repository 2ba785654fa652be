"""Many models in one compiled call: a population of members that differ in seed, learning rate, weight decay and
forget bias, trained side by side by `vmap` over the train state, on shared data or each on its own (backtest
folds). Member i equals its single `train` run to float32 tolerance, early stopping included: each member stops at
its own patience, and the computation narrows to the members still training. Checkpoints as single runs.
"""

from __future__ import annotations

import dataclasses
import math
import os

import jax
import numpy as np
from tqdm.auto import tqdm

from jaxseries import checkpoint, validation
from jaxseries.config import ModelConfig, TrainConfig, from_dict, to_dict
from jaxseries.errors import CheckpointError, DivergenceError
from jaxseries.training import (
    BestWeights, Trained, TrainState, check_finite, StopOnSignal, abstract_train_state, check_checkpoint_args,
    compiled_apply, compiled_chunk, create_train_state, decay_steps, enable_compilation_cache,
)


@dataclasses.dataclass(frozen=True)
class Population(BestWeights):
    """Trained members stacked on a leading axis. `member(i)` is an ordinary `Trained`."""

    model_config: ModelConfig
    train_configs: tuple[TrainConfig, ...]
    state: TrainState  # every leaf has a leading [members] axis
    history: np.ndarray  # [steps, members]; NaN after a member stopped early
    val_history: np.ndarray  # [evaluations, 1 + members]: step, then each member's validation loss (NaN: stopped)
    y_squeezed: bool = False
    extra: dict = dataclasses.field(default_factory=dict)  # JSON-able metadata of higher layers (forecasting)

    @property
    def best_step(self) -> list[int]:
        return np.asarray(self.state.best_step if self.validated else self.state.step).tolist()

    @property
    def size(self) -> int:
        return len(self.train_configs)

    def member(self, i: int) -> Trained:
        if not -self.size <= i < self.size:
            raise IndexError(f"member {i} out of range for a population of {self.size}")
        state = jax.tree.map(lambda leaf: leaf[i], self.state)
        steps = int(state.step)  # a member that stopped early has NaN after its last step
        val = self.val_history[:, [0, 1 + i % self.size]] if len(self.val_history) else np.zeros((0, 2))
        val = val[val[:, 0] <= steps]
        return Trained(self.model_config, self.train_configs[i], state, self.history[:steps, i], val,
                       self.y_squeezed, self.extra)

    def predict(self, x) -> np.ndarray:
        """[members, N, T(, output_dim)]: every member's predictions for x."""
        x = validation.prediction_input(x, self.model_config.input_dim)
        out = np.asarray(jax.vmap(compiled_apply(self.model_config), in_axes=(0, None))(self.params, x))
        return out[..., 0] if self.y_squeezed else out

    def ranked(self) -> list[int]:
        """Member indices, best validation loss first (NaN last). Needs validation data."""
        if not len(self.val_history):
            raise ValueError("ranking needs validation: pass validation_data=(x_val, y_val) to train_many")
        best = np.asarray(self.state.best_loss, np.float64)
        return [int(i) for i in np.argsort(np.where(np.isfinite(best), best, np.inf), kind="stable")]


def train_many(
    x, y, *, seeds, learning_rates=None, weight_decays=None, forget_biases=None, hidden_dims=None,
    hidden_dim: int = 10, num_layers: int = 1, steps: int = 1000, batch_size: int | None = None,
    forget_bias: float = 1.0, lr_decay: str = "constant", log_every: int = 100, validation_data=None,
    patience: int | None = None, checkpoint_dir=None, checkpoint_every: int | None = None, resume: bool = False,
    overwrite: bool = False, progress: bool = True,
):
    """Trains one model per member in one compiled call; member i uses seeds[i] and the i-th value of each list.

    `learning_rates`, `weight_decays` (AdamW) and `forget_biases` vary per member inside one program. `hidden_dims`
    changes shapes: members are grouped by hidden size, one compiled call per size, and a `PopulationGroups` (same
    `predict`/`member`/`ranked`, members in the order given) comes back, saved as one checkpoint per size in
    `checkpoint_dir/hidden_<size>`.
    """
    x, y, squeezed = validation.training_arrays(x, y, head="sequence")
    seeds = list(seeds) if not isinstance(seeds, int) else [seeds]
    if not seeds:
        raise ValueError("seeds is empty: pass at least one seed, e.g. seeds=range(8)")
    learning_rates = _per_member("learning_rates", learning_rates, len(seeds), 1e-3)
    weight_decays = _per_member("weight_decays", weight_decays, len(seeds), None)
    biases = _per_member("forget_biases", forget_biases, len(seeds), forget_bias)
    hidden_dims = _per_member("hidden_dims", hidden_dims, len(seeds), hidden_dim)
    for i, (rate, decay, bias, hidden) in enumerate(zip(learning_rates, weight_decays, biases, hidden_dims)):
        try:  # a bad value gets a named error before anything compiles
            TrainConfig(learning_rate=rate, weight_decay=decay)
            ModelConfig(input_dim=1, hidden_dim=hidden, forget_bias=bias)
        except (TypeError, ValueError) as error:
            raise type(error)(f"member {i} (seed {seeds[i]}): {error}") from None
    if any(decay is not None for decay in weight_decays):  # one optimizer structure for every member
        weight_decays = [decay or 0.0 for decay in weight_decays]
    if validation_data is not None:
        x_val, y_val, _ = validation.training_arrays(*validation_data, head="sequence")
        validation_data = (x_val, y_val)
    directory = check_checkpoint_args(checkpoint_dir, checkpoint_every, resume, overwrite)
    groups = {}
    for size in dict.fromkeys(hidden_dims):  # hidden sizes in order of first appearance
        members = [i for i, h in enumerate(hidden_dims) if h == size]
        varied_bias = len({biases[i] for i in members}) > 1
        model_config = ModelConfig(input_dim=x.shape[-1], output_dim=y.shape[-1], hidden_dim=size,
                                   num_layers=num_layers, forget_bias=0.0 if varied_bias else biases[members[0]])
        configs = tuple(TrainConfig(steps=steps, learning_rate=float(learning_rates[i]), batch_size=batch_size,
                                    seed=seeds[i], log_every=log_every, eval_every=log_every, patience=patience,
                                    lr_decay=lr_decay, weight_decay=weight_decays[i]) for i in members)
        grouped = len(set(hidden_dims)) > 1 and directory is not None
        group_dir = os.path.join(directory, f"hidden_{size}") if grouped else directory
        groups[size] = (members, fit_population(
            x, y, model_config, configs, validation_data=validation_data, y_squeezed=squeezed,
            forget_biases=[biases[i] for i in members] if varied_bias else None, checkpoint_dir=group_dir,
            checkpoint_every=checkpoint_every, resume=resume, overwrite=overwrite, progress=progress))
    if len(groups) == 1:
        return next(iter(groups.values()))[1]
    return PopulationGroups(groups)


def _per_member(name: str, values, count: int, default) -> list:
    """One value per member: a list of `count` values, one value for all, or the default."""
    if values is None or isinstance(values, (int, float)):
        return [default if values is None else values] * count
    values = list(values)
    if len(values) != count:
        raise ValueError(f"{name} has {len(values)} values but seeds has {count}: give one per member")
    return values


class PopulationGroups:
    """Members of several hidden sizes: one `Population` per size, addressed in the order they were given."""

    def __init__(self, groups: dict):
        self.groups = {size: population for size, (_, population) in groups.items()}
        self._where = {}  # member index -> (hidden size, index inside its population)
        for size, (members, _) in groups.items():
            for position, member in enumerate(members):
                self._where[member] = (size, position)

    @property
    def size(self) -> int:
        return len(self._where)

    def member(self, i: int) -> Trained:
        if not -self.size <= i < self.size:
            raise IndexError(f"member {i} out of range for {self.size} members")
        size, position = self._where[i % self.size]
        return self.groups[size].member(position)

    def predict(self, x) -> np.ndarray:
        """[members, ...]: every member's predictions, in the order the members were given."""
        by_size = {size: population.predict(x) for size, population in self.groups.items()}
        return np.stack([by_size[size][position] for size, position in (self._where[i] for i in range(self.size))])

    def ranked(self) -> list[int]:
        """Member indices, best validation loss first (NaN last)."""
        best = np.full(self.size, np.inf)
        for i, (size, position) in self._where.items():
            population = self.groups[size]
            population.ranked()  # raises the same clear error when there was no validation data
            loss = float(np.asarray(population.state.best_loss)[position])
            best[i] = loss if np.isfinite(loss) else np.inf
        return [int(i) for i in np.argsort(best, kind="stable")]


def fit_population(x, y, model_config: ModelConfig, configs: tuple[TrainConfig, ...], *, validation_data=None,
                   counts=None, forget_biases=None, y_squeezed: bool = False, checkpoint_dir=None,
                   checkpoint_every: int | None = None, resume: bool = False, overwrite: bool = False,
                   progress: bool = True, extra: dict | None = None) -> Population:
    """The population training loop for checked arrays: configs differ in seed, learning rate and weight decay.

    With `counts` ([members] ints) every member has its own data: x, y (and the validation arrays) carry a
    leading member axis, and member i trains on its first counts[i] rows only (the rest is padding).
    `forget_biases` (with a model whose forget_bias is 0) puts a per-member forget-gate shift into the initial biases.
    Checkpoints as `train`'s: every `checkpoint_every` steps and at the end, `resume=True` continues the latest step,
    SIGTERM/SIGINT save and exit.
    """
    directory = check_checkpoint_args(checkpoint_dir, checkpoint_every, resume, overwrite)
    enable_compilation_cache()
    validate = validation_data is not None
    first, members = configs[0], len(configs)
    log = _Log(first.steps, members)
    if directory and resume and checkpoint.is_checkpoint_dir(directory):
        full, log = _resume(directory, model_config, configs, log)
    else:
        biases = forget_biases or [None] * members
        full = _stack([create_train_state(model_config, c.learning_rate, c.seed, decay_steps(c), c.weight_decay, bias)
                       for c, bias in zip(configs, biases)])
    running = np.flatnonzero(~log.stopped)  # the members in the compiled computation (some may stop on the way)
    final = [jax.tree.map(lambda leaf: leaf[m], full) if log.stopped[m] else None for m in range(members)]
    state = jax.device_put(jax.tree.map(lambda leaf: leaf[running], full), jax.local_devices()[0])
    data = (x, y, *(validation_data or (None, None)), counts)
    if counts is not None:
        data = jax.tree.map(lambda leaf: leaf[running], data)
    if directory and not resume and overwrite and checkpoint.is_checkpoint_dir(directory):
        checkpoint.clear(directory)
    if directory:
        checkpoint.remove_incomplete(directory)
    manager = checkpoint.open_manager(directory, create=True) if directory else None
    chunk = math.gcd(first.eval_every if validate else first.log_every, checkpoint_every or 0)

    def current() -> Population:
        column = {member: c for c, member in enumerate(running)}
        whole = [final[m] if final[m] is not None else jax.tree.map(lambda leaf: np.asarray(leaf[column[m]]), state)
                 for m in range(members)]
        return Population(model_config, configs, jax.device_put(_stack(whole), jax.local_devices()[0]),
                          log.history[: log.step], np.asarray(log.val_history, np.float64).reshape(-1, 1 + members),
                          y_squeezed, dict(extra or {}))

    def save() -> None:
        if manager and log.saved != log.step:
            population = current()
            check_finite(population.state.params, log.step)
            checkpoint.save(manager, log.step, population.state, _meta(population, log))
            log.saved = log.step

    bar = tqdm(total=first.steps, initial=log.step, disable=not progress, desc=f"train {members} members",
               unit="step", mininterval=0.5)
    try:
        with StopOnSignal(enabled=manager is not None) as stop:
            while log.step < first.steps and not log.stopped.all():
                length = min(chunk - log.step % chunk, first.steps - log.step)
                run = compiled_chunk(model_config, first.batch_size, length, validate, None,
                                     "shared" if counts is None else "own")
                state, losses, val_loss = run(state, *data)
                live = ~log.stopped[running]
                losses = np.asarray(losses).T  # [length, running]
                if not np.isfinite(losses[:, live]).all():
                    at, column = np.argwhere(~np.isfinite(np.where(live, losses, 0.0)))[0]
                    member = running[column]
                    raise DivergenceError(f"member {member} (seed {configs[member].seed}, learning rate "
                                          f"{configs[member].learning_rate}) diverged at step {log.step + at}: "
                                          "lower its learning rate")
                log.history[log.step : log.step + length, running[live]] = losses[:, live]
                log.step += length
                bar.update(length)
                bar.set_postfix(mean_loss=f"{losses[-1, live].mean():.4g}", refresh=False)
                if validate and log.step % first.eval_every == 0:
                    for column in _evaluate(log, state, val_loss, running, live, first.patience):
                        final[running[column]] = jax.tree.map(lambda leaf: np.asarray(leaf[column]), state)
                    keep = np.flatnonzero(~log.stopped[running])
                    if 0 < len(keep) <= len(running) // 2:  # narrow the computation to the members still training
                        state = jax.tree.map(lambda leaf: leaf[keep], state)
                        if counts is not None:
                            data = jax.tree.map(lambda leaf: leaf[keep], data)
                        running = running[keep]
                if checkpoint_every and log.step % checkpoint_every == 0:
                    save()
                if stop.signal is not None:
                    save()
                    stop.exit(log.step, directory)
            save()
    finally:
        bar.close()
        if manager:
            manager.close()
    return current()


class _Log:
    """What the loop has seen: losses, evaluations, stalls and stops per member; resumable from metadata."""

    def __init__(self, steps: int, members: int):
        self.step, self.saved = 0, None
        self.history = np.full((steps, members), np.nan, np.float32)  # NaN: not trained (stopped, or not yet)
        self.val_history: list = []
        self.stalls = np.zeros(members, int)
        self.stopped = np.zeros(members, bool)


def _evaluate(log: _Log, state, val_loss, running, live, patience) -> list[int]:
    """Records an evaluation; returns the columns of the members that stop now (where a single `train` would)."""
    evaluation = np.full(len(log.stopped), np.nan)
    evaluation[running[live]] = np.asarray(val_loss, np.float64)[live]
    log.val_history.append([log.step, *evaluation.tolist()])
    best_now = np.asarray(state.best_step) == log.step
    log.stalls[running[live]] = np.where(best_now[live], 0, log.stalls[running[live]] + 1)
    finished = live & (log.stalls[running] >= patience) if patience else np.zeros_like(live)
    log.stopped[running[finished]] = True
    return list(np.flatnonzero(finished))


def _stack(trees):
    return jax.tree.map(lambda *leaves: np.stack(leaves), *trees)


def _meta(population: Population, log: _Log) -> dict:
    return {
        "format_version": checkpoint.FORMAT_VERSION,
        "model_config": to_dict(population.model_config),
        "train_config": to_dict(population.train_configs[0]),
        "y_squeezed": population.y_squeezed,
        "history": checkpoint.to_json_floats(np.nanmean(population.history, axis=1)) if len(population.history) else [],
        "val_history": [],
        "extra": {**population.extra, "population": {
            "train_configs": [to_dict(c) for c in population.train_configs],
            "history": _nan_as_null(population.history),  # NaN: the member had stopped
            "val_history": _nan_as_null(population.val_history),
            "stalls": log.stalls.tolist(),
            "stopped": log.stopped.tolist(),
        }},
    }


def _nan_as_null(values: np.ndarray) -> list:
    return [[checkpoint.json_number(v) for v in row] for row in np.asarray(values, np.float64)]


def _resume(directory: str, model_config: ModelConfig, configs: tuple[TrainConfig, ...], log: _Log):
    step = checkpoint.latest_step(directory, fallback=True)
    meta = checkpoint.read_meta(directory, step)
    saved = from_checkpoint(directory, step, meta)
    if saved.model_config != model_config or [dataclasses.replace(c, steps=0) for c in saved.train_configs] != [
            dataclasses.replace(c, steps=0) for c in configs]:
        raise CheckpointError(f"cannot resume {directory!r}: it holds a population of other members or another model "
                              f"({saved.size} members, {saved.model_config}); pass the same settings, or overwrite=True")
    stored = meta["extra"]["population"]
    log.step = log.saved = step
    log.history[: len(saved.history)] = saved.history
    log.val_history = saved.val_history.tolist()
    log.stalls[:] = stored.get("stalls", [0] * saved.size)
    log.stopped[:] = stored.get("stopped", [False] * saved.size)
    return jax.tree.map(np.asarray, saved.state), log


def from_checkpoint(directory: str, step: int, meta: dict) -> Population:
    stored = meta["extra"]["population"]
    try:
        model_config = from_dict(ModelConfig, meta["model_config"])
        configs = tuple(from_dict(TrainConfig, c) for c in stored["train_configs"])
        history = np.array(stored["history"], np.float32)  # null -> NaN
        val_history = np.array(stored["val_history"], np.float64).reshape(-1, 1 + len(configs))
    except (KeyError, TypeError, ValueError) as error:
        raise CheckpointError(f"step {step} in {directory!r} has unusable population metadata: {error}") from None
    if not configs or math.prod(history.shape) and history.shape[1] != len(configs):
        raise CheckpointError(f"step {step} in {directory!r}: population metadata disagrees with itself")
    one = abstract_train_state(model_config, configs[0])
    abstract = jax.tree.map(lambda leaf: jax.ShapeDtypeStruct((len(configs), *leaf.shape), leaf.dtype), one)
    state = checkpoint.restore_state(directory, step, abstract)
    extra = {k: v for k, v in meta["extra"].items() if k != "population"}
    return Population(model_config, configs, state, history, val_history, bool(meta["y_squeezed"]), extra)
