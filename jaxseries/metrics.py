"""Forecast errors per series beside the baselines every model is printed with, and `evaluate` on a run's holdout.

sMAPE is M3's 200|y - f| / (|y| + |f|) (0-200); MASE divides the MAE by each series' in-sample seasonal-naive MAE
(`encoding.mase_scales`); MAPE% is NaN where the truth is 0. Every figure is in the series' own units.

Probabilistic scores: an interval's coverage and width, and MSIS (M4's interval score, over the same MASE
denominator); the mean quantile (pinball) loss QL over a grid of quantiles, and the scaled CRPS: twice QL over the
MASE denominator (the CRPS is twice the pinball loss integrated over q; a point forecast's CRPS is its MAE, so its
scaled CRPS is its MASE, which is how the baselines are scored beside the model).
"""

from __future__ import annotations

import contextlib
import warnings

import numpy as np
import pandas as pd

from jaxseries.panel import Panel

METRICS = ("sMAPE", "MASE", "MAPE%", "MAE", "RMSE")
BASELINES = ("naive", "seasonal_naive")
QUANTILE_GRID = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)  # the CRPS's quadrature (GluonTS' and Chronos' grid)


def baselines(panel: Panel, fit_lengths: np.ndarray, horizon: int, season: int) -> dict[str, np.ndarray]:
    """Naive (the last value) and seasonal naive (the last season repeated; naive for a series shorter than a
    season) from each series' first `fit_lengths` rows (a missing value: the last observed one): {name: [S, H]}."""
    y = panel.y
    if np.isnan(y).any():
        y = pd.Series(y).groupby(panel.series_of_rows()).ffill().to_numpy()  # a series' first value is observed
    ends = panel.starts + fit_lengths  # the first row after each series' fitted part
    last = y[ends - 1]
    season = max(season, 1)
    seasonal = y[np.maximum(ends[:, None] - season + np.arange(horizon) % season, 0)]
    return {"naive": np.repeat(last[:, None], horizon, 1),
            "seasonal_naive": np.where((fit_lengths >= season)[:, None], seasonal, last[:, None])}


@contextlib.contextmanager
def _missing_allowed():
    """NaN in, NaN out, quietly: a series whose truths are all missing (or a scale of 0) scores NaN."""
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def errors(actual: np.ndarray, predicted: np.ndarray, scale: np.ndarray, ids=None) -> pd.DataFrame:
    """Per series (rows of [S, H] arrays): the METRICS, over the observed truths (NaN: missing, left out)."""
    diff = np.abs(predicted - actual)
    with _missing_allowed():
        denominator = np.abs(actual) + np.abs(predicted)
        smape = np.nanmean(np.where(denominator > 0, 200 * diff / denominator, np.where(np.isnan(diff), np.nan, 0)), 1)
        mape = 100 * np.nanmean(np.where(actual != 0, diff / np.abs(actual), np.nan), axis=1)
        mae = np.nanmean(diff, axis=1)
        return pd.DataFrame({"sMAPE": smape, "MASE": mae / scale, "MAPE%": mape, "MAE": mae,
                             "RMSE": np.sqrt(np.nanmean(diff**2, axis=1))}, index=ids)


def interval_errors(actual: np.ndarray, lower: np.ndarray, upper: np.ndarray, level: float, scale: np.ndarray,
                    ids=None) -> pd.DataFrame:
    """Per series (rows of [S, H] arrays) for a central `level` interval: coverage% (truths inside), mean width,
    and MSIS (width plus 2 / (1 - level) times the distance of each truth outside, over the MASE denominator)."""
    tail, observed = 1 - level, ~np.isnan(actual)
    outside = np.maximum(lower - actual, 0) + np.maximum(actual - upper, 0)
    score = np.where(observed, (upper - lower) + 2 / tail * outside, np.nan)
    inside = np.where(observed, (lower <= actual) & (actual <= upper), np.nan)
    with _missing_allowed():
        return pd.DataFrame({"coverage%": 100 * np.nanmean(inside, 1), "width": (upper - lower).mean(1),
                             "MSIS": np.nanmean(score, 1) / scale}, index=ids)


def quantile_errors(actual: np.ndarray, quantile_forecasts: dict, scale: np.ndarray, ids=None) -> pd.DataFrame:
    """Per series: QL, the pinball loss of each quantile forecast {q: [S, H]} averaged over quantiles and steps,
    and the scaled CRPS, 2 QL / scale."""
    losses = [np.maximum(q * (actual - f), (q - 1) * (actual - f)) for q, f in quantile_forecasts.items()]
    with _missing_allowed():
        loss = np.nanmean(losses, axis=(0, 2))
        return pd.DataFrame({"QL": loss, "sCRPS": 2 * loss / scale}, index=ids)


