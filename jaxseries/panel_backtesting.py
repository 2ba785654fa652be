"""Rolling-origin backtests of a panel: every origin x every series, forecast in one compiled call per model.

Fold f (of K) forecasts each series' `horizon` rows after its origin; origins are `stride` rows apart, counted from
each series' end (series of different lengths and ends keep their own calendars), and the last fold ends at each
series' last row. Without `refit`, one global model is trained on the rows before every series' first origin (its
validation = the last `horizon` of those) and forecasts from every origin of every series in one batch. With
`refit=True` every fold trains its own model on the rows up to its origin (one after another).

    series s:  0 ........... origin_0 | H rows             fold 0
               0 ............... origin_1 | H rows         fold 1 (stride rows later)
               0 ......................... origin_K-1 | H  fold K-1 = the series' end

Errors are the panel metrics (sMAPE as in M3, MASE scaled by the in-sample seasonal naive of the rows before the
first origin, MAPE, MAE) per fold and series, beside naive and seasonal naive. The interval is calibrated on the
validation windows before the first origin, so its coverage on the folds is an honest out-of-sample check.
"""

from __future__ import annotations

import time as clock

import numpy as np
import pandas as pd

from jaxseries import intervals
from jaxseries.config import _require_int
from jaxseries.panel import load_panel
from jaxseries.panel_encoding import build_arrays, forecast_pairs, seasonal_indices
from jaxseries.panel_forecasting import (
    baseline_forecasts, calibration_widening, forecast_frame, json_ids, model_outputs, panel_errors, panel_spec,
    series_units, train_panel,
)
from jaxseries.windows import gather_all


def backtest_panel(data, *, id, time, target, covariates, future_covariates, static, horizon, folds, stride, refit,
                   level, validation, progress, holdout=0, **options) -> dict:
    """Backtests the global model (train_series's panel options in `options`) at `folds` origins per series:
    the fields of a `backtesting.Backtest`."""
    for name, value in (("folds", folds), ("stride", stride)):
        _require_int(name, value, 1)
    level = intervals.check_level(level)
    started = clock.perf_counter()
    panel = load_panel(data, id=id, time=time, target=target, covariates=covariates,
                       future_covariates=future_covariates, static=static)
    behind = holdout + horizon + stride * (folds - 1 - np.arange(folds))  # rows after each fold's origin
    validation = validation or horizon
    first_fit = panel.lengths - behind[0]
    short = np.flatnonzero(first_fit < validation + 1)
    if len(short):
        s = short[0]
        most = (int(panel.lengths.min()) - holdout - validation - 1 - horizon) // stride + 1
        after = f"horizon {horizon}" + (f" and holdout {holdout}" if holdout else "")
        raise ValueError(
            f"series {panel.ids[s]!r} has {panel.lengths[s]} rows: folds={folds} with stride {stride}, {after} leave "
            f"it {max(first_fit[s], 0)} rows before its first origin, but validation {validation} + 1 are needed "
            f"({len(short)} series that short); the shortest series allows "
            + (f"at most {most} folds" if most > 0 else "no fold: drop it or shorten horizon/validation"))
    windows = len(panel.ids) * (validation - horizon + 1)  # the validation windows an interval is calibrated on
    if level is not None and windows < intervals.min_folds(level):
        raise ValueError(f"a {level:.0%} interval needs at least {intervals.min_folds(level)} validation windows to "
                         f"calibrate on; this panel has {windows}: ask for a lower level (or level=None)")
    train = dict(id=panel.id, time=panel.time, target=panel.target, covariates=panel.names["covariates"],
                 future_covariates=panel.names["future_covariates"], static=panel.names["static"],
                 horizon=horizon, validation=validation, refit=False, mode="global", **options,
                 saving=dict(checkpoint_dir=None, checkpoint_every=None, resume=False, overwrite=False,
                             progress=progress))
    runs = ([train_panel(panel, holdout=int(b), **train) for b in behind] if refit
            else [train_panel(panel, holdout=int(behind[0]), **train)])
    fit_lengths = panel.lengths[None] - behind[:, None]  # [K, S]
    forecast, lower, upper = _predict_folds(runs, panel, fit_lengths, level)
    return _report(runs, panel, fit_lengths, forecast, lower, upper, level, refit, clock.perf_counter() - started)


