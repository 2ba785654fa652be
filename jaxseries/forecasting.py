"""From a raw series to an honest forecast: train (early stopping on the validation part), forecast, evaluate.

The series is put in model units by `encoding` (split, leak-free scaling, windows). Targets stay in their units
by default; transform="log" (or "auto": log when positive) models log values, which measured worse on airline
passengers, in a backtest before the holdout and on it (benchmarks/RESULTS.md). Outputs go back to the series'
units. The recursive strategy trains one-step-shift windows (the seed's layout) and rolls forward with `lax.scan`.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from jaxseries import data as data_lib
from jaxseries import intervals, loop, metrics
from jaxseries.config import ModelConfig, TrainConfig, _require_int
from jaxseries.encoding import (
    Encoded, SeriesSpec, _known, check_series_args, describe_length, fit_scaling, load_series, model_head, plan_windows,
    required_length, training_windows, untransform_values,
)
from jaxseries.model import LSTMRegressor
from jaxseries.runs import Trained


def train_series(
    data,
    *,
    id: str | None = None,
    target: str | list[str] | None = None,
    time: str | None = None,
    horizon: int,
    holdout: int | None = None,
    context: int | None = None,
    validation: int | None = None,
    covariates: list[str] = (),
    future_covariates: list[str] = (),
    static: list[str] = (),
    calendar: bool = True,
    season: int | None = None,
    strategy: str = "direct",
    transform: str | None = None,
    normalize: str = "auto",
    fill: bool = False,
    hidden_dim: int | None = None,
    num_layers: int = 1,
    steps: int = 1500,
    learning_rate: float = 1e-3,
    batch_size: int | None = None,
    loss: str | None = None,
    sampling: str = "window",
    min_observed: int = 1,
    deseasonalize: bool = True,
    mode: str = "global",
    seed: int = 0,
    weight_decay: float | None = None,
    patience: int | None = 20,
    eval_every: int = 10,
    refit: bool = False,
    members: int = 1,
    checkpoint_dir=None,
    checkpoint_every: int | None = None,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
    auto: bool = False,
    budget_s: float | None = None,
) -> Trained:
    """Trains a forecaster on a raw series, or on a panel of many; returns a run whose metadata holds everything to
    forecast.

    `auto=True` first chooses the context length (and for one series, log values or not) by a backtest inside the
    rows before the holdout, every candidate one model, within `budget_s` seconds when given (`auto`); settings
    passed explicitly are not searched. The choice and every candidate's score are in `run.extra["auto"]`.

    `holdout` last rows (None: none) are never seen; the `validation` rows before them (default: the larger of `horizon`
    and a tenth of the rest) drive early stopping with `patience` evaluations, and the best weights are kept.

    A panel (a long table with an `id` column, a dict of series, a list of arrays) trains one global model on
    windows from every series (`panel_forecasting`): per series the last `holdout` rows are kept out and the last
    `validation` (default: `horizon`) rows of the rest validate; `static` names per-series columns; `sampling`
    draws batches over every window ("window") or every series equally ("series"); `min_observed` is the fewest
    real rows a training window's context needs (short series are left-padded, with a mask the model sees);
    `deseasonalize` removes each seasonal series' seasonal indices (classical decomposition) before the windows;
    `mode="local"` trains one model per series instead (hidden_dim 16 by default), all in one compiled call.
    Panel defaults: transform "auto" (log when positive), hidden_dim 64, batch 256, loss "mae".
    """
    if budget_s is not None and not auto:
        raise ValueError("budget_s= caps the auto search: pass auto=True too (CLI --auto), or drop it")
    if id is not None or isinstance(data, (dict, list)):
        from jaxseries import panel_forecasting

        args = check_series_args(horizon, holdout, context, validation, strategy, transform or "auto", normalize,
                                 season)
        _require_int("members", members, 1)
        saving = dict(checkpoint_dir=checkpoint_dir, checkpoint_every=checkpoint_every, resume=resume,
                      overwrite=overwrite, progress=progress)
        record = None
        if auto and mode != "global":
            raise ValueError("auto=True chooses the settings of the global model: drop mode='local' or auto")
        if auto:
            from jaxseries import auto as auto_lib
            from jaxseries.panel import load_panel

            data = load_panel(data, id=id, time=time, target=target, covariates=covariates,
                              future_covariates=future_covariates, static=static)
            options = dict(id=data.id, static=list(static), covariates=list(covariates),
                           future_covariates=list(future_covariates), context=context, validation=validation,
                           calendar=calendar, transform=transform, hidden_dim=hidden_dim, num_layers=num_layers,
                           steps=steps, learning_rate=learning_rate, batch_size=batch_size, seed=seed,
                           weight_decay=weight_decay, patience=patience, eval_every=eval_every, loss=loss,
                           sampling=sampling, min_observed=min_observed, deseasonalize=deseasonalize)
            chosen, record = auto_lib.choose(data, panel=True, horizon=horizon, holdout=args["holdout"],
                                             season=season, budget_s=budget_s, progress=progress,
                                             fits=lambda *_: None, options=options)
            context = chosen["context"]
        return panel_forecasting.train_panel(
            data, id=id, time=time, target=target, horizon=horizon, holdout=args["holdout"], context=context,
            validation=validation, covariates=list(covariates), future_covariates=list(future_covariates),
            static=list(static), calendar=calendar, season=season, transform=transform or "auto",
            hidden_dim=hidden_dim or (16 if mode == "local" else 64), num_layers=num_layers, steps=steps, learning_rate=learning_rate,
            batch_size=batch_size, seed=seed, weight_decay=weight_decay, patience=patience, eval_every=eval_every,
            members=members, loss=loss or panel_forecasting.DEFAULT_LOSS, sampling=sampling,
            min_observed=min_observed, deseasonalize=deseasonalize, refit=refit,
            mode=mode, saving=saving, notes={"auto": record} if record else {})
    if static:
        raise ValueError("static= names per-series columns of a panel: pass id= (the id column) too")
    explicit_transform = transform
    transform, hidden_dim, loss = transform or "none", hidden_dim or 32, loss or "mse"
    args = check_series_args(horizon, holdout, context, validation, strategy, transform, normalize, season)
    _require_int("members", members, 1)
    if members > 1 and (strategy != "direct" or refit):
        raise ValueError("members > 1 (an ensemble) works with strategy='direct' and without refit: drop those "
                         "options or train one member")
    series = load_series(data, target, time, fill, covariates, future_covariates, strategy)
    holdout = args["holdout"]
    record = None
    if auto:
        context, transform, record = _choose(series, auto_context=context, auto_transform=explicit_transform,
                                             horizon=horizon, holdout=holdout, validation=validation,
                                             normalize=normalize, season=season, budget_s=budget_s,
                                             progress=progress, strategy=strategy, options=dict(
                                                 calendar=calendar, hidden_dim=hidden_dim, num_layers=num_layers,
                                                 steps=steps, learning_rate=learning_rate, batch_size=batch_size,
                                                 seed=seed, weight_decay=weight_decay, patience=patience,
                                                 eval_every=eval_every))
        args["context"] = context
    fit_end = len(series.frame) - holdout
    plan = plan_windows(series, args, strategy, normalize, season, fit_end)
    needed = required_length(plan["lookback"], plan["horizon"], holdout, plan["validation"])
    if len(series.frame) < needed:
        raise ValueError(f"the series has {len(series.frame)} rows but {describe_length(plan)} + holdout {holdout} "
                         f"needs at least {needed}: shorten context/validation/holdout or supply more data")
    spec, encoded = fit_scaling(series, plan, fit_end, transform, calendar, holdout)
    (x, y), (x_val, y_val) = training_windows(encoded, fit_end)
    model_config = ModelConfig(input_dim=x.shape[-1], hidden_dim=hidden_dim, num_layers=num_layers, loss=loss,
                               **model_head(spec))
    train_config = TrainConfig(steps=steps, learning_rate=learning_rate, batch_size=batch_size, seed=seed,
                               log_every=eval_every, eval_every=eval_every, patience=patience,
                               weight_decay=weight_decay)
    extra = {"series": dataclasses.asdict(spec), **_stored_rows(series.frame, spec, fit_end),
             **({"auto": record} if record else {})}
    saving = dict(checkpoint_dir=checkpoint_dir, checkpoint_every=checkpoint_every, resume=resume,
                  overwrite=overwrite, progress=progress, extra=extra)
    # An ensemble's members differ in seed, trained in one compiled call, forecasts averaged; one model is one config.
    configs = tuple(dataclasses.replace(train_config, seed=seed + i) for i in range(members)) if members > 1 \
        else train_config
    if not refit:
        return loop.fit(x, y, model_config, configs, validation_data=(x_val, y_val), **saving)
    chosen = loop.fit(x, y, model_config, train_config, validation_data=(x_val, y_val), progress=progress)
    refit_config = dataclasses.replace(train_config, steps=max(chosen.best_step, eval_every), patience=None)
    extra["chosen_steps"] = refit_config.steps
    return loop.fit(np.concatenate([x, x_val]), np.concatenate([y, y_val]), model_config, refit_config, **saving)


def _choose(series, *, auto_context, auto_transform, horizon, holdout, validation, normalize, season, budget_s,
            progress, strategy, options):
    """`auto` for one series: (context, transform, record)."""
    from jaxseries import auto as auto_lib, backtesting
    from jaxseries.encoding import head

    if strategy != "direct":
        raise ValueError("auto=True chooses settings for strategy='direct': drop strategy='recursive'")
    before = head(series, len(series.frame) - holdout)

    def fits(candidate, folds, stride):
        args = check_series_args(horizon, None, candidate["context"], validation, "direct",
                                 candidate["transform"], normalize, season)
        return backtesting.shortfall(before, args, normalize, season, stride, folds)

    chosen, record = auto_lib.choose(series, panel=False, horizon=horizon, holdout=holdout, season=season,
                                     budget_s=budget_s, progress=progress, fits=fits,
                                     options=dict(options, context=auto_context, transform=auto_transform,
                                                  validation=validation, normalize=normalize))
    return chosen["context"], chosen["transform"], record


def _rows_dict(frame: pd.DataFrame, columns: list[str]) -> dict:
    index = frame.index
    stamps = [t.isoformat() for t in index] if isinstance(index, pd.DatetimeIndex) else [int(i) for i in index]
    return {"index": stamps, "columns": {c: frame[c].astype(float).tolist() for c in columns}}


def _stored_rows(frame: pd.DataFrame, spec: SeriesSpec, fit_end: int) -> dict:
    """The rows a forecast and its evaluation need: the tail before the holdout, and the holdout itself."""
    columns = spec.targets + spec.covariates + spec.future_covariates
    keep = min(fit_end, max(spec.context + spec.season, 3 * spec.season, 36) + 1)
    return {"tail": _rows_dict(frame.iloc[fit_end - keep : fit_end], columns),
            "holdout": _rows_dict(frame.iloc[fit_end:], columns)}


def _frame_from(stored: dict) -> pd.DataFrame:
    index = stored["index"]
    if index and isinstance(index[0], str):
        index = pd.DatetimeIndex(pd.to_datetime(index))
    return pd.DataFrame(stored["columns"], index=index)


def series_spec(run) -> SeriesSpec:
    if "series" not in run.extra:
        raise ValueError("this model was trained by js.train on arrays, not on a series: use js.predict instead")
    return SeriesSpec(**run.extra["series"])


def history_frames(run: Trained) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The stored tail before the forecast origin and the holdout rows (raw units)."""
    return _frame_from(run.extra["tail"]), _frame_from(run.extra["holdout"])


