"""Forecasting many series: one global LSTM trained on windows from every series, forecast and scored per series.

`train_series(frame, id="unique_id", ...)` lands here. The panel is checked (`panel`), put in model units
(`panel_encoding`), and trained by the one loop on windows cut on the device (`windows`). Validation is the last
`validation` rows (default: the horizon) of each series' training part; early stopping on the panel's mean loss.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from jaxseries import data as data_lib
from jaxseries import intervals, loop
from jaxseries.config import ModelConfig, TrainConfig, _require_int
from jaxseries.panel import Panel, load_panel
from jaxseries.panel_encoding import (
    PanelSpec, build_arrays, fit_spec, forecast_pairs, mase_scales, seasonal_indices, series_levels, training_pairs,
    untransformed, validation_pairs,
)
from jaxseries.windows import gather_all

SAMPLINGS = ("window", "series")
MODES = ("global", "local")
PREDICT_CHUNK = 8192
DEFAULT_LOSS = "mae"  # chosen by validation on M3 monthly's training parts (benchmarks/RESULTS.md)
PANEL_LINEAR_RATE = 1.0  # the decoder's linear path, slower than for one series (model.py; RESULTS.md)


def train_panel(data, *, id, time, target, horizon, holdout, context, validation, covariates, future_covariates,
                static, calendar, season, transform, hidden_dim, num_layers, steps, learning_rate, batch_size, seed,
                weight_decay, patience, eval_every, members, loss, sampling, min_observed, deseasonalize, refit,
                mode, saving, notes=None):
    """A global model for a panel, or one model per series (`mode="local"`); see `forecasting.train_series`."""
    if sampling not in SAMPLINGS:
        raise ValueError(f"sampling must be one of {SAMPLINGS}, got {sampling!r}")
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if mode == "local" and (members > 1 or refit):
        raise ValueError("mode='local' trains one model per series: drop members and refit")
    _require_int("min_observed", min_observed, 1)
    panel = load_panel(data, id=id, time=time, target=target, covariates=covariates,
                       future_covariates=future_covariates, static=static)
    validation = validation or horizon
    fit_lengths = panel.lengths - holdout
    short = np.flatnonzero(fit_lengths < validation + 1)
    if len(short):
        raise ValueError(f"series {panel.ids[short[0]]!r} has {panel.lengths[short[0]]} rows, but holdout {holdout} + "
                         f"validation {validation} + 1 needs {holdout + validation + 1} ({len(short)} series that "
                         "short): drop them, or shorten holdout/validation")
    season = season or data_lib.default_season(panel.freq)
    context = context or (max(2 * season, horizon) if season > 1 else 2 * horizon)
    options = dict(horizon=horizon, holdout=holdout, context=context, season=season, transform=transform,
                   calendar=calendar, sampling=sampling, min_observed=min_observed, deseasonalize=deseasonalize,
                   mode=mode)
    spec, levels, seasonal, arrays, width, pairs = _encode(panel, fit_lengths, validation, options)
    layout = spec.layout()
    x_val, y_val = gather_all(layout, arrays, validation_pairs(spec, len(panel.ids), width))
    model_config = ModelConfig(input_dim=layout.input_dim(arrays), hidden_dim=hidden_dim, num_layers=num_layers,
                               head="horizon", output_dim=1, horizon=horizon, context=context, loss=loss,
                               linear_rate=PANEL_LINEAR_RATE)
    train_config = TrainConfig(steps=steps, learning_rate=learning_rate, batch_size=batch_size or 256, seed=seed,
                               log_every=eval_every, eval_every=eval_every, patience=patience,
                               weight_decay=weight_decay)

    def configs(config):
        return tuple(dataclasses.replace(config, seed=seed + i) for i in range(members)) if members > 1 else config

    def extra(spec, levels, seasonal):
        return {**(notes or {}), "panel": dataclasses.asdict(spec),
                "panel_series": _series_table(panel, levels, seasonal, fit_lengths, season),
                "panel_rows": _stored_rows(panel, spec, fit_lengths)}

    if mode == "local":
        from jaxseries import panel_local

        local_config = dataclasses.replace(train_config, batch_size=batch_size or panel_local.LOCAL_BATCH)
        return panel_local.train_local(panel.ids, layout, arrays, pairs, (x_val, y_val), model_config, local_config,
                                       extra(spec, levels, seasonal), saving)
    if not refit:
        return loop.fit(arrays, pairs, model_config, configs(train_config), validation_data=(x_val, y_val),
                        layout=layout, extra=extra(spec, levels, seasonal), **saving)
    # Refit: the validation rows chose the number of steps; the final model trains that long on every row before
    # the holdout (the newest rows are the ones a forecast leans on most), its statistics from those rows too.
    chosen = loop.fit(arrays, pairs, model_config, configs(train_config), validation_data=(x_val, y_val),
                      layout=layout, progress=saving["progress"])
    chosen_steps = max(int(np.median(chosen.best_step)), eval_every)
    spec, levels, seasonal, arrays, width, pairs = _encode(panel, fit_lengths, 0, options)
    final = dataclasses.replace(train_config, steps=chosen_steps, patience=None)
    return loop.fit(arrays, pairs, model_config, configs(final), layout=spec.layout(),
                    extra={**extra(spec, levels, seasonal), "chosen_steps": chosen_steps}, **saving)


def _encode(panel: Panel, fit_lengths, validation: int, options: dict):
    """Spec, levels, seasonal indices, device arrays and training pairs, with `validation` rows per series held for
    early stopping (statistics from the rows before them)."""
    spec, levels = fit_spec(panel, fit_lengths, validation=validation, **options)
    # the indices come from the training part; anchored at the last fitted row, as the arrays' columns are
    seasonal = _anchored(seasonal_indices(panel, fit_lengths - validation, spec), validation)
    arrays, width = build_arrays(panel, spec, levels, seasonal, fit_lengths)
    arrays, pairs = training_pairs(arrays, spec, fit_lengths, width)
    if len(pairs) == 0:
        raise ValueError(f"no series has a training window (context {spec.context}, horizon {spec.horizon}, "
                         f"validation {validation}): supply longer series or shorten the horizon")
    return spec, levels, seasonal, arrays, width, pairs


def json_ids(ids) -> list:
    return [v.item() if isinstance(v, np.generic) else v for v in ids]


def _anchored(seasonal: np.ndarray, shift: int) -> np.ndarray:
    """Indices anchored `shift` rows later: index j applies j rows (mod season) after the new anchor."""
    return np.roll(seasonal, -shift, axis=1)


def _series_table(panel: Panel, levels, seasonal, fit_lengths, season) -> dict:
    return {"ids": json_ids(panel.ids), "levels": levels.tolist(), "seasonal": seasonal.round(8).tolist(),
            "mase_scale": [None if not np.isfinite(v) else float(v) for v in mase_scales(panel, fit_lengths, season)]}


def _stored_rows(panel: Panel, spec: PanelSpec, fit_lengths) -> dict:
    """Each series' last rows before the holdout (what a forecast and the baselines read), then its holdout rows,
    as long-format columns."""
    # enough rows for the last validation window too (intervals are calibrated on it)
    keep = np.minimum(fit_lengths, max(spec.context + spec.validation, spec.season, 1))
    rows = panel.last_rows(keep + spec.holdout)
    series = panel.series_of_rows()[rows]
    stamps = panel.stamps[rows]
    columns = {panel.id: json_ids(panel.ids[series]),
               panel.time or "step": [t.isoformat() for t in stamps] if isinstance(stamps, pd.DatetimeIndex)
               else [int(t) for t in stamps],
               panel.target: panel.y[rows].tolist()}
    for j, name in enumerate(spec.covariates):
        columns[name] = panel.past[rows, j].tolist()
    for j, name in enumerate(spec.future_covariates):
        columns[name] = panel.future[rows, j].tolist()
    for name in spec.static:
        columns[name] = json_ids(panel.static[name].to_numpy()[series])
    return {"columns": columns, "holdout": spec.holdout}


def panel_spec(run) -> PanelSpec:
    return PanelSpec(**run.extra["panel"])


def stored_panel(run) -> tuple[Panel, np.ndarray]:
    """The stored rows as a panel, and each series' rows before its holdout."""
    spec, stored = panel_spec(run), run.extra["panel_rows"]
    frame = pd.DataFrame(stored["columns"])
    panel = load_panel(frame, id=spec.id, time=spec.time or "step", target=spec.target, covariates=spec.covariates,
                       future_covariates=spec.future_covariates, static=spec.static)
    return panel, panel.lengths - stored["holdout"]


