"""Rolling-origin backtests: every origin x every series, forecast by the one forecaster (`forecasting.fit`).

Fold f (of K) forecasts each series' `horizon` rows after its origin; origins are `stride` rows apart, counted from
each series' end (series of different lengths and ends keep their own calendars), and the last fold ends at each
series' last row (before `holdout`, whose rows are never read). Without `refit`, one model is trained on the rows
before every series' first origin (its validation = the last rows of those) and forecasts from every origin of
every series in one batch. With `refit=True` every fold trains its own model on the rows up to its origin.

    series s:  0 ........... origin_0 | H rows             fold 0
               0 ............... origin_1 | H rows         fold 1 (stride rows later)
               0 ......................... origin_K-1 | H  fold K-1 = the series' end

Errors are `metrics.errors` per fold and series beside naive and seasonal naive. The interval is calibrated on the
validation windows before the first origin where there are enough of them (so its coverage on the folds is an
out-of-sample check), else each fold on the other folds (leave one fold out). `calibration` (for
`forecast(calibration=)`) is the conformal widening over every fold.
"""

from __future__ import annotations

import dataclasses
import time as clock

import numpy as np
import pandas as pd

from jaxseries import checkpoint, intervals, metrics
from jaxseries.config import SeriesOptions, _require_int
from jaxseries.encoding import seasonal_indices, window_settings
from jaxseries.forecasting import as_trained, fit, model_interval, panel_spec, predictions, series_units
from jaxseries.forecasts import calibration_widening
from jaxseries.frames import forecast_frame, json_ids
from jaxseries.panel import Panel
from jaxseries.transforms import logged, transformed

FORECASTERS = ("jaxseries",) + metrics.BASELINES


@dataclasses.dataclass(frozen=True)
class Backtest:
    """Per-fold and overall errors in the series' units beside the baselines, intervals and their coverage."""

    forecasts: pd.DataFrame  # one row per fold, series and step: time, cutoff, actual, forecasts, interval
    folds: pd.DataFrame  # index (fold, forecaster): rows after the origin and the metrics (mean over series)
    overall: pd.DataFrame  # forecaster x metric: the mean over folds
    level: float | None
    coverage: float | None  # share of truths inside the calibrated interval
    calibration: dict | None  # {"level", "horizon", "widening" [horizon] in model units}: for `forecast(calibration=)`
    best_steps: np.ndarray  # [folds (1 without refit), members]: the step with the lowest validation loss
    refit: bool
    seconds: float
    per_series: pd.DataFrame | None = None  # index (fold, forecaster, id), the metrics of each series
    intervals: pd.DataFrame | None = None  # index fold: the interval's coverage%, width and MSIS (mean over series)

    @property
    def chosen_steps(self) -> int:
        """Training steps chosen by the backtest (the median best step): for `train_series(steps=..., patience=None)`."""
        return int(np.median(self.best_steps))

    def to_json(self) -> dict:
        return {
            "refit": self.refit, "seconds": self.seconds, "level": self.level, "coverage": self.coverage,
            "chosen_steps": self.chosen_steps, "best_steps": self.best_steps.tolist(),
            "intervals": None if self.intervals is None else [
                {k: checkpoint.json_number(v) for k, v in row.items()} for row in self.intervals.to_dict("records")],
            "overall": {name: {m: checkpoint.json_number(v) for m, v in row.items()} for name, row in self.overall.iterrows()},
            "folds": [{k: checkpoint.json_number(v) if isinstance(v, float) else v if isinstance(v, (int, str))
                       else str(v) for k, v in row.items()} for row in self.folds.reset_index().to_dict("records")],
        }