def mase_scales_of(run) -> np.ndarray:
    """[S] each trained series' MASE denominator (NaN where it has none)."""
    return np.array([np.nan if v is None else v for v in run.extra["panel_series"]["mase_scale"]], float)


def per_step(actual: np.ndarray, forecasts: dict[str, np.ndarray]) -> pd.DataFrame:
    """MAPE% by horizon step (rows) and forecaster (columns), the mean over series (NaN truths of 0 left out)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        columns = {name: np.nanmean(np.where(actual != 0, 100 * np.abs(predicted - actual) / np.abs(actual), np.nan),
                                    axis=0) for name, predicted in forecasts.items()}
    return pd.DataFrame(columns, index=pd.RangeIndex(1, actual.shape[1] + 1, name="step"))


def report(actual, forecasts: dict[str, np.ndarray], scale, ids: pd.Index) -> dict:
    """Per-series errors of every forecaster, their means, the errors by step and the share of series where the
    model beats seasonal naive (by sMAPE)."""
    per_series = {name: errors(actual, predicted, scale, ids) for name, predicted in forecasts.items()}
    table = pd.concat(per_series, names=["forecaster"])
    beats = np.mean(per_series["jaxseries"]["sMAPE"].to_numpy() < per_series["seasonal_naive"]["sMAPE"].to_numpy())
    return {"overall": table.groupby(level="forecaster", sort=False).mean(), "per_series": table,
            "per_step": per_step(actual, forecasts), "beats_seasonal_naive": float(beats)}


def evaluate(run, level=None) -> dict:
    """Scores the forecast from the holdout's start on the holdout, every series beside naive and seasonal naive.

    Returns {"overall": forecaster x metric (the mean over series), "per_series": (forecaster, id) x metric,
    "per_step": MAPE% by horizon step, "beats_seasonal_naive": share of series, "horizon": steps scored,
    "series": how many}, and "auto": the candidates' table for a run trained with auto=True. With `level` (0.8, or
    the peers' [80, 95]) also "intervals": level x (coverage%, width, MSIS), the mean over series, and
    "probabilistic": forecaster x (QL, sCRPS) over QUANTILE_GRID (the baselines as point forecasts).
    """
    from jaxseries import forecasting, forecasts, intervals
    from jaxseries.frames import bound_column, quantile_column

    spec = forecasting.panel_spec(run)
    if spec.holdout == 0:
        raise ValueError("this run has no holdout to score: train with holdout > 0 (CLI --holdout N)")
    coverages, _ = intervals.levels_asked(level)
    history, fit_lengths = forecasting.stored_panel(run)
    steps = spec.holdout if spec.strategy == "recursive" else min(spec.horizon, spec.holdout)
    count = len(history.ids)
    actual = history.y[history.starts[:, None] + fit_lengths[:, None] + np.arange(steps)]
    frame = forecasts.forecast_long(run, horizon=steps, level=coverages or None, quantiles=list(QUANTILE_GRID)
                                    if coverages else None, alias="jaxseries")
    column = lambda name: frame[name].to_numpy().reshape(count, steps)  # noqa: E731
    model = column("jaxseries" if coverages else "forecast")
    predicted = {"jaxseries": model, **baselines(history, fit_lengths, steps, spec.season)}
    ids = pd.Index(forecasting.json_ids(history.ids), name=spec.id)
    scale = mase_scales_of(run)
    out = {**report(actual, predicted, scale, ids), "horizon": steps, "series": count}
    if coverages:
        out["intervals"] = pd.DataFrame({
            c: interval_errors(actual, column(bound_column("jaxseries", "lo", c)),
                               column(bound_column("jaxseries", "hi", c)), c, scale).mean() for c in coverages
        }).T.rename_axis("level")
        grid = {q: column(quantile_column("jaxseries", q)) for q in QUANTILE_GRID}
        out["probabilistic"] = pd.DataFrame({
            name: quantile_errors(actual, grid if name == "jaxseries" else dict.fromkeys(QUANTILE_GRID, f),
                                  scale).mean() for name, f in predicted.items()}).T.rename_axis("forecaster")
    if "auto" in run.extra:
        out["auto"] = auto_table(run.extra["auto"])
    return out


def auto_table(record: dict) -> pd.DataFrame:
    """An auto search's candidates (settings, backtest MASE, seconds), the chosen one marked."""
    frame = pd.DataFrame(record["candidates"])
    frame["chosen"] = [all(row[k] == v for k, v in record["chosen"].items()) for _, row in frame.iterrows()]
    return frame