def forecast_panel(run, *, data=None, future=None, horizon: int | None = None, level: float | None = None
                   ) -> pd.DataFrame:
    """The forecast of every series from its last row: a long frame (id, time, `forecast`, and `lower`/`upper`
    with `level`: the members' interval widened by `calibration_widening`, so one model has an interval too). `data` (a panel in the training layout) forecasts from its ends instead, unseen series too;
    `future` (a panel of the rows ahead) gives known-future covariates."""
    spec = panel_spec(run)
    horizon = spec.horizon if horizon is None else horizon
    _require_int("horizon", horizon, 1)
    if horizon > spec.horizon:
        raise ValueError(f"horizon={horizon} exceeds the trained horizon {spec.horizon}: retrain with a longer one")
    level = intervals.check_level(level)
    table = run.extra["panel_series"]
    if data is None:
        history, fit_lengths = stored_panel(run)
        ahead = None
        levels, seasonal = np.asarray(table["levels"]), np.asarray(table["seasonal"])
    else:
        history = load_panel(data, id=spec.id, time=spec.time, target=spec.target, covariates=spec.covariates,
                             future_covariates=spec.future_covariates, static=spec.static)
        fit_lengths = history.lengths
        ahead = None if future is None else load_panel(future.assign(**{spec.target: 0.0}), id=spec.id,
                                                       time=spec.time, target=spec.target,
                                                       future_covariates=spec.future_covariates)
        if ahead is not None:
            unknown = sorted(set(json_ids(ahead.ids)) - set(json_ids(history.ids)), key=str)
            if unknown:
                raise ValueError(f"future= has ids that are not in data: {unknown[:5]}")
        # New history is the data in hand before the origin: levels (of unseen series) and seasonal indices come from it
        trained_levels = dict(zip(table["ids"], table["levels"]))
        own = series_levels(history, fit_lengths, spec.transform)
        levels = np.array([trained_levels.get(key, fallback) for key, fallback in zip(json_ids(history.ids), own)])
        seasonal = seasonal_indices(history, fit_lengths, spec)
    arrays, width = build_arrays(history, spec, levels, seasonal, fit_lengths, future=ahead)
    if spec.future_covariates:
        _check_future_rows(history, fit_lengths, ahead, horizon, spec)
    x, base, scale = gather_all(spec.layout(), arrays, forecast_pairs(len(history.ids), width), with_targets=False)
    out = model_outputs(run, x, json_ids(history.ids))[:, :, :horizon]  # [members, S, H]
    widening = None if level is None else calibration_widening(run, level)[:horizon]
    forecast, lower, upper = series_units(out, base, scale, seasonal, spec.transform, level, widening)
    frame = forecast_frame(history, fit_lengths, spec, horizon)
    frame["forecast"] = forecast.reshape(-1)
    if level is not None:
        frame["lower"], frame["upper"] = lower.reshape(-1), upper.reshape(-1)
    return frame