def _predict_folds(runs, panel, fit_lengths, level):
    """Every fold's forecast from every series' origin, in the series' units: forecast [K, S, H] (the members'
    mean), and with `level` the calibrated interval's lower and upper (else None). One model forecasts every
    origin x every series in one batch; refit folds each use their own model."""
    # each model's interval widening, computed once (its validation windows lie before the first origin)
    widenings = [None if level is None else calibration_widening(run, level) for run in runs]
    parts = []
    for f, lengths in enumerate(fit_lengths):
        r = f if len(runs) > 1 else 0  # the model of this fold
        spec, levels = panel_spec(runs[r]), np.asarray(runs[r].extra["panel_series"]["levels"])
        seasonal = seasonal_indices(panel, lengths, spec)  # from the rows before this origin only
        arrays, width = build_arrays(panel, spec, levels, seasonal, lengths)
        x, base, scale = gather_all(spec.layout(), arrays, forecast_pairs(len(panel.ids), width), with_targets=False)
        parts.append((r, spec, x, base, scale, seasonal))
    ids = json_ids(panel.ids)
    if len(runs) == 1:  # every origin x every series in one batch
        outs = np.split(model_outputs(runs[0], np.concatenate([p[2] for p in parts]), ids * len(parts)), len(parts), 1)
    else:
        outs = [model_outputs(runs[r], x, ids) for r, _, x, *_ in parts]
    folds = [series_units(out, base, scale, seasonal, spec.transform, level, widenings[r])
             for out, (r, spec, _, base, scale, seasonal) in zip(outs, parts)]  # calibrated before the first origin
    forecast = np.stack([fold[0] for fold in folds])
    if level is None:
        return forecast, None, None
    return forecast, np.stack([fold[1] for fold in folds]), np.stack([fold[2] for fold in folds])


def _report(runs, panel, fit_lengths, forecast, lower, upper, level, refit, seconds) -> dict:
    spec = panel_spec(runs[0])
    horizon = spec.horizon
    actual = panel.y[(panel.starts[None] + fit_lengths)[..., None] + np.arange(horizon)]  # [K, S, H]
    baselines = [baseline_forecasts(panel, lengths, horizon, spec.season) for lengths in fit_lengths]
    forecasts = {"jaxseries": forecast, "naive": np.stack([b[0] for b in baselines]),
                 "seasonal_naive": np.stack([b[1] for b in baselines])}
    scale = np.array([np.nan if v is None else v for v in runs[0].extra["panel_series"]["mase_scale"]], float)
    ids = pd.Index(json_ids(panel.ids), name=spec.id)
    per_series = pd.concat({(f, name): panel_errors(actual[f], values[f], scale, ids)
                            for f in range(len(fit_lengths)) for name, values in forecasts.items()},
                           names=["fold", "forecaster"])
    folds = per_series.groupby(level=["fold", "forecaster"], sort=False).mean()
    folds.insert(0, "rows_after_origin", np.repeat(panel.lengths[0] - fit_lengths[:, 0], len(forecasts)))
    overall = folds.drop(columns="rows_after_origin").groupby(level="forecaster", sort=False).mean()
    coverage = calibration = None
    if level is not None:
        coverage = intervals.coverage(lower, upper, actual)
        calibration = {"level": level, "horizon": horizon}
    table = pd.concat([forecast_frame(panel, lengths, spec, horizon).assign(
        fold=f, step=np.tile(np.arange(1, horizon + 1), len(panel.ids))) for f, lengths in enumerate(fit_lengths)],
        ignore_index=True)
    table["actual"] = actual.reshape(-1)
    for name, values in forecasts.items():
        table["forecast" if name == "jaxseries" else name] = values.reshape(-1)
    if lower is not None:
        table["lower"], table["upper"] = lower.reshape(-1), upper.reshape(-1)
    table = table[["fold", spec.id, spec.time or "step", "step"] + list(table.columns[4:])]
    best = np.stack([np.atleast_1d(np.asarray(run.best_step)) for run in runs])
    return dict(forecasts=table, folds=folds, overall=overall, level=level, coverage=coverage, calibration=calibration,
                best_steps=best, refit=refit, seconds=seconds, per_series=per_series)
