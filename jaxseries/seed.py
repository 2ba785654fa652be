"""The seed tutorial's `SeriesPredictor`, as a thin stateful shell over the functional core.

The tutorial's `__main__` block runs unchanged once its imports point here:

    predictor = SeriesPredictor(input_dim=1, seq_size=4, hidden_dim=10)
    predictor.train(train_x, train_y)   # prints the loss every 100 steps, saves ./model.ckpt
    predictor.test(test_x)              # restores the checkpoint, prints and returns the predictions
"""

from __future__ import annotations

import os

import numpy as np

from jaxseries import validation
from jaxseries.config import _require_int
from jaxseries.runs import Trained, load, predict
from jaxseries.training import train

# The seed's data and the TF1 reference run (the book's printed output), for the demo and the tests.
SEED_TRAIN_X = [[[1], [2], [5], [6]], [[5], [7], [7], [8]], [[3], [4], [5], [7]]]
SEED_TRAIN_Y = [[1, 3, 7, 11], [5, 12, 14, 15], [3, 7, 9, 12]]
SEED_TEST_X = [[[1], [2], [3], [4]], [[4], [5], [6], [7]]]
SEED_EXPECTED = [[1, 3, 5, 7], [4, 9, 11, 13]]
TF_REFERENCE_LOSSES = [103.46, 63.42, 23.07, 11.48, 7.20, 4.46, 2.89, 1.95, 1.32, 0.886]
TF_REFERENCE_PREDICTIONS = [[0.867, 2.793, 5.308, 7.302], [4.073, 9.084, 11.937, 12.944]]


class SeriesPredictor:
    """LSTM sequence-to-sequence regressor with the seed's interface: `train` saves, `test` restores."""

    def __init__(self, input_dim: int, seq_size: int, hidden_dim: int = 10, *, checkpoint_dir="model.ckpt",
                 steps: int = 1000, learning_rate: float = 1e-3, seed: int = 0, verbose: bool = True):
        _require_int("input_dim", input_dim, 1)
        _require_int("seq_size", seq_size, 1)
        _require_int("hidden_dim", hidden_dim, 1)
        self.input_dim, self.seq_size, self.hidden_dim = input_dim, seq_size, hidden_dim
        self.checkpoint_dir = validation.checkpoint_path(checkpoint_dir)
        self.steps, self.learning_rate, self.seed, self.verbose = steps, learning_rate, seed, verbose
        self.trained: Trained | None = None

    def _check_x(self, x, name: str) -> np.ndarray:
        x = validation.as_float_array(x, name)
        expected = (self.seq_size, self.input_dim)
        if x.ndim != 3 or x.shape[1:] != expected:
            raise ValueError(f"{name} must be [N, seq_size={self.seq_size}, input_dim={self.input_dim}], got {x.shape}")
        return x

    def train(self, train_x, train_y) -> Trained:
        """Trains `steps` full-batch Adam steps, printing the loss every 100, then saves the checkpoint."""
        train_x = self._check_x(train_x, "train_x")
        self.trained = train(
            train_x, train_y, hidden_dim=self.hidden_dim, steps=self.steps, learning_rate=self.learning_rate,
            seed=self.seed, checkpoint_dir=self.checkpoint_dir, overwrite=True, progress=False,
            on_log=(lambda step, loss: print(step, loss)) if self.verbose else None,
        )
        if self.verbose:
            print(f"Model saved to {os.path.relpath(self.checkpoint_dir)}")
        return self.trained

    def test(self, test_x) -> np.ndarray:
        """Restores the saved checkpoint and returns (and prints) its predictions for test_x."""
        test_x = self._check_x(test_x, "test_x")
        output = predict(load(self.checkpoint_dir), test_x)
        if self.verbose:
            print(output)
        return output