def series_units(out, base, scale, seasonal, transform: str, level=None, widening=None):
    """Model outputs [members, S, H] back in the series' units: the members' mean forecast [S, H], and with `level`
    the members' interval widened by `widening` [H] (model units, from `calibration_widening`); else None, None."""
    ahead_phase = np.arange(1, out.shape[-1] + 1) % seasonal.shape[1]
    predicted = base[None, :, None] + scale[None, :, None] * out + seasonal[None][:, :, ahead_phase]
    forecast = untransformed(predicted, transform).mean(0)
    if level is None:
        return forecast, None, None
    low, high = intervals.member_interval(predicted, level, axis=0)
    widening = scale[:, None] * widening[None]
    return forecast, untransformed(low - widening, transform), untransformed(high + widening, transform)


def model_outputs(run, x: np.ndarray, ids: list) -> np.ndarray:
    """The model's outputs for windows x of the series `ids`: [members, N, H] (local runs: each series' own)."""
    spec = panel_spec(run)
    if spec.mode == "local":
        from jaxseries import panel_local

        member = {key: m for m, key in enumerate(run.extra["panel_series"]["ids"])}
        unknown = [key for key in ids if key not in member]
        if unknown:
            raise ValueError(f"a local run has a model for each trained series only; unknown ids: {unknown[:5]}")
        out = panel_local.predict_local(run, x, np.array([member[k] for k in ids]))[None]
    else:  # in chunks: the activations of a whole large panel at once would not fit
        out = np.concatenate([np.asarray(run.predict(x[i : i + PREDICT_CHUNK]), np.float64)
                              for i in range(0, len(x), PREDICT_CHUNK)], axis=-2)
    return out.reshape(-1, len(x), spec.horizon)


def calibration_widening(run, level: float) -> np.ndarray:
    """[H] how far to widen the members' `level` interval, in model units, per horizon step: the conformal quantile
    of how far each series' validation window fell outside it (split conformal on absolute residuals for one model;
    conformalized quantile regression for an ensemble), pooled across series (the units are scale-free)."""
    spec = panel_spec(run)
    if spec.validation == 0:
        raise ValueError("this run was refit on its validation rows, so nothing unseen is left to calibrate an "
                         "interval on: train without refit for intervals")
    table = run.extra["panel_series"]
    history, fit_lengths = stored_panel(run)
    arrays, width = build_arrays(history, spec, np.asarray(table["levels"]), np.asarray(table["seasonal"]),
                                 fit_lengths)
    pairs = validation_pairs(spec, len(history.ids), width)
    x_val, y_val = gather_all(spec.layout(), arrays, pairs)
    out = model_outputs(run, x_val, [json_ids(history.ids)[s] for s in pairs[:, 0]])
    low, high = intervals.member_interval(out, level, axis=0)
    widening = intervals.widening(intervals.scores(low, high, y_val, 1.0), level)
    if not np.isfinite(widening).all():
        raise ValueError(f"a {level:.0%} interval needs at least {int(np.ceil(level / (1 - level)))} validation windows "
                         f"to calibrate on; this panel has {len(y_val)}: ask for a lower level")
    return widening


