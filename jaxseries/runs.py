"""What training returns and what a checkpoint holds: one model (`Trained`) or many (`Population`), one format.

A run is a population of members with a leading member axis; a single model is a population of one, and is saved
without that axis (the layout of every checkpoint since 0.1). The metadata says which: a `population` section
lists the members; without it the step holds one model. `save_meta`/`restore` are the only code that writes and
reads that layout, for the training loop and for `load` alike.
"""

from __future__ import annotations

import dataclasses
import math
from typing import NamedTuple

import jax
import numpy as np

from jaxseries import checkpoint, validation
from jaxseries.config import ModelConfig, TrainConfig, from_dict, to_dict
from jaxseries.errors import CheckpointError
from jaxseries.state import TrainState, abstract_train_state, member_of
from jaxseries.steps import compiled_apply, enable_compilation_cache


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
        state = member_of(self.state, i)
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


class Record(NamedTuple):
    """A run as the training loop keeps it and a checkpoint stores it; `single`: one model, saved without the
    member axis. The state may be stacked (in memory) or one member's (as a single model is saved)."""

    model_config: ModelConfig
    configs: tuple[TrainConfig, ...]
    single: bool
    state: TrainState
    history: np.ndarray  # [steps, members], NaN where a member had stopped
    val_history: np.ndarray  # [evaluations, 1 + members]
    stalls: np.ndarray  # [members]: evaluations since each member's best
    stopped: np.ndarray  # [members] bool
    y_squeezed: bool
    extra: dict

    def as_run(self) -> Trained | Population:
        if self.single:
            return Trained(self.model_config, self.configs[0], self.state, self.history[:, 0],
                           self.val_history.reshape(-1, 2), self.y_squeezed, self.extra)
        return Population(self.model_config, self.configs, self.state, self.history, self.val_history,
                          self.y_squeezed, self.extra)


def save_meta(record: Record) -> dict:
    """The JSON metadata of a step: configs and histories, and for a population its members' section."""
    meta = {"format_version": checkpoint.FORMAT_VERSION, "model_config": to_dict(record.model_config),
            "train_config": to_dict(record.configs[0]), "y_squeezed": record.y_squeezed}
    if record.single:
        return {**meta, "history": checkpoint.to_json_floats(record.history[:, 0]),
                "val_history": [[int(s), float(v)] for s, v in record.val_history], "extra": record.extra}
    history = np.nanmean(record.history, axis=1) if len(record.history) else []
    return {**meta, "history": checkpoint.to_json_floats(history), "val_history": [],
            "extra": {**record.extra, "population": {
                "train_configs": [to_dict(c) for c in record.configs],
                "history": _nan_as_null(record.history),  # NaN: the member had stopped
                "val_history": _nan_as_null(record.val_history),
                "stalls": record.stalls.tolist(),
                "stopped": record.stopped.tolist(),
            }}}


def _nan_as_null(values: np.ndarray) -> list:
    return [[checkpoint.json_number(v) for v in row] for row in np.asarray(values, np.float64)]


def restore(directory: str, step: int, meta: dict) -> Record:
    """The run saved at `step`, as its metadata describes it; its state stacked on the member axis."""
    extra = dict(meta["extra"])
    stored = extra.pop("population", None)
    try:
        model_config = from_dict(ModelConfig, meta["model_config"])
        if stored is None:
            configs = (from_dict(TrainConfig, meta["train_config"]),)
            history = np.asarray(meta["history"], np.float32).reshape(-1, 1)
            val_history = np.asarray(meta.get("val_history", []), np.float64).reshape(-1, 2)
        else:
            configs = tuple(from_dict(TrainConfig, c) for c in stored["train_configs"])
            history = np.array(stored["history"], np.float32)  # null -> NaN
            val_history = np.array(stored["val_history"], np.float64).reshape(-1, 1 + len(configs))
    except (KeyError, TypeError, ValueError) as error:
        kind = "population " if stored is not None else ""
        raise CheckpointError(f"step {step} in {directory!r} has unusable {kind}metadata: {error}") from None
    if not configs or math.prod(history.shape) and history.shape[1] != len(configs):
        raise CheckpointError(f"step {step} in {directory!r}: population metadata disagrees with itself")
    single = stored is None
    state = checkpoint.restore_state(directory, step,
                                     abstract_train_state(model_config, configs[0], None if single else len(configs)))
    if single:  # what a single model's loop knew, from its validation history
        stalls = np.array([_evaluations_since_best(val_history[:, 1])])
        stopped = np.array([bool(configs[0].patience) and stalls[0] >= configs[0].patience])
    else:
        stalls = np.asarray(stored.get("stalls", [0] * len(configs)), int)
        stopped = np.asarray(stored.get("stopped", [False] * len(configs)), bool)
    return Record(model_config, configs, single, state, history, val_history, stalls, stopped,
                  bool(meta["y_squeezed"]), extra)


def _evaluations_since_best(val_losses) -> int:
    if not len(val_losses):
        return 0
    return len(val_losses) - 1 - int(np.nanargmin(val_losses)) if np.isfinite(val_losses).any() else len(val_losses)


def load(checkpoint_dir, *, fallback: bool = False) -> Trained | Population:
    """Restores the latest step of a checkpoint directory (from `train`, `train_many` or the CLI); needs no config.

    Returns a `Trained` for one model and a `Population` for many, as the metadata says. Each step is checked
    against its sha256 manifest first; a damaged latest step raises an error naming the file, or with
    `fallback=True` is skipped (with a warning) for the newest good step.
    """
    directory = validation.checkpoint_path(checkpoint_dir)
    step = checkpoint.latest_step(directory, fallback=fallback)
    return restore(directory, step, checkpoint.read_meta(directory, step)).as_run()
