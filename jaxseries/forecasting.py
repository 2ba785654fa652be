"""From a raw series to an honest forecast: split, leak-free scaling, windows, early stopping, forecasts.

Timeline of a series with T rows (holdout N, validation V, context L, horizon H):

    rows:  0 ............................ T-N-V ........ T-N ........ T
           |<------- training part ------>|<-- valid. -->|<- holdout ->|
           scaling statistics come from here only          never seen in training or validation

A direct window with origin o (its last observed row) reads rows o-L+1..o (targets, past covariates,
known features) plus rows o+1..o+H (known features only: calendar, known-future covariates) and predicts
rows o+1..o+H. Worked example, L=3, H=2, o=5: input rows 3,4,5 (+6,7 known-only), targets rows 6,7.
A training window's targets all lie in the training part; a validation window's in the validation part.

Targets stay in their units by default; transform="log" (or "auto": log when positive) models log values, which
measured worse on airline passengers, in a backtest before the holdout and on it (benchmarks/RESULTS.md). Each
value is then measured from a reference known at the origin (normalize="auto"): for a seasonal series the value
one season earlier, so inputs are seasonal differences and the network predicts what the seasonal-naive
forecast misses ("season"); otherwise the window's last value ("window"). The network sees scale-free shapes; outputs go back to the series' units.
The recursive strategy trains one-step-shift windows (the seed's layout) and rolls forward with `lax.scan`.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from jaxseries import data as data_lib
from jaxseries import intervals, metrics, population, validation
from jaxseries.config import ModelConfig, TrainConfig, _require_int
from jaxseries.model import LSTMRegressor
from jaxseries.training import Trained, fit


@dataclasses.dataclass(frozen=True, kw_only=True)
class SeriesSpec:
    """Everything about the data a forecast needs, saved in the checkpoint metadata."""

    targets: list
    covariates: list  # past covariates: observed up to the origin only
    future_covariates: list  # known for the forecast horizon too
    time: str | None
    freq: str | None
    season: int
    context: int
    horizon: int
    holdout: int
    validation: int
    strategy: str
    transforms: list  # per target: "log" or "none"
    normalize: str
    calendar: bool
    target_center: list
    target_scale: list
    covariate_center: list
    covariate_scale: list
    future_center: list
    future_scale: list
    mase_scale: list


def _center_scale(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    center = values.mean(axis=0) if len(values) else np.zeros(values.shape[1])
    scale = values.std(axis=0) if len(values) else np.ones(values.shape[1])
    return center, np.where(scale > 1e-12, scale, 1.0)  # a constant column is centred, not blown up


def transform_values(values: np.ndarray, transforms) -> np.ndarray:
    return np.stack([np.log(v) if t == "log" else v for v, t in zip(values.T, transforms)], axis=1)


def untransform_values(values: np.ndarray, transforms) -> np.ndarray:
    return np.stack([np.exp(v) if t == "log" else v for v, t in zip(np.moveaxis(values, -1, 0), transforms)], axis=-1)


class Encoded:
    """A table turned into model units: transformed targets, scaled covariates and known features."""

    def __init__(self, spec: SeriesSpec, targets, covariates, known):
        self.spec = spec
        self.values = transform_values(targets, spec.transforms)  # [T, k], not yet centred
        self.past = (covariates - np.asarray(spec.covariate_center)) / np.asarray(spec.covariate_scale)
        self.known = known  # [T (+ horizon), q]

    def input_reference(self, rows: np.ndarray, origins: np.ndarray) -> np.ndarray:
        """What each input value is measured from: [n, L, k]."""
        if self.spec.normalize == "window":
            return self.values[origins][:, None]
        if self.spec.normalize == "season":
            return self.values[rows - self.spec.season]
        return np.broadcast_to(np.asarray(self.spec.target_center), rows.shape + (self.values.shape[1],))

    def target_reference(self, origins: np.ndarray, steps: int) -> np.ndarray:
        """What each predicted value is measured from, known at the origin: [n, steps, k]."""
        ahead = origins[:, None] + np.arange(1, steps + 1)
        if self.spec.normalize == "season":  # the seasonal-naive forecast: the model learns what it misses
            season = self.spec.season
            return self.values[ahead - season * np.ceil((ahead - origins[:, None]) / season).astype(int)]
        return np.broadcast_to(self.input_reference(origins[:, None], origins)[:, :1], ahead.shape + (self.values.shape[1],))

    def first_origin(self) -> int:
        return self.spec.context - 1 + (self.spec.season if self.spec.normalize == "season" else 0)

    def direct(self, origins: np.ndarray, with_targets: bool = True):
        spec, scale = self.spec, np.asarray(self.spec.target_scale)
        context = data_lib.window_index(origins, spec.context, 0)
        parts = [(self.values[context] - self.input_reference(context, origins)) / scale, self.past[context],
                 self.known[context]]
        x = np.concatenate(parts + [np.zeros(context.shape + (1,))], axis=-1)
        ahead = origins[:, None] + np.arange(1, spec.horizon + 1)
        if self.known.shape[1]:
            blank = np.zeros(ahead.shape + (self.values.shape[1] + self.past.shape[1],))
            x = np.concatenate([x, np.concatenate([blank, self.known[ahead], np.ones(ahead.shape + (1,))], -1)], 1)
        if not with_targets:
            return x.astype(np.float32)
        y = ((self.values[ahead] - self.target_reference(origins, spec.horizon)) / scale).reshape(len(origins), -1)
        return x.astype(np.float32), y.astype(np.float32)

    def recursive(self, origins: np.ndarray):
        """One-step-shift windows: rows o-L+1..o in, rows o-L+2..o+1 out (known features of the next row in)."""
        spec, scale = self.spec, np.asarray(self.spec.target_scale)
        rows = data_lib.window_index(origins, spec.context, 0)
        ref = self.input_reference(rows, origins)
        x = np.concatenate([(self.values[rows] - ref) / scale, self.known[rows + 1]], axis=-1)
        y = (self.values[rows + 1] - ref) / scale
        return x.astype(np.float32), y.astype(np.float32)


def _prepare(frame, spec_args: dict):
    """The target, past-covariate and known-future columns of the checked table, as float arrays."""
    targets = data_lib.numeric_columns(frame, spec_args["targets"], "target")
    covariates = data_lib.numeric_columns(frame, spec_args["covariates"], "covariate")
    future = data_lib.numeric_columns(frame, spec_args["future_covariates"], "future covariate")
    return targets, covariates, future


def _known(index, freq, calendar: bool, future_scaled: np.ndarray) -> np.ndarray:
    cal = data_lib.calendar_features(index, freq) if calendar else np.zeros((len(index), 0))
    return np.concatenate([cal, future_scaled], axis=1)


def required_length(context: int, horizon: int, holdout: int, validation: int) -> int:
    return context + horizon + validation + holdout


class Series(NamedTuple):
    """A checked table and its numeric parts."""

    frame: pd.DataFrame
    freq: str | None
    time: str | None
    names: dict  # targets, covariates, future_covariates: column name lists
    targets: np.ndarray  # [T, k]
    past: np.ndarray  # [T, c]
    future: np.ndarray  # [T, f]


def load_series(data, target, time, fill, covariates, future_covariates, strategy) -> Series:
    """Reads and checks the table (sorted regular timestamps, known numeric columns, no NaN/inf)."""
    frame, freq = data_lib.check_time_index(data_lib.read_table(data, time=time), fill=fill)
    targets_list = _names(target, frame, "target") if target is not None else [frame.columns[0]]
    names = {"targets": targets_list, "covariates": list(covariates), "future_covariates": list(future_covariates)}
    for name in names["covariates"] + names["future_covariates"]:
        if name in targets_list:
            raise ValueError(f"column {name!r} is both a target and a covariate: name it once")
    if strategy == "recursive" and names["covariates"]:
        raise ValueError("strategy='recursive' cannot roll past covariates forward: use strategy='direct' or drop them")
    return Series(frame, freq, time, names, *_prepare(frame, names))


def plan_windows(series: Series, args: dict, strategy: str, normalize: str, season, fit_end: int) -> dict:
    """The window settings, defaults filled in: season, context, horizon, validation, normalize, lookback."""
    season = season or data_lib.default_season(series.freq)
    context = args["context"] or (2 * season if season > 1 else 24)
    validation = args["validation"] or max(args["horizon"], round(0.1 * fit_end))
    if normalize == "auto":
        normalize = "season" if season > 1 and strategy == "direct" else "window"
    if normalize == "season" and (strategy != "direct" or season < 2):
        raise ValueError("normalize='season' needs strategy='direct' and a season >= 2: use normalize='window'")
    lookback = context + (season if normalize == "season" else 0)
    return {"season": season, "context": context, "horizon": args["horizon"], "validation": validation,
            "normalize": normalize, "strategy": strategy, "lookback": lookback}


def describe_length(plan: dict) -> str:
    season = f" + one season {plan['season']}" if plan["lookback"] > plan["context"] else ""
    return f"context {plan['context']}{season} + horizon {plan['horizon']} + validation {plan['validation']}"


def fit_scaling(series: Series, plan: dict, fit_end: int, transform: str, calendar: bool, holdout: int):
    """The spec (transforms and scaling fitted on the training part, rows before fit_end - validation) and
    the encoded rows up to fit_end (targets) and fit_end + horizon (known features): later rows are never read."""
    train_end = fit_end - plan["validation"]
    targets = series.targets[:fit_end]
    transforms = [("log" if (targets[:, j] > 0).all() else "none") if transform == "auto" else transform
                  for j in range(targets.shape[1])]
    if "log" in transforms and not all((targets[:, j] > 0).all() for j, t in enumerate(transforms) if t == "log"):
        raise ValueError("transform='log' needs strictly positive targets: use transform='none' or 'auto'")
    train_values = transform_values(targets[:train_end], transforms)
    t_center, t_scale = _center_scale(train_values)
    if plan["normalize"] != "global":  # relative values: scale by the spread of the changes they are made of
        lag = plan["season"] if plan["normalize"] == "season" else 1
        changes = (train_values[lag:] - train_values[:-lag]) * (np.sqrt(plan["horizon"]) if lag == 1 else 1.0)
        if len(changes) > 1:
            t_scale = np.where(changes.std(axis=0) > 1e-12, changes.std(axis=0), 1.0)
    c_center, c_scale = _center_scale(series.past[:train_end])
    f_center, f_scale = _center_scale(series.future[:train_end])
    spec = SeriesSpec(
        **series.names, time=series.time, freq=series.freq, season=plan["season"], context=plan["context"],
        horizon=plan["horizon"], holdout=holdout, validation=plan["validation"], strategy=plan["strategy"],
        transforms=transforms, normalize=plan["normalize"], calendar=calendar,
        target_center=t_center.tolist(), target_scale=t_scale.tolist(), covariate_center=c_center.tolist(),
        covariate_scale=c_scale.tolist(), future_center=f_center.tolist(), future_scale=f_scale.tolist(),
        mase_scale=metrics.mase_scale(targets[:train_end], plan["season"]).tolist(),
    )
    return spec, encode(series, spec, fit_end)


def encode(series: Series, spec: SeriesSpec, end: int) -> Encoded:
    """Rows before `end` in model units (known features `horizon` rows further): later targets are never read."""
    rows = slice(0, end + spec.horizon)
    future = (series.future[rows] - np.asarray(spec.future_center)) / np.asarray(spec.future_scale)
    known = _known(series.frame.index[rows], series.freq, spec.calendar, future)
    return Encoded(spec, series.targets[:end], series.past[:end], known)


def training_windows(encoded: Encoded, fit_end: int):
    """((x, y), (x_val, y_val)): windows whose targets lie in the training part, and in the validation part."""
    spec = encoded.spec
    train_end = fit_end - spec.validation
    if spec.strategy == "direct":
        train_origins = np.arange(encoded.first_origin(), train_end - spec.horizon)
        val_origins = np.arange(train_end - 1, fit_end - spec.horizon)
        return encoded.direct(train_origins), encoded.direct(val_origins)
    return (encoded.recursive(np.arange(spec.context - 1, train_end - 1)),
            encoded.recursive(np.arange(train_end - 1, fit_end - 1)))


def train_series(
    data,
    *,
    target: str | list[str] | None = None,
    time: str | None = None,
    horizon: int,
    holdout: int | None = None,
    context: int | None = None,
    validation: int | None = None,
    covariates: list[str] = (),
    future_covariates: list[str] = (),
    calendar: bool = True,
    season: int | None = None,
    strategy: str = "direct",
    transform: str = "none",
    normalize: str = "auto",
    fill: bool = False,
    hidden_dim: int = 32,
    num_layers: int = 1,
    steps: int = 1500,
    learning_rate: float = 1e-3,
    batch_size: int | None = None,
    seed: int = 0,
    patience: int | None = 20,
    eval_every: int = 10,
    refit: bool = False,
    members: int = 1,
    checkpoint_dir=None,
    checkpoint_every: int | None = None,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
) -> Trained:
    """Trains a forecaster on a raw series; returns a `Trained` whose metadata holds everything to forecast.

    `holdout` last rows (None: none) are never seen; the `validation` rows before them (default: the larger of `horizon`
    and a tenth of the rest) drive early stopping with `patience` evaluations, and the best weights are kept.
    """
    args = check_series_args(horizon, holdout, context, validation, strategy, transform, normalize, season)
    _require_int("members", members, 1)
    if members > 1 and (strategy != "direct" or refit):
        raise ValueError("members > 1 (an ensemble) works with strategy='direct' and without refit: drop those "
                         "options or train one member")
    series = load_series(data, target, time, fill, covariates, future_covariates, strategy)
    holdout = args["holdout"]
    fit_end = len(series.frame) - holdout
    plan = plan_windows(series, args, strategy, normalize, season, fit_end)
    needed = required_length(plan["lookback"], plan["horizon"], holdout, plan["validation"])
    if len(series.frame) < needed:
        raise ValueError(f"the series has {len(series.frame)} rows but {describe_length(plan)} + holdout {holdout} "
                         f"needs at least {needed}: shorten context/validation/holdout or supply more data")
    spec, encoded = fit_scaling(series, plan, fit_end, transform, calendar, holdout)
    (x, y), (x_val, y_val) = training_windows(encoded, fit_end)
    head, output_dim = ("last", plan["horizon"] * len(spec.targets)) if strategy == "direct" else ("sequence", len(spec.targets))
    model_config = ModelConfig(input_dim=x.shape[-1], output_dim=output_dim, hidden_dim=hidden_dim,
                               num_layers=num_layers, head=head)
    train_config = TrainConfig(steps=steps, learning_rate=learning_rate, batch_size=batch_size, seed=seed,
                               log_every=eval_every, eval_every=eval_every, patience=patience)
    extra = {"series": dataclasses.asdict(spec), **_stored_rows(series.frame, spec, fit_end)}
    if members > 1:  # an ensemble: members differ in seed, trained in one compiled call, forecasts averaged
        configs = tuple(dataclasses.replace(train_config, seed=seed + i) for i in range(members))
        return population.fit_population(x, y, model_config, configs, validation_data=(x_val, y_val),
                                         checkpoint_dir=checkpoint_dir, checkpoint_every=checkpoint_every,
                                         resume=resume, overwrite=overwrite, progress=progress, extra=extra)
    if not refit:
        return fit(
            x, y, model_config, train_config, validation_data=(x_val, y_val), checkpoint_dir=checkpoint_dir,
            checkpoint_every=checkpoint_every, resume=resume, overwrite=overwrite, progress=progress, extra=extra,
        )
    chosen = fit(x, y, model_config, train_config, validation_data=(x_val, y_val), progress=progress)
    refit_config = dataclasses.replace(train_config, steps=max(chosen.best_step, eval_every), patience=None)
    extra["chosen_steps"] = refit_config.steps
    return fit(
        np.concatenate([x, x_val]), np.concatenate([y, y_val]), model_config, refit_config,
        checkpoint_dir=checkpoint_dir, checkpoint_every=checkpoint_every, resume=resume, overwrite=overwrite,
        progress=progress, extra=extra,
    )


def _names(value, frame, role) -> list[str]:
    names = [value] if isinstance(value, str) else list(value)
    if not names:
        raise ValueError(f"pass at least one {role} column")
    for name in names:
        if name not in frame.columns:
            raise ValueError(f"{role} column {name!r} is not in the data; columns are {list(frame.columns)}")
    return names


def check_series_args(horizon, holdout, context, validation, strategy, transform, normalize, season) -> dict:
    _require_int("horizon", horizon, 1)
    if holdout is not None:
        _require_int("holdout", holdout, 1)  # omit it (None) for no holdout
    holdout = holdout or 0
    for name, value in (("context", context), ("validation", validation), ("season", season)):
        if value is not None:
            _require_int(name, value, 1)
    if validation is not None and validation < horizon and strategy == "direct":
        raise ValueError(f"validation={validation} must be >= horizon={horizon} so one validation window fits")
    for name, value, allowed in (("strategy", strategy, ("direct", "recursive")),
                                 ("transform", transform, ("auto", "log", "none")),
                                 ("normalize", normalize, ("auto", "season", "window", "global"))):
        if value not in allowed:
            raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
    return {"horizon": horizon, "holdout": holdout, "context": context, "validation": validation}


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
    """
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
    "horizon": steps scored}.
    """
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
            "per_step": metrics.per_horizon(actual, forecasts, scale), "horizon": steps}