def _check_future_rows(history, fit_lengths, ahead, horizon, spec) -> None:
    after = history.lengths - fit_lengths + (0 if ahead is None else
                                             pd.Series(ahead.lengths, ahead.ids).reindex(history.ids).fillna(0).to_numpy())
    missing = np.flatnonzero(after < horizon)
    if len(missing):
        raise ValueError(f"known-future covariates {spec.future_covariates} are needed for {horizon} rows ahead, id "
                         f"{history.ids[missing[0]]!r} has {int(after[missing[0]])}: pass future= (a long frame of "
                         "the rows ahead)")


def forecast_frame(history: Panel, fit_lengths, spec: PanelSpec, horizon: int) -> pd.DataFrame:
    """id and time columns of each series' next `horizon` rows after its fit end."""
    last = history.starts + fit_lengths - 1
    ids = np.repeat(history.ids, horizon)
    if isinstance(history.stamps, pd.DatetimeIndex):
        ends = history.stamps[last]
        grids = {end: data_lib.future_index(pd.DatetimeIndex([end]), spec.freq, horizon) for end in ends.unique()}
        stamps = pd.DatetimeIndex(np.concatenate([grids[end].to_numpy() for end in ends]))
    else:
        stamps = (np.asarray(history.stamps)[last][:, None] + np.arange(1, horizon + 1)).reshape(-1)
    return pd.DataFrame({spec.id: ids, spec.time or "step": stamps})


def evaluate_panel(run) -> dict:
    """Per-series errors on the holdout beside naive and seasonal naive, their means, and the share of series where
    the model beats seasonal naive (by sMAPE). sMAPE is M3's 200|y-f|/(|y|+|f|); MASE divides by each series'
    in-sample seasonal-naive MAE."""
    spec = panel_spec(run)
    if spec.holdout == 0:
        raise ValueError("this run has no holdout to score: train with holdout > 0 (CLI --holdout N)")
    history, fit_lengths = stored_panel(run)
    steps = min(spec.horizon, spec.holdout)
    count = len(history.ids)
    actual = history.y[history.starts[:, None] + fit_lengths[:, None] + np.arange(steps)]
    naive, seasonal = baseline_forecasts(history, fit_lengths, steps, spec.season)
    model = forecast_panel(run, horizon=steps)["forecast"].to_numpy().reshape(count, steps)
    scale = np.array([np.nan if v is None else v for v in run.extra["panel_series"]["mase_scale"]], float)
    ids = pd.Index(json_ids(history.ids), name=spec.id)
    per_series = {name: panel_errors(actual, predicted, scale, ids)
                  for name, predicted in (("jaxseries", model), ("naive", naive), ("seasonal_naive", seasonal))}
    table = pd.concat(per_series, names=["forecaster"])
    overall = table.groupby(level="forecaster", sort=False).mean()
    beats = float(np.mean(per_series["jaxseries"]["sMAPE"].to_numpy() < per_series["seasonal_naive"]["sMAPE"].to_numpy()))
    return {"overall": overall, "per_series": table, "beats_seasonal_naive": beats, "horizon": steps,
            "series": count}


def baseline_forecasts(panel: Panel, fit_lengths: np.ndarray, horizon: int, season: int):
    """Naive (the last value) and seasonal naive (the last season repeated; naive for a series shorter than a
    season) from each series' first `fit_lengths` rows: two [S, H] arrays."""
    ends = panel.starts + fit_lengths  # the first row after each series' fitted part
    last = panel.y[ends - 1]
    season = max(season, 1)
    seasonal = panel.y[ends[:, None] - season + np.arange(horizon) % season]
    return (np.repeat(last[:, None], horizon, 1),
            np.where((fit_lengths >= season)[:, None], seasonal, last[:, None]))


def panel_errors(actual: np.ndarray, predicted: np.ndarray, scale: np.ndarray, ids=None) -> pd.DataFrame:
    """Per series (rows of [S, H] arrays): sMAPE (M3, 0-200), MASE, MAPE%, MAE."""
    diff = np.abs(predicted - actual)
    with np.errstate(divide="ignore", invalid="ignore"):
        denominator = np.abs(actual) + np.abs(predicted)
        smape = np.mean(np.where(denominator > 0, 200 * diff / denominator, 0.0), axis=1)
        mape = 100 * np.mean(np.where(actual != 0, diff / np.abs(actual), np.nan), axis=1)
        mase = diff.mean(1) / scale
    return pd.DataFrame({"sMAPE": smape, "MASE": mase, "MAPE%": mape, "MAE": diff.mean(1)}, index=ids)