def shortfall(panel: Panel, options: SeriesOptions, folds: int, stride: int) -> str | None:
    """None when `folds` origins `stride` rows apart leave every series a training part, else what is missing."""
    holdout, horizon = options.holdout or 0, options.horizon
    validation = window_settings(panel, options)["validation"]
    first_fit = panel.lengths - (holdout + horizon + stride * (folds - 1))
    short = np.flatnonzero(first_fit < validation + 1)
    if not len(short):
        return None
    s = short[0]
    most = (int(panel.lengths.min()) - holdout - validation - 1 - horizon) // stride + 1
    after = f"horizon {horizon}" + (f" and holdout {holdout}" if holdout else "")
    return (f"series {panel.ids[s]!r} has {panel.lengths[s]} rows: folds={folds} with stride {stride}, {after} leave "
            f"it {max(first_fit[s], 0)} rows before its first origin, but validation {validation} + 1 are needed "
            f"({len(short)} series that short); the shortest series allows "
            + (f"at most {most} folds" if most > 0 else "no fold: drop it or shorten horizon/validation"))


def backtest(panel: Panel, options: SeriesOptions, *, folds: int, stride: int = 1, level: float | None = 0.8,
             progress: bool = True) -> Backtest:
    """Backtests the forecaster (`options`, as for `train_series`) at `folds` origins per series."""
    for name, value in (("folds", folds), ("stride", stride)):
        _require_int(name, value, 1)
    level = intervals.check_level(level)
    if options.mode != "global":
        raise ValueError("a backtest scores the global model: drop mode='local'")
    started = clock.perf_counter()
    why = shortfall(panel, options, folds, stride)
    if why:
        raise ValueError(why)
    holdout = options.holdout or 0
    behind = holdout + options.horizon + stride * (folds - 1 - np.arange(folds))  # rows after each fold's origin
    validation = window_settings(panel, options)["validation"]
    windows = len(panel.ids) * (validation - options.horizon + 1)  # the windows an interval is calibrated on
    leave_one_out = level is not None and options.distribution is None and (
        windows < intervals.min_folds(level) or options.strategy == "recursive")  # a distribution's are its own
    if leave_one_out and (folds - 1) * len(panel.ids) < intervals.min_folds(level) - 1:
        raise ValueError(f"a {level:.0%} interval needs at least {intervals.min_folds(level)} validation windows to "
                         f"calibrate on, or as many other folds; this backtest has {windows} and {folds - 1}: "
                         "add folds, raise validation=, or ask for a lower level (or level=None)")
    fold_options = [dataclasses.replace(options, holdout=int(b), refit=False) for b in behind]
    saving = dict(checkpoint_dir=None, progress=progress)
    runs = [fit(panel, o, saving) for o in fold_options] if options.refit else [fit(panel, fold_options[0], saving)]
    fit_lengths = panel.lengths[None] - behind[:, None]  # [K, S]
    actual = panel.y[(panel.starts[None] + fit_lengths)[..., None] + np.arange(options.horizon)]  # [K, S, H]
    outputs = _predict_folds(runs, panel, fit_lengths)
    forecast = np.stack([series_units(*fold[:4], fold[-1], distribution=options.distribution)[0] for fold in outputs])
    lower = upper = coverage = calibration = None
    if level is not None:
        lower, upper, calibration = _intervals(runs, outputs, actual, level, leave_one_out, options.distribution)
        coverage = intervals.coverage(lower, upper, actual)
    return _report(runs, panel, fit_lengths, actual, forecast, lower, upper, level, coverage, calibration,
                   options.refit, clock.perf_counter() - started)


def _predict_folds(runs, panel: Panel, fit_lengths) -> list[tuple]:
    """Every fold's outputs from every series' origin: (out [members, S, H], base, scale, seasonal, spread, logs)
    per fold (logs [S]: which series its model logged). Refit folds each use their own model; the seasonal indices
    come from the rows before each origin only."""
    parts = []
    for f, lengths in enumerate(fit_lengths):
        run = runs[f if len(runs) > 1 else 0]
        spec = panel_spec(run)
        history, levels = as_trained(run, spec, panel, lengths)
        seasonal = seasonal_indices(history, lengths, spec)
        out, base, scale, spread = predictions(run, history, spec, levels, seasonal, lengths, spec.horizon)
        parts.append((out, base, scale, seasonal, spread, logged(history, spec)))
    return parts


