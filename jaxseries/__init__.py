"""jaxseries: LSTM time-series forecasting in JAX.

Public API: `train`, `predict`, `load`, `Trained`, `SeriesPredictor`, the configs and error types.
Importing is cheap: nothing is computed or compiled until a function is called.
"""

from jaxseries.config import ModelConfig, TrainConfig
from jaxseries.errors import CheckpointError, CheckpointNotFoundError, DivergenceError
from jaxseries.seed import SeriesPredictor
from jaxseries.training import Trained, TrainState, load, predict, train

__version__ = "0.1.0"

__all__ = [
    "CheckpointError",
    "CheckpointNotFoundError",
    "DivergenceError",
    "ModelConfig",
    "SeriesPredictor",
    "TrainConfig",
    "TrainState",
    "Trained",
    "load",
    "predict",
    "train",
]
