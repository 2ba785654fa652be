"""Many models in one compiled call: a population of members that differ in seed and learning rate, trained
side by side by `vmap` over the train state (the data is shared). Member i equals `train(..., seed=seeds[i],
learning_rate=learning_rates[i])` to float32 tolerance.
"""

from __future__ import annotations

import dataclasses
import math

import jax
import numpy as np
from tqdm.auto import tqdm

from jaxseries import checkpoint, validation
from jaxseries.config import ModelConfig, TrainConfig, from_dict, to_dict
from jaxseries.errors import CheckpointError, DivergenceError
from jaxseries.training import (
    BestWeights, Trained, TrainState, abstract_train_state, check_checkpoint_args, compiled_apply, compiled_chunk,
    create_train_state, decay_steps, enable_compilation_cache,
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
    patience: int | None = None, checkpoint_dir=None, overwrite: bool = False, progress: bool = True,
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
    directory = check_checkpoint_args(checkpoint_dir, None, False, overwrite)
    groups = {}
    for size in dict.fromkeys(hidden_dims):  # hidden sizes in order of first appearance
        members = [i for i, h in enumerate(hidden_dims) if h == size]
        varied_bias = len({biases[i] for i in members}) > 1
        model_config = ModelConfig(input_dim=x.shape[-1], output_dim=y.shape[-1], hidden_dim=size,
                                   num_layers=num_layers, forget_bias=0.0 if varied_bias else biases[members[0]])
        configs = tuple(TrainConfig(steps=steps, learning_rate=float(learning_rates[i]), batch_size=batch_size,
                                    seed=seeds[i], log_every=log_every, eval_every=log_every, patience=patience,
                                    lr_decay=lr_decay, weight_decay=weight_decays[i]) for i in members)
        group_dir = directory if len(set(hidden_dims)) == 1 or directory is None else f"{directory}/hidden_{size}"
        groups[size] = (members, fit_population(
            x, y, model_config, configs, validation_data=validation_data, y_squeezed=squeezed,
            forget_biases=[biases[i] for i in members] if varied_bias else None, checkpoint_dir=group_dir,
            overwrite=overwrite, progress=progress))
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
                   overwrite: bool = False, progress: bool = True, extra: dict | None = None) -> Population:
    """The population training loop for checked arrays: configs differ only in seed and learning rate.

    With `counts` ([members] ints) every member has its own data: x, y (and the validation arrays) carry a
    leading member axis, and member i trains on its first counts[i] rows only (the rest is padding).
    `forget_biases` (with a model whose forget_bias is 0) puts a per-member forget-gate shift into the initial biases.
    """
    directory = check_checkpoint_args(checkpoint_dir, None, False, overwrite)
    enable_compilation_cache()
    validate = validation_data is not None
    x_val, y_val = validation_data if validate else (None, None)
    first = configs[0]
    biases = forget_biases or [None] * len(configs)
    states = [create_train_state(model_config, c.learning_rate, c.seed, decay_steps(c), c.weight_decay, bias)
              for c, bias in zip(configs, biases)]
    stack = lambda trees: jax.tree.map(lambda *leaves: np.stack(leaves), *trees)  # noqa: E731
    members = len(configs)
    final = [None] * members  # each member's state once it stops (its own early stopping)
    running = np.arange(members)  # the members in the compiled computation (some may have stopped already)
    state = jax.device_put(stack(states), jax.local_devices()[0])
    data = (x, y, x_val, y_val, counts)
    history = np.full((first.steps, members), np.nan, np.float32)
    val_history, stalls, stopped = [], np.zeros(members, int), np.zeros(members, bool)
    bar = tqdm(total=first.steps, disable=not progress, desc=f"train {members} members", unit="step", mininterval=0.5)
    step = 0
    while step < first.steps and not stopped.all():
        length = min(first.eval_every if validate else first.log_every, first.steps - step)
        run = compiled_chunk(model_config, first.batch_size, length, validate, None,
                             "shared" if counts is None else "own")
        state, losses, val_loss = run(state, *data)
        losses = np.asarray(losses).T  # [length, running]
        live = ~stopped[running]
        if not np.isfinite(losses[:, live]).all():
            at, column = np.argwhere(~np.isfinite(np.where(live, losses, 0.0)))[0]
            member = running[column]
            raise DivergenceError(f"member {member} (seed {configs[member].seed}, learning rate "
                                  f"{configs[member].learning_rate}) diverged at step {step + at}: lower its learning rate")
        history[step : step + length, running[live]] = losses[:, live]
        step += length
        bar.update(length)
        bar.set_postfix(mean_loss=f"{losses[-1, live].mean():.4g}", refresh=False)
        if not validate:
            continue
        evaluation = np.full(members, np.nan)
        evaluation[running[live]] = np.asarray(val_loss, np.float64)[live]
        val_history.append([step, *evaluation.tolist()])
        best_now = np.asarray(state.best_step) == step
        stalls[running[live]] = np.where(best_now[live], 0, stalls[running[live]] + 1)
        finished = live & (stalls[running] >= first.patience) if first.patience else np.zeros_like(live)
        for column in np.flatnonzero(finished):  # a member stops where a single `train` would
            final[running[column]] = jax.tree.map(lambda leaf: np.asarray(leaf[column]), state)
            stopped[running[column]] = True
        keep = np.flatnonzero(~stopped[running])
        if 0 < len(keep) <= len(running) // 2:  # narrow the computation to the members still training
            state = jax.tree.map(lambda leaf: leaf[keep], state)
            if counts is not None:
                data = jax.tree.map(lambda leaf: leaf[keep], data)
            running = running[keep]
    bar.close()
    for column, member in enumerate(running):
        if final[member] is None:
            final[member] = jax.tree.map(lambda leaf: np.asarray(leaf[column]), state)
    state = jax.device_put(stack(final), jax.local_devices()[0])
    history = history[:step]
    population = Population(model_config, configs, state, history,
                            np.asarray(val_history, np.float64).reshape(-1, 1 + len(configs)), y_squeezed,
                            dict(extra or {}))
    if directory:
        save(population, directory, overwrite)
    return population


def save(population: Population, directory: str, overwrite: bool = False) -> None:
    """One checkpoint for the whole population (its mean loss as the history; members in the metadata)."""
    if overwrite and checkpoint.is_checkpoint_dir(directory):
        checkpoint.clear(directory)
    meta = {
        "format_version": checkpoint.FORMAT_VERSION,
        "model_config": to_dict(population.model_config),
        "train_config": to_dict(population.train_configs[0]),
        "y_squeezed": population.y_squeezed,
        "history": checkpoint.to_json_floats(np.nanmean(population.history, axis=1)),
        "val_history": [],
        "extra": {**population.extra, "population": {
            "train_configs": [to_dict(c) for c in population.train_configs],
            "history": _nan_as_null(population.history),  # NaN: the member had stopped
            "val_history": _nan_as_null(population.val_history),
        }},
    }
    with checkpoint.open_manager(directory, create=True) as manager:
        checkpoint.save(manager, int(np.max(population.state.step)), population.state, meta)


def _nan_as_null(values: np.ndarray) -> list:
    return [[None if np.isnan(v) else float(v) for v in row] for row in np.asarray(values, np.float64)]


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