@functools.lru_cache(maxsize=None)
def _compiled_rollout(model_config: ModelConfig, horizon: int):
    """Recursive forecast as one `lax.scan`: predict the next row, append it, slide the window."""
    model = LSTMRegressor(model_config)

    def rollout(params, values_LxK, known_next, scale, window_relative):
        context = values_LxK.shape[0]

        def step(window, j):
            ref = jnp.where(window_relative, window[-1], 0.0)
            features = jnp.concatenate([(window - ref) / scale, jax.lax.dynamic_slice_in_dim(known_next, j, context)], -1)
            next_value = ref + scale * model.apply(params, features[None])[0, -1]
            return jnp.concatenate([window[1:], next_value[None]]), next_value

        _, predicted = jax.lax.scan(step, values_LxK, jnp.arange(horizon))
        return predicted

    return jax.jit(rollout)


def forecast(run: Trained, *, data=None, horizon: int | None = None, future: pd.DataFrame | None = None,
             level: float | None = None, calibration: dict | None = None) -> pd.DataFrame:
    """Forecast in the series' units with its timestamps.

    By default from the end of the data the model was trained on (the start of the holdout). Pass `data` (same
    columns, and the time column if there was one) to forecast from the end of new data instead. Known-future
    covariates for the horizon come from the holdout, or from `future`.
    `level` (e.g. 0.8) adds `lower`/`upper` columns: the members' quantiles (an ensemble from `members=N`),
    widened by `calibration` (a backtest's `.calibration`, same horizon and level) when given. Without
    calibration the members' spread is all there is, and it covers too little (see `js.backtest`).
    A panel run returns a long frame (id, time, `forecast`) for every series: see `panel_forecasting.forecast_panel`.
    """
    if "panel" in run.extra:
        from jaxseries import panel_forecasting

        if calibration is not None:
            raise ValueError("calibration= is for single-series runs; a panel run's interval comes from members=N")
        return panel_forecasting.forecast_panel(run, data=data, future=future, horizon=horizon, level=level)
    spec = series_spec(run)
    horizon = spec.horizon if horizon is None else horizon
    _require_int("horizon", horizon, 1)
    if level is None and calibration is not None:
        level = calibration.get("level")  # the calibrated level, unless asked for another (then refused below)
    level = intervals.check_level(level)
    if calibration is not None:
        if calibration.get("level") != level or calibration.get("horizon", 0) < horizon \
                or calibration.get("targets") != spec.targets:
            raise ValueError(f"calibration is for level {calibration.get('level')}, horizon {calibration.get('horizon')} "
                             f"and targets {calibration.get('targets')}; this forecast asks for level {level}, horizon "
                             f"{horizon}, targets {spec.targets}: backtest with the same settings")
    if spec.strategy == "direct" and horizon > spec.horizon:
        raise ValueError(f"horizon={horizon} exceeds the trained direct horizon {spec.horizon}: retrain or use strategy='recursive'")
    if data is None:
        history, ahead = history_frames(run)
    else:
        history, _ = data_lib.check_time_index(data_lib.read_table(data, time=spec.time))
        ahead = future if future is not None else pd.DataFrame()
    lookback = spec.context + (spec.season if spec.normalize == "season" else 0)
    if len(history) < lookback:
        raise ValueError(f"forecasting needs the last {lookback} rows (context and reference), got {len(history)}")
    targets = data_lib.numeric_columns(history, spec.targets, "target")
    past = data_lib.numeric_columns(history, spec.covariates, "covariate")
    index = data_lib.future_index(history.index, spec.freq, horizon)
    if spec.future_covariates:
        if len(ahead) < horizon or any(c not in ahead.columns for c in spec.future_covariates):
            raise ValueError(f"known-future covariates {spec.future_covariates} are needed for {horizon} rows ahead: pass future=")
        future_values = np.concatenate([data_lib.numeric_columns(history, spec.future_covariates, "future covariate"),
                                        data_lib.numeric_columns(ahead.iloc[:horizon], spec.future_covariates, "future covariate")])
    else:
        future_values = np.zeros((len(history) + horizon, 0))
    full_index = history.index.append(index) if isinstance(history.index, pd.DatetimeIndex) else pd.RangeIndex(len(history) + horizon)
    known = _known(full_index, spec.freq, spec.calendar, (future_values - np.asarray(spec.future_center)) / np.asarray(spec.future_scale))
    encoded = Encoded(spec, targets, past, known)
    origin = len(history) - 1
    scale = np.asarray(spec.target_scale)
    if spec.strategy == "direct":
        x = encoded.direct(np.array([origin]), with_targets=False)
        out = np.asarray(run.predict(x)).reshape(-1, spec.horizon, len(spec.targets))[:, :horizon]  # [members, H, k]
        predicted = encoded.target_reference(np.array([origin]), horizon) + scale * out
    else:
        rows = np.arange(origin - spec.context + 1, origin + 1)
        rollout = _compiled_rollout(run.model_config, horizon)
        predicted = np.asarray(rollout(run.params, encoded.values[rows].astype(np.float32),
                                       known[rows[0] + 1 :].astype(np.float32), scale.astype(np.float32),
                                       spec.normalize == "window"))
    predicted = predicted if predicted.ndim == 3 else predicted[None]  # [members, H, k]
    values = untransform_values(predicted, spec.transforms).mean(axis=0)  # an ensemble's mean forecast, in series units
    suffix = [""] if len(spec.targets) == 1 else [f"_{t}" for t in spec.targets]
    frame = pd.DataFrame(values, index=index, columns=[f"forecast{s}" for s in suffix])
    if level is not None:
        if len(predicted) == 1 and calibration is None:
            raise ValueError("one model has no spread to make an interval from: train an ensemble (members=5) or pass "
                             "calibration= from js.backtest")
        low, high = intervals.member_interval(predicted, level, axis=0)
        if calibration is not None:
            widening = np.asarray(calibration["widening"], float)[:horizon] * scale
            low, high = low - widening, high + widening
        for name, bound in (("lower", low), ("upper", high)):
            frame[[f"{name}{s}" for s in suffix]] = untransform_values(bound, spec.transforms)
    frame.index.name = spec.time or ("time" if isinstance(index, pd.DatetimeIndex) else "step")
    return frame


