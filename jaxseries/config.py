"""Frozen, keyword-only configuration. Validated on construction, saved with every checkpoint."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from jaxseries import distributions


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


def _require_quantile(value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1:
        raise ValueError(f"quantile must be a number between 0 and 1 (the pinball loss's quantile), got {value!r}")


LOSSES = ("mse", "mae", "huber", "pinball")
# the classical forecasts a network's can be averaged with (theta.py, ets.py)
PARTNERS = ("theta", "theta+damped", "theta+damped+ets")
COMBINES = ("auto", *PARTNERS, None)


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
    loss: str = "mse"  # what training minimizes: "mse" (the mean), "mae" (the median), "huber" or "pinball"
    quantile: float = 0.5  # loss="pinball": the quantile the model predicts (0.5: the median, as "mae")
    linear_rate: float = 10.0  # head="horizon": how much faster the linear path from the context learns (model.py)
    distribution: str | None = None  # head="horizon": each step outputs a distribution's parameters (distributions.py),
    # trained on its likelihood (or the grid's pinball loss) in place of `loss`; output_dim is their number

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
        _require_quantile(self.quantile)
        _require_int("horizon", self.horizon, 1 if self.head == "horizon" else 0)
        _require_int("context", self.context, 1 if self.head == "horizon" else 0)
        distributions.check(self.distribution)
        if self.distribution is not None and (self.head != "horizon" or
                                              self.output_dim != distributions.parameters(self.distribution)):
            raise ValueError(f"distribution={self.distribution!r} needs head='horizon' and output_dim="
                             f"{distributions.parameters(self.distribution)} (its parameters per step)")


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


@dataclasses.dataclass(frozen=True, kw_only=True)
class SeriesOptions:
    """How `train_series` and `backtest` build and train a forecaster: every option, listed and checked once.

    One recipe serves one series and panels of many (chosen by validation on training parts: benchmarks/RESULTS.md):
    log values for each series positive before the holdout, each window measured from the mean of its last season
    and seasonal series deseasonalized (their windows showing their smoothed level too), a 64-wide LSTM with a
    decoder over the horizon, the pinball loss at the 0.48 quantile, batches of 256 windows.
    Defaults that depend on the data (season, context, validation) are filled in by `encoding.window_settings`.
    """

    horizon: int
    holdout: int | None = None  # last rows of each series never seen (None: none)
    context: int | None = None  # encoder rows (default: two seasons, at least the horizon)
    validation: int | None = None  # rows before the holdout that drive early stopping (default: the horizon)
    season: int | None = None  # default: from the frequency (monthly 12, quarterly 4, ...)
    calendar: bool = True  # calendar features from the timestamps
    strategy: str = "direct"  # "recursive": the seed's one-step-shift windows, rolled forward
    transform: str = "auto"  # "log", "none", or "auto": log for each series positive before the holdout
    deseasonalize: bool = True  # seasonal series lose their seasonal indices before the windows
    smoothed_level: bool = True  # seasonal series' windows show their exponentially smoothed level too
    min_observed: int = 1  # the fewest real rows a training window's context needs (short series are padded)
    sampling: str = "window"  # batches over every window, or over every series equally ("series")
    mode: str = "global"  # "local": one model per series, all in one compiled call
    hidden_dim: int | None = None  # 64 (local: 16)
    num_layers: int = 1
    loss: str = "pinball"  # at `quantile`; "mae" is its 0.5
    quantile: float = 0.48  # a little below the median: sMAPE and MASE reward it (benchmarks/RESULTS.md)
    steps: int = 1500
    learning_rate: float = 1e-3
    batch_size: int | None = None  # 256 windows (local: 16 per series)
    seed: int = 0
    weight_decay: float | None = None
    patience: int | None = 20
    eval_every: int = 10
    members: int = 1  # a seed ensemble trained in one compiled call; intervals from its spread
    refit: bool = False  # after early stopping, retrain as long on every row before the holdout
    distribution: str | None = None  # "quantiles", "student_t" or "negative_binomial" (counts): the network forecasts
    # a distribution, its intervals and quantiles its own (distributions.py); None: a point, intervals conformal
    combine: str | None = "auto"  # "theta": the forecast is the mean of the network's and the Theta method's;
    # "theta+damped": of the network's and the mean of Theta's and a damped trend's (theta.py); "theta+damped+ets":
    # of the network's and the mean of that and an exponential smoothing's with its own season and form (ets.py);
    # None: the network's; "auto": "theta+damped+ets", or "theta+damped" for yearly data (encoding._partner), or
    # None where there are covariates (a univariate partner would halve their effect)

    def __post_init__(self):
        _require_int("horizon", self.horizon, 1)
        if self.holdout is not None:
            _require_int("holdout", self.holdout, 1)  # omit it (None) for no holdout
        for name in ("context", "validation", "season", "hidden_dim", "batch_size"):
            if getattr(self, name) is not None:
                _require_int(name, getattr(self, name), 1)
        if self.validation is not None and self.validation < self.horizon and self.strategy == "direct":
            raise ValueError(f"validation={self.validation} must be >= horizon={self.horizon} so one validation "
                             "window fits")
        for name, allowed in (("strategy", ("direct", "recursive")), ("transform", ("auto", "log", "none")),
                              ("sampling", ("window", "series")), ("mode", ("global", "local")), ("loss", LOSSES)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")
        _require_quantile(self.quantile)
        if self.combine not in COMBINES:
            raise ValueError(f"combine must be 'theta' (the forecast is the mean of the network's and Theta's), "
                             f"'theta+damped' (Theta's and a damped trend's mean as the partner), 'theta+damped+ets' "
                             f"(that and an exponential smoothing's), None (the network's alone) or 'auto' (a partner "
                             f"unless there are covariates), got {self.combine!r}")
        for name in ("min_observed", "num_layers", "members"):
            _require_int(name, getattr(self, name), 1)
        TrainConfig(steps=self.steps, learning_rate=self.learning_rate, seed=self.seed, eval_every=self.eval_every,
                    patience=self.patience, weight_decay=self.weight_decay)  # checks those the same way
        distributions.check(self.distribution)
        if self.distribution is not None and (self.strategy != "direct" or self.mode != "global"):
            raise ValueError(f"distribution={self.distribution!r} is forecast by the global direct model: drop "
                             "strategy='recursive' / mode='local'")
        if self.distribution == "negative_binomial" and (self.transform == "log" or self.combine in PARTNERS):
            raise ValueError("distribution='negative_binomial' models the counts themselves: drop transform='log' "
                             f"and combine={self.combine!r} (a smoothed line is no count)")
        if self.distribution is not None and (self.loss, self.quantile) != ("pinball", 0.48):
            raise ValueError(f"distribution={self.distribution!r} trains on its own likelihood (the grid's pinball "
                             "loss for 'quantiles'): drop loss= and quantile=")
        if self.mode == "local" and (self.members > 1 or self.refit or self.strategy != "direct"):
            raise ValueError("mode='local' trains one direct model per series: drop members, refit and strategy")


def series_options(**options) -> SeriesOptions:
    """SeriesOptions from keyword arguments, an unknown name refused with the list of known ones."""
    known = {f.name for f in dataclasses.fields(SeriesOptions)}
    unknown = sorted(set(options) - known)
    if "normalize" in unknown:
        raise TypeError("normalize= was the single-series forecaster's option in jaxseries 0.1; every window is now "
                        "measured from its own level (one recipe for one series and for panels): drop it")
    if unknown:
        raise TypeError(f"unknown option(s) {unknown}; the forecaster's options are {sorted(known)}")
    return SeriesOptions(**options)


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
