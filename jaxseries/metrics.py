"""Forecast errors in the series' own units, and the baselines every model is printed beside."""

from __future__ import annotations

import numpy as np
import pandas as pd

METRICS = ("MAE", "RMSE", "MAPE%", "sMAPE%", "MASE")


def persistence(history: np.ndarray, horizon: int) -> np.ndarray:
    """Next values = the last value seen. history [T, k] -> [horizon, k]."""
    return np.repeat(history[-1:], horizon, axis=0)


def seasonal_naive(history: np.ndarray, horizon: int, season: int) -> np.ndarray:
    """Next values = the value one season earlier (repeating the last season). history [T, k] -> [horizon, k]."""
    if season <= 1 or len(history) < season:
        return persistence(history, horizon)
    last_season = history[-season:]
    return np.stack([last_season[h % season] for h in range(horizon)])


def mase_scale(train: np.ndarray, season: int) -> np.ndarray:
    """In-sample MAE of the seasonal-naive forecast on the training part, per column (MASE's denominator)."""
    lag = season if len(train) > season else 1
    if len(train) <= lag:
        return np.full(train.shape[1], np.nan)
    scale = np.mean(np.abs(train[lag:] - train[:-lag]), axis=0)
    return np.where(scale > 0, scale, np.nan)


def errors(actual: np.ndarray, predicted: np.ndarray, scale: np.ndarray, axis=None) -> dict[str, np.ndarray]:
    """MAE, RMSE, MAPE (%), sMAPE (%), MASE over `axis` (None: all). MAPE is NaN where the truth is 0."""
    diff = predicted - actual
    with np.errstate(divide="ignore", invalid="ignore"):
        ape = np.where(actual != 0, np.abs(diff) / np.abs(actual), np.nan)
        sape = np.where(np.abs(actual) + np.abs(predicted) > 0, 2 * np.abs(diff) / (np.abs(actual) + np.abs(predicted)), 0.0)
        return {
            "MAE": np.mean(np.abs(diff), axis=axis),
            "RMSE": np.sqrt(np.mean(diff**2, axis=axis)),
            "MAPE%": 100 * np.mean(ape, axis=axis),
            "sMAPE%": 100 * np.mean(sape, axis=axis),
            "MASE": np.mean(np.abs(diff) / scale, axis=axis),
        }


def table(actual: np.ndarray, forecasts: dict[str, np.ndarray], scale: np.ndarray) -> pd.DataFrame:
    """Overall errors, one row per forecaster (model and baselines side by side). Arrays are [H, k]."""
    rows = {name: {m: float(v) for m, v in errors(actual, pred, scale).items()} for name, pred in forecasts.items()}
    return pd.DataFrame.from_dict(rows, orient="index")[list(METRICS)]


def per_horizon(actual: np.ndarray, forecasts: dict[str, np.ndarray], scale: np.ndarray, metric: str = "MAPE%") -> pd.DataFrame:
    """One metric per horizon step (rows) and forecaster (columns), averaged over targets."""
    columns = {name: errors(actual, pred, scale, axis=1)[metric] for name, pred in forecasts.items()}
    frame = pd.DataFrame(columns, index=pd.RangeIndex(1, len(actual) + 1, name="step"))
    return frame