def evaluate(run: Trained) -> dict:
    """Scores the forecast from the holdout's start on the holdout, beside persistence and seasonal-naive.

    Returns {"overall": DataFrame (forecaster x metric), "per_step": DataFrame (MAPE% by horizon step),
    "horizon": steps scored}. A panel run scores every series: see `panel_forecasting.evaluate_panel`.
    """
    if "panel" in run.extra:
        from jaxseries import panel_forecasting

        return {**panel_forecasting.evaluate_panel(run), **_auto_report(run)}
    spec = series_spec(run)
    history, holdout = history_frames(run)
    if len(holdout) == 0:
        raise ValueError("this run has no holdout to score: train with holdout > 0 (CLI --holdout N)")
    steps = min(spec.horizon, len(holdout)) if spec.strategy == "direct" else len(holdout)
    actual = holdout[spec.targets].to_numpy(float)[:steps]
    past = history[spec.targets].to_numpy(float)
    forecasts = {
        "jaxseries": forecast(run, horizon=steps).to_numpy(float),
        "persistence": metrics.persistence(past, steps),
        "seasonal_naive": metrics.seasonal_naive(past, steps, spec.season),
    }
    scale = np.asarray(spec.mase_scale, float)
    return {"overall": metrics.table(actual, forecasts, scale),
            "per_step": metrics.per_horizon(actual, forecasts, scale), "horizon": steps, **_auto_report(run)}


def _auto_report(run) -> dict:
    """{"auto": the candidates' table} for a run trained with auto=True, else {}."""
    if "auto" not in run.extra:
        return {}
    from jaxseries import auto

    return {"auto": auto.table(run.extra["auto"])}