def _intervals(runs, outputs, actual, level: float, leave_one_out: bool, distribution: str | None):
    """Each fold's interval in the series' units [K, S, H] (lower, upper), calibrated (a distribution's: its own,
    as its forecasts are by default), and the calibration over every fold for later forecasts."""
    scores = []  # how far each truth fell outside the model's interval, in model units: [K, S, H]
    for (out, base, scale, seasonal, spread, logs), truth in zip(outputs, actual):
        low, high = model_interval(out, base, scale, seasonal, level, distribution)
        scores.append(intervals.scores(low, high, transformed(truth, logs[:, None]), (scale * spread)[:, None]))
    scores = np.stack(scores)
    if distribution is not None:
        widening = [None] * len(scores)
    elif leave_one_out:  # each fold calibrated on the other folds' scores, pooled over series
        widening = [intervals.widening(np.delete(scores, f, 0).reshape(-1, scores.shape[-1]), level)
                    for f in range(len(scores))]
    else:  # each model's own validation windows, before its first origin
        own = [calibration_widening(run, level) for run in runs]
        widening = [own[f if len(runs) > 1 else 0] for f in range(len(scores))]
    bounds = [series_units(out, base, scale, seasonal, logs, level, w, spread, distribution)[1:]
              for (out, base, scale, seasonal, spread, logs), w in zip(outputs, widening)]
    calibration = {"level": level, "horizon": int(actual.shape[-1]),
                   "widening": intervals.widening(scores.reshape(-1, scores.shape[-1]), level).tolist()}
    return np.stack([b[0] for b in bounds]), np.stack([b[1] for b in bounds]), calibration


def _report(runs, panel, fit_lengths, actual, forecast, lower, upper, level, coverage, calibration, refit,
            seconds) -> Backtest:
    spec = panel_spec(runs[0])
    horizon = spec.horizon
    forecasts = {"jaxseries": forecast}
    for name in metrics.BASELINES:
        forecasts[name] = np.stack([metrics.baselines(panel, lengths, horizon, spec.season)[name]
                                    for lengths in fit_lengths])
    scale, ids = metrics.mase_scales_of(runs[0]), pd.Index(json_ids(panel.ids), name=spec.id)
    per_series = pd.concat({(f, name): metrics.errors(actual[f], values[f], scale, ids)
                            for f in range(len(fit_lengths)) for name, values in forecasts.items()},
                           names=["fold", "forecaster"])
    folds = per_series.groupby(level=["fold", "forecaster"], sort=False).mean()
    folds.insert(0, "rows_after_origin", np.repeat(panel.lengths[0] - fit_lengths[:, 0], len(forecasts)))
    overall = folds.drop(columns="rows_after_origin").groupby(level="forecaster", sort=False).mean()
    time = spec.time or "step"
    parts = []
    for f, lengths in enumerate(fit_lengths):
        part = forecast_frame(panel, lengths, spec, horizon)
        cutoff = panel.stamps[panel.starts + lengths - 1]
        parts.append(part.assign(fold=f, step=np.tile(np.arange(1, horizon + 1), len(panel.ids)),
                                 cutoff=np.repeat(np.asarray(cutoff), horizon)))
    table = pd.concat(parts, ignore_index=True)
    table["actual"] = actual.reshape(-1)
    for name, values in forecasts.items():
        table["forecast" if name == "jaxseries" else name] = values.reshape(-1)
    if lower is not None:
        table["lower"], table["upper"] = lower.reshape(-1), upper.reshape(-1)
    one_series = len(spec.targets) == 1
    table = table[["fold"] + ([] if one_series else [spec.id]) + [time, "step", "cutoff"] + list(table.columns[5:])]
    best = np.stack([np.atleast_1d(np.asarray(run.best_step)) for run in runs])
    scored = None if lower is None else pd.DataFrame({
        f: metrics.interval_errors(actual[f], lower[f], upper[f], level, scale).mean() for f in range(len(actual))
    }).T.rename_axis("fold")
    return Backtest(forecasts=table, folds=folds, overall=overall, level=level, coverage=coverage,
                    calibration=calibration, best_steps=best, refit=refit, seconds=seconds, per_series=per_series,
                    intervals=scored)
