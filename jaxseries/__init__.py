"""jaxseries: LSTM time-series forecasting in JAX.

Public API: `train`, `predict`, `load`, `Trained`, `SeriesPredictor` (arrays of sequences); `train_series`,
`forecast`, `evaluate`, `backtest`, `plot_forecast`, `plot_losses`, `datasets` (raw series, and panels of many:
`train_series(frame, id=...)`, `plot_panel`, `plot_errors`); `train_many` and
`Population` (many models in one compiled call); the configs and error types.
Importing is cheap: nothing is computed or compiled until a function is called.
"""

from jaxseries.config import ModelConfig, SeriesOptions, TrainConfig
from jaxseries.errors import CheckpointError, CheckpointNotFoundError, DivergenceError


# Every module is loaded when one of its names is first asked for: `import jaxseries` stays lean, and a served
# forecaster (`jaxseries.serving`) loads without the training stack (flax, optax, orbax) ever being imported.
_LAZY = {"train_series": "api", "backtest": "api", "Backtest": "backtesting", "forecast": "forecasts",
         "evaluate": "metrics", "plot_forecast": "plots", "plot_losses": "plots",
         "plot_panel": "plots", "plot_errors": "plots", "datasets": None, "SeriesPredictor": "seed",
         "Population": "runs", "PopulationGroups": "runs", "Trained": "runs", "load": "runs", "predict": "runs",
         "TrainState": "state", "train": "training", "train_many": "training", "export": "serving"}


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError(f"module 'jaxseries' has no attribute {name!r}")
    import importlib

    module = importlib.import_module(f"jaxseries.{_LAZY[name] or name}")
    return module if _LAZY[name] is None else getattr(module, name)

__version__ = "0.2.0"

__all__ = [
    "Backtest",
    "CheckpointError",
    "CheckpointNotFoundError",
    "DivergenceError",
    "backtest",
    "ModelConfig",
    "Population",
    "SeriesOptions",
    "PopulationGroups",
    "SeriesPredictor",
    "TrainConfig",
    "TrainState",
    "Trained",
    "datasets",
    "evaluate",
    "export",
    "forecast",
    "load",
    "plot_forecast",
    "plot_losses",
    "plot_errors",
    "plot_panel",
    "predict",
    "train",
    "train_many",
    "train_series",
]
