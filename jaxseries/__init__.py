"""jaxseries: LSTM time-series forecasting in JAX.

Public API: `train`, `predict`, `load`, `Trained`, `SeriesPredictor` (arrays of sequences); `train_series`,
`forecast`, `evaluate`, `plot_forecast`, `plot_losses`, `datasets` (raw series); the configs and error types.
Importing is cheap: nothing is computed or compiled until a function is called.
"""

from jaxseries import datasets
from jaxseries.config import ModelConfig, TrainConfig
from jaxseries.errors import CheckpointError, CheckpointNotFoundError, DivergenceError
from jaxseries.seed import SeriesPredictor
from jaxseries.forecasting import evaluate, forecast, train_series
from jaxseries.population import Population, train_many
from jaxseries.training import Trained, TrainState, load, predict, train


def __getattr__(name):
    # Plotting imports matplotlib (slow); load it only when asked for.
    if name in ("plot_forecast", "plot_losses"):
        from jaxseries import plots

        return getattr(plots, name)
    raise AttributeError(f"module 'jaxseries' has no attribute {name!r}")

__version__ = "0.1.0"

__all__ = [
    "CheckpointError",
    "CheckpointNotFoundError",
    "DivergenceError",
    "ModelConfig",
    "Population",
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
    "predict",
    "train",
    "train_many",
    "train_series",
]
