"""jaxseries: LSTM time-series forecasting in JAX.

Public API: `train`, `predict`, `load`, `Trained`, `SeriesPredictor` (arrays of sequences); `train_series`,
`forecast`, `evaluate`, `backtest`, `plot_forecast`, `plot_losses`, `datasets` (raw series, and panels of many:
`train_series(frame, id=...)`, `plot_panel`, `plot_errors`); `train_many` and
`Population` (many models in one compiled call); the configs and error types.
Importing is cheap: nothing is computed or compiled until a function is called.
"""

from jaxseries.config import ModelConfig, SeriesOptions, TrainConfig
from jaxseries.errors import CheckpointError, CheckpointNotFoundError, DivergenceError
from jaxseries.seed import SeriesPredictor
from jaxseries.runs import Population, PopulationGroups, Trained, load, predict
from jaxseries.state import TrainState
from jaxseries.training import train, train_many


# The series layer imports pandas and the plots matplotlib: loaded when first asked for, so `import jaxseries`
# for array training stays lean in time and memory.
_LAZY = {"train_series": "api", "backtest": "api", "Backtest": "backtesting", "forecast": "forecasts",
         "evaluate": "metrics", "plot_forecast": "plots", "plot_losses": "plots",
         "plot_panel": "plots", "plot_errors": "plots", "datasets": None}


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
