"""Frozen, keyword-only configuration. Validated on construction, saved with every checkpoint."""

from __future__ import annotations

import dataclasses
import math
from typing import Any


def _require_int(name: str, value: Any, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")


def _require_positive_float(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__} {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value}")


def _require_non_negative_float(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__} {value!r}")
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value}")


LOSSES = ("mse", "mae", "huber")


@dataclasses.dataclass(frozen=True, kw_only=True)
class ModelConfig:
    """Shape of the network: stacked LSTM layers scanned over time, then a Dense head.

    `head="sequence"` applies the head at every time step (the seed: y is [N, T, output_dim]);
    `head="last"` applies it to the last step only (direct multi-step forecasts: y is [N, output_dim]);
    `head="horizon"` is a decoder for direct forecasts: the last `horizon` steps (the forecast rows) each get the head
    on their own state and their own input row, so a step's known features reach its output directly
    (y is [N, horizon * output_dim]).
    """

    input_dim: int
    output_dim: int = 1
    hidden_dim: int = 10
    num_layers: int = 1
    forget_bias: float = 1.0
    head: str = "sequence"
    horizon: int = 0  # decoder steps, for head="horizon"
    context: int = 0  # encoder steps before them, for head="horizon" (its linear path reads the whole context)
    loss: str = "mse"  # what training minimizes: "mse" (the mean), "mae" (the median) or "huber"
    linear_rate: float = 10.0  # head="horizon": how much faster the linear path from the context learns (model.py)

    def __post_init__(self):
        _require_int("input_dim", self.input_dim, 1)
        _require_int("output_dim", self.output_dim, 1)
        _require_int("hidden_dim", self.hidden_dim, 1)
        _require_int("num_layers", self.num_layers, 1)
        if isinstance(self.forget_bias, bool) or not isinstance(self.forget_bias, (int, float)):
            raise TypeError(f"forget_bias must be a number, got {self.forget_bias!r}")
        if not math.isfinite(self.forget_bias):
            raise ValueError(f"forget_bias must be finite, got {self.forget_bias}")
        if self.head not in ("sequence", "last", "horizon"):
            raise ValueError(f"head must be 'sequence', 'last' or 'horizon', got {self.head!r}")
        _require_non_negative_float("linear_rate", self.linear_rate)
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {self.loss!r}")
        _require_int("horizon", self.horizon, 1 if self.head == "horizon" else 0)
        _require_int("context", self.context, 1 if self.head == "horizon" else 0)


@dataclasses.dataclass(frozen=True, kw_only=True)
class TrainConfig:
    """How to train: Adam steps, batch, seed, logging and early stopping.

    `batch_size=None` is full batch (the seed). `patience` counts evaluations (every `eval_every` steps)
    without a better validation loss; None trains all `steps`.
    """

    steps: int = 1000
    learning_rate: float = 1e-3
    batch_size: int | None = None
    seed: int = 0
    log_every: int = 100
    eval_every: int = 100
    patience: int | None = None
    max_loss: float | None = None
    lr_decay: str = "constant"
    weight_decay: float | None = None  # decoupled (AdamW); None keeps plain Adam and its optimizer state

    def __post_init__(self):
        _require_int("steps", self.steps, 0)
        _require_positive_float("learning_rate", self.learning_rate)
        if self.batch_size is not None:
            _require_int("batch_size", self.batch_size, 1)
        _require_int("seed", self.seed, 0)
        _require_int("log_every", self.log_every, 1)
        _require_int("eval_every", self.eval_every, 1)
        if self.patience is not None:
            _require_int("patience", self.patience, 1)
        if self.lr_decay not in ("constant", "cosine"):
            raise ValueError(f"lr_decay must be 'constant' or 'cosine', got {self.lr_decay!r}")
        if self.max_loss is not None:
            _require_positive_float("max_loss", self.max_loss)
        if self.weight_decay is not None:
            _require_non_negative_float("weight_decay", self.weight_decay)


def to_dict(config) -> dict:
    return dataclasses.asdict(config)


def from_dict(cls, data: dict):
    """Rebuild a config from checkpoint metadata, naming any field this version does not know."""
    if not isinstance(data, dict):
        raise TypeError(f"{cls.__name__} metadata must be a JSON object, got {type(data).__name__}")
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"{cls.__name__} metadata has fields this jaxseries does not know: {unknown}")
    return cls(**data)
