"""The forecaster: one global LSTM trained on windows from every series of a panel (one series is a panel of one),
and its predictions from each series' end (`forecasts` turns them into frames with intervals).

The panel is checked (`panel`), put in model units (`encoding`) and trained by the one loop on windows cut on the
device (`windows`). Validation is the last `validation` rows (default: the horizon) of each series' training part;
early stopping on the panel's mean loss. A run stores its spec, per-series statistics and the rows a forecast
reads, so it forecasts again after `js.load` without the data.
"""

from __future__ import annotations

import dataclasses

import jax
import numpy as np
import pandas as pd

from jaxseries import distributions, ets, intervals, kernel, theta
from jaxseries.config import ModelConfig, SeriesOptions, TrainConfig
from jaxseries.encoding import (
    PanelSpec, build_arrays, fit_spec, forecast_pairs, mase_scales, seasonal_indices, series_levels, target_matrix,
    training_pairs, validation_pairs, window_settings,
)
from jaxseries.frames import json_ids
from jaxseries.panel import Panel, is_single, load_panel
from jaxseries.transforms import logged, positive_series, transformed, untransformed
from jaxseries.windows import gather_all

PREDICT_CHUNK = 8192
DEFAULT_HIDDEN = {"global": 64, "local": 16}
DEFAULT_BATCH = 256
LINEAR_RATE = 1.0  # the decoder's linear path learns at the network's rate (model.py; RESULTS.md)


def fit(panel: Panel, options: SeriesOptions, saving: dict, notes: dict | None = None):
    """Trains the forecaster on a checked panel: a global model, or one model per series (`mode="local"`)."""
    from jaxseries import loop  # the training stack, imported where it trains (a served forecast never does)

    if options.strategy == "recursive" and panel.names["covariates"]:
        raise ValueError("strategy='recursive' cannot roll past covariates forward: use strategy='direct' or drop them")
    validation = window_settings(panel, options)["validation"]
    fit_lengths = panel.lengths - (options.holdout or 0)
    check_lengths(panel, options)
    if options.distribution == "negative_binomial":
        distributions.check_counts(panel.y)
    panel, spec, levels, seasonal, arrays, width, pairs, smoothed = _encode(panel, fit_lengths, validation, options)
    layout = spec.layout()
    x_val, y_val = gather_all(layout, arrays, validation_pairs(spec, len(panel.ids), width))
    head = dict(head="sequence") if spec.strategy == "recursive" else \
        dict(head="horizon", horizon=spec.horizon, context=spec.context, linear_rate=LINEAR_RATE)
    model_config = ModelConfig(input_dim=layout.input_dim(arrays), hidden_dim=options.hidden_dim or
                               DEFAULT_HIDDEN[options.mode], num_layers=options.num_layers,
                               output_dim=spec.outputs(), distribution=spec.distribution, loss=options.loss,
                               quantile=options.quantile if options.loss == "pinball" else 0.5, **head)
    train_config = TrainConfig(steps=options.steps, learning_rate=options.learning_rate,
                               batch_size=options.batch_size or DEFAULT_BATCH, seed=options.seed,
                               log_every=options.eval_every, eval_every=options.eval_every,
                               patience=options.patience, weight_decay=options.weight_decay)

    def configs(config):
        seeds = range(options.seed, options.seed + options.members)
        return tuple(dataclasses.replace(config, seed=s) for s in seeds) if options.members > 1 else config

    def extra(spec, levels, seasonal, smoothed):
        # forecasts deseasonalize with the indices of every row before the holdout (known at the origin), as a
        # forecast from new data does; the validation windows with the training part's (`seasonal_train`). The
        # Theta lines and smoothing coefficients come from the same rows as each set of indices.
        forecasting = seasonal_indices(panel, fit_lengths, spec)
        table = {**_series_table(panel, levels, forecasting, fit_lengths, spec.season),
                 "seasonal_train": seasonal.tolist(),
                 **({"logged": panel.logged.tolist()} if spec.transform == "auto" else {})}
        if spec.combine or spec.smoothed_level:
            table.update(_smoothing_table(smoothed_rows(panel, spec, forecasting, fit_lengths), spec, ""))
            table.update(_smoothing_table(smoothed, spec, "_train"))
        return {**(notes or {}), "panel": dataclasses.asdict(spec), "panel_series": table,
                "panel_rows": _stored_rows(panel, spec, fit_lengths)}

    if options.mode == "local":
        from jaxseries import local

        local_config = dataclasses.replace(train_config, batch_size=options.batch_size or local.LOCAL_BATCH)
        return local.train_local(panel.ids, layout, arrays, pairs, (x_val, y_val), model_config, local_config,
                                 extra(spec, levels, seasonal, smoothed), saving)
    if not options.refit:
        return loop.fit(arrays, pairs, model_config, configs(train_config), validation_data=(x_val, y_val),
                        layout=layout, extra=extra(spec, levels, seasonal, smoothed), **saving)
    # Refit: the validation rows chose the number of steps; the final model trains that long on every row before
    # the holdout (the newest rows are the ones a forecast leans on most), its statistics from those rows too.
    chosen = loop.fit(arrays, pairs, model_config, configs(train_config), validation_data=(x_val, y_val),
                      layout=layout, progress=saving.get("progress", True))
    chosen_steps = max(int(np.median(chosen.best_step)), options.eval_every)
    panel, spec, levels, seasonal, arrays, width, pairs, smoothed = _encode(panel, fit_lengths, 0, options)
    final = dataclasses.replace(train_config, steps=chosen_steps, patience=None)
    return loop.fit(arrays, pairs, model_config, configs(final), layout=spec.layout(),
                    extra={**extra(spec, levels, seasonal, smoothed), "chosen_steps": chosen_steps}, **saving)


def check_lengths(panel: Panel, options: SeriesOptions) -> None:
    """Every series needs a validation window before its holdout; the longest needs one training window too (its
    targets, `horizon` rows, recursive: one, before the validation rows, its context `min_observed` real rows,
    recursive: all of it). Shorter series in a panel are forecast by what the others taught."""
    holdout, settings = options.holdout or 0, window_settings(panel, options)
    validation, fit_lengths = settings["validation"], panel.lengths - holdout
    short = np.flatnonzero(fit_lengths < validation + 1)
    if len(short):
        raise ValueError(f"series {panel.ids[short[0]]!r} has {panel.lengths[short[0]]} rows, but holdout {holdout} + "
                         f"validation {validation} + 1 needs {holdout + validation + 1} ({len(short)} series that "
                         "short): drop them, or shorten holdout/validation")
    window = (1 + settings["context"]) if options.strategy == "recursive" else \
        options.horizon + options.min_observed
    longest = int(np.argmax(fit_lengths))
    if fit_lengths[longest] < window + validation:
        name = "series" if len(panel.ids) == 1 else f"the longest of the {len(panel.ids)} series,"
        raise ValueError(f"{name} {panel.ids[longest]!r} has {panel.lengths[longest]} rows, but holdout {holdout} + "
                         f"validation {validation} + {window} for one training window need "
                         f"{holdout + validation + window}: supply more data or shorten holdout/validation/horizon")


def _encode(panel: Panel, fit_lengths, validation: int, options: SeriesOptions):
    """The panel (carrying which series are logged), spec, levels, seasonal indices, device arrays, training pairs
    and the training part's Theta lines and smoothing coefficients, with `validation` rows per series held for
    early stopping (statistics from the rows before them)."""
    spec, levels, logs = fit_spec(panel, fit_lengths, options, validation)
    panel = panel._replace(logged=logs)
    train = seasonal_indices(panel, fit_lengths - validation, spec)  # the training part's, anchored at its end
    # the training part's partner mixes into the validation windows, which only size intervals: without exponential
    # smoothing (fitting it twice would double its cost), so they err a little wide
    smoothed = smoothed_rows(panel, spec, train, fit_lengths - validation, with_ets=False)
    seasonal = np.roll(train, -validation, axis=1)  # anchored at the last fitted row, as the arrays' columns are
    arrays, width = build_arrays(panel, spec, levels, seasonal, fit_lengths, alphas=smoothed.alphas)
    arrays, pairs = training_pairs(arrays, spec, fit_lengths, width)
    if len(pairs) == 0:
        whole = " (recursive windows need the whole context observed)" if spec.strategy == "recursive" else ""
        raise ValueError(f"no series has a training window (context {spec.context}, horizon {spec.horizon}, "
                         f"validation {validation}){whole}: supply longer series or shorten the horizon/context")
    if spec.combine:  # the windows one network learns from: all series', or (local) a series' own
        counts = arrays.pair_count if spec.mode == "global" else [int(np.median(arrays.pair_count))]
        spec = dataclasses.replace(spec, partner_share=theta.share_for(counts))
    return panel, spec, levels, seasonal, arrays, width, pairs, smoothed


def smoothed_rows(panel: Panel, spec: PanelSpec, seasonal: np.ndarray, lengths: np.ndarray,
                  with_ets: bool = True) -> theta.Smoothed:
    """The Theta lines and smoothing coefficients (and damped trends, for a run that mixes them in) of each series'
    first `lengths` rows, `seasonal` (anchored at its last row) removed; for a run that mixes in exponential
    smoothing (and `with_ets`), its states, fitted on the same rows as they are (its own season, not ours)."""
    values, observed, _, _ = target_matrix(panel, spec, seasonal, lengths, int(lengths.max()))
    smoothed = theta.smoothed(values, observed, damped=spec.combine in ("theta+damped", "theta+damped+ets"))
    if spec.combine != "theta+damped+ets" or not with_ets:
        return smoothed
    values, observed = ets.first_rows(panel.y, panel.starts, lengths)
    return smoothed._replace(ets=ets.fitted(values, observed, lengths, spec.season, spec.horizon))


def _smoothing_table(smoothed: theta.Smoothed, spec: PanelSpec, suffix: str) -> dict:
    """What a run stores of a Smoothed (`suffix` "_train": the training part's): the Theta lines (and damped trends)
    for a run that combines, the smoothing coefficients for one whose windows show their smoothed level."""
    return {**({f"theta{suffix}": smoothed.lines.tolist()} if spec.combine else {}),
            **({f"damped{suffix}": smoothed.damped.tolist()} if smoothed.damped is not None else {}),
            **({f"ets{suffix}": smoothed.ets.tolist()} if smoothed.ets is not None else {}),
            **({f"smoothing{suffix}": smoothed.alphas.tolist()} if spec.smoothed_level else {})}


def stored_smoothing(run, spec: PanelSpec, suffix: str = "") -> theta.Smoothed:
    """The Smoothed a run stored (`suffix` "_train": the training part's); what it did not store is None."""
    table = run.extra["panel_series"]
    keys = f"theta{suffix}", f"smoothing{suffix}", f"damped{suffix}", f"ets{suffix}"
    return theta.Smoothed(*(np.asarray(table[key]) if key in table else None for key in keys))


def _series_table(panel: Panel, levels, seasonal, fit_lengths, season) -> dict:
    return {"ids": json_ids(panel.ids), "levels": levels.tolist(), "seasonal": seasonal.tolist(),
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
    if "series" in run.extra:
        raise ValueError("this run was saved by jaxseries 0.1's single-series forecaster, whose window layout 0.2 "
                         "replaced (one series is now a panel of one): retrain it with js.train_series; its weights "
                         "still load (js.load) and predict on arrays (js.predict)")
    if "panel" not in run.extra:
        raise ValueError("this model was trained by js.train on arrays, not on a series: use js.predict instead")
    return PanelSpec(**run.extra["panel"])


def stored_panel(run) -> tuple[Panel, np.ndarray]:
    """The stored rows as a panel, and each series' rows before its holdout."""
    spec, stored = panel_spec(run), run.extra["panel_rows"]
    frame = pd.DataFrame(stored["columns"])
    panel = load_panel(frame, id=spec.id, time=spec.time or "step", target=spec.target, covariates=spec.covariates,
                       future_covariates=spec.future_covariates, static=spec.static)
    return with_stored_logs(panel._replace(targets=tuple(spec.targets)), run), panel.lengths - stored["holdout"]


def with_stored_logs(panel: Panel, run) -> Panel:
    """The panel of a run's series (in its order) carrying which of them it logged, where it decided per series."""
    logs = run.extra["panel_series"].get("logged")
    return panel if logs is None else panel._replace(logged=np.asarray(logs, bool))


def as_trained(run, spec: PanelSpec, history: Panel, fit_lengths) -> tuple[Panel, np.ndarray]:
    """Rows in hand (new data, or a backtest's later origins) carrying which series are logged, and each series'
    level: a series the run trained on as it did (its flag and level), an unseen one by its own rows (logged if the
    run logs and its values are positive); either unlogged, at its own level, where a value in hand is not positive
    (a log of it has no value)."""
    table, ids = run.extra["panel_series"], json_ids(history.ids)
    flags = dict(zip(table["ids"], table.get("logged", [spec.transform == "log"] * len(table["ids"]))))
    logs = np.array([flags.get(key, spec.transform != "none") for key in ids], bool)
    logs &= positive_series(history, fit_lengths)
    own, trained = series_levels(history, fit_lengths, logs), dict(zip(table["ids"], table["levels"]))
    levels = [trained[key] if key in trained and logs[s] == flags[key] else own[s] for s, key in enumerate(ids)]
    return history._replace(logged=logs), np.array(levels)


def load_like(spec: PanelSpec, data) -> Panel:
    """New data in the layout of the run's training data (one series, or a panel with its id column)."""
    if spec.targets and is_single(data, None):
        time = spec.time if isinstance(data, pd.DataFrame) and spec.time in data.columns else None
        return load_panel(data, time=time, target=list(spec.targets), covariates=spec.covariates,
                          future_covariates=spec.future_covariates)
    return load_panel(data, id=spec.id, time=spec.time, target=spec.target, covariates=spec.covariates,
                      future_covariates=spec.future_covariates, static=spec.static)


def predictions(run, history: Panel, spec: PanelSpec, levels, seasonal, fit_lengths, horizon: int, ahead=None,
                stored: theta.Smoothed | None = None):
    """Every member's outputs [members, S, horizon] (a distribution's: [members, S, horizon, P]) from each series'
    fit end, and each window's base, scale and spread: series units are base + scale * output + seasonal index (a
    recursive rollout: base 0, scale 1); the spread (`intervals.window_spread`, 1 for a rollout) sizes its
    interval. A run that combines mixes the outputs with its partner's forecast (`mixed`). Lines and smoothing
    coefficients: `stored`'s (a run's), else those of the rows in hand."""
    if stored is None:  # one smoothing pass over the rows in hand gives both
        stored = smoothed_rows(history, spec, seasonal, fit_lengths) if spec.combine or spec.smoothed_level \
            else theta.Smoothed(None, None)
    arrays, width = build_arrays(history, spec, levels, seasonal, fit_lengths, future=ahead, extra_rows=horizon,
                                 alphas=stored.alphas)
    pairs = forecast_pairs(len(history.ids), width)
    if spec.strategy == "recursive":  # the rollout's values, measured from 0 in units of each series' scale
        rollout = _compiled_rollout(run.model_config, spec.layout(), horizon, hasattr(run, "member"))
        out = np.asarray(rollout(run.params, arrays, pairs), np.float64).reshape(-1, len(history.ids), horizon)
        scale = arrays.scale.astype(np.float64)
        out, base, spread = out / scale[None, :, None], np.zeros(len(scale)), np.ones(len(scale))
    else:
        x, base, scale = gather_all(spec.layout(), arrays, pairs, with_targets=False)
        out = model_outputs(run, x, json_ids(history.ids))[:, :, :horizon]
        spread = intervals.window_spread(x, spec.context)
    if not spec.combine:
        return out, base, scale, spread
    partner = theta.in_model_units(stored, horizon, base, scale,
                                   ets=ets_as_partner(stored, spec, seasonal, horizon, logged(history, spec)))
    # an origin a whole season (or a row) past a series' last observed value shows the network a window it never
    # trained on (its training windows end on observed rows): the partner, whose lines run from that value, alone
    stale = np.asarray(arrays.observed)[:, width - spec.reference:].sum(1) == 0
    share = np.where(stale, 1.0, spec.partner_share)[:, None]
    return mixed(spec, out, partner, base, scale, share), base, scale, spread


def ets_as_partner(stored: theta.Smoothed, spec: PanelSpec, seasonal: np.ndarray, horizon: int, logs: np.ndarray,
                   offset=0, shift: int = 0) -> np.ndarray | None:
    """[S, horizon] the exponential smoothing's forecasts (None: not fitted) as the partner reads values:
    transformed (`logs` [S]: which are logged), our seasonal indices removed (NaN where a log has no value); at
    steps offset + 1 .. offset + horizon of `stored`'s rows, `seasonal` anchored `shift` rows after their end."""
    if stored.ets is None or spec.combine != "theta+damped+ets":
        return None
    steps = np.reshape(offset, (-1, 1)) + np.arange(1, horizon + 1)[None]
    phase = np.broadcast_to((steps - shift) % seasonal.shape[1], (len(seasonal), horizon))
    with np.errstate(divide="ignore", invalid="ignore"):
        values = transformed(ets.forecast(stored.ets, horizon, offset), logs[:, None])
    values = values - np.take_along_axis(seasonal, phase, 1)
    return np.where(np.isfinite(values), values, np.nan)


def mixed(spec: PanelSpec, out, partner, base, scale, share=None):
    """The network's outputs mixed with the partner's forecast `partner` [S, H] (model units) at the partner's
    `share` (the run's, or one per series [S, 1]): a distribution keeps its shape and moves its median to the mixed
    point."""
    share = spec.partner_share if share is None else share
    if spec.distribution is None:
        return theta.mix(out, partner, share)
    center = distributions.point(spec.distribution, out, base, scale)
    return distributions.recentred(spec.distribution, out, theta.mix(center, partner, share))


@kernel.cached_per_setting
def _compiled_rollout(model_config: ModelConfig, layout, horizon: int, members: bool):
    from jaxseries.model import LSTMRegressor  # here, not above: forecasting from an export needs no flax

    model = LSTMRegressor(model_config)

    def rollout(params, arrays, pairs):
        return layout.rollout(lambda x: model.apply(params, x), arrays, pairs, horizon)

    return jax.jit(jax.vmap(rollout, in_axes=(0, None, None)) if members else rollout)


def transformed_predictions(out, base, scale, seasonal) -> np.ndarray:
    """Model outputs [members, S, H] as transformed values (before `untransformed`): base + scale * output + the
    seasonal index of each step ahead."""
    ahead_phase = np.arange(1, out.shape[-1] + 1) % seasonal.shape[1]
    return base[None, :, None] + scale[None, :, None] * out + seasonal[None][:, :, ahead_phase]


def model_interval(out, base, scale, seasonal, level: float, distribution: str | None = None):
    """The model's central `level` interval in transformed units, (lower, upper) [S, H]: quantiles across the
    members, or a distribution's own quantiles averaged over members."""
    if distribution is None:
        return intervals.member_interval(transformed_predictions(out, base, scale, seasonal), level, axis=0)
    return tuple(transformed_predictions(distributions.quantile(distribution, out, q, base, scale), base, scale,
                                         seasonal).mean(0) for q in ((1 - level) / 2, (1 + level) / 2))


def series_units(out, base, scale, seasonal, logs: np.ndarray, level=None, widening=None, spread=1.0,
                 distribution: str | None = None):
    """Model outputs [members, S, H] (a `distribution`'s: [members, S, H, P]) back in the series' units (`logs`
    [S]: which series are logged): the members' mean forecast [S, H] (a distribution's point:
    `distributions.point`), and with `level` the model's interval (`model_interval`), widened by `widening` [H] when
    given (model units, per unit of each window's `spread` [S]); else None, None. A point forecast's interval always comes widened (its members agree more than
    the future does); a distribution's may stand as it is."""
    center = out if distribution is None else distributions.point(distribution, out, base, scale)
    logs = np.asarray(logs, bool)[:, None]
    forecast = untransformed(transformed_predictions(center, base, scale, seasonal), logs).mean(0)
    if level is None:
        return forecast, None, None
    low, high = model_interval(out, base, scale, seasonal, level, distribution)
    if widening is not None:
        widening = (scale * spread)[:, None] * np.asarray(widening)[None]
        low, high = low - widening, high + widening
    lower, upper = untransformed(low, logs), untransformed(high, logs)
    if distribution is None:
        return forecast, *intervals.around(forecast, lower, upper)
    if distribution == "negative_binomial":  # whole counts, rounded outward
        lower, upper = np.floor(lower + 1e-9), np.ceil(upper - 1e-9)
    return forecast, lower, upper


def median_units(distribution: str, out, base, scale, seasonal, logs: np.ndarray) -> np.ndarray:
    """[S, H] a distribution's median in the series' units (its central interval of level 0), averaged over
    members as its interval bounds are (a negative binomial's: a whole count)."""
    median = untransformed(model_interval(out, base, scale, seasonal, 0.0, distribution)[0],
                           np.asarray(logs, bool)[:, None])
    return np.round(median) if distribution == "negative_binomial" else median


def model_outputs(run, x: np.ndarray, ids: list) -> np.ndarray:
    """The model's outputs for windows x of the series `ids`: [members, N, H] (local runs: each series' own)."""
    spec = panel_spec(run)
    if spec.mode == "local":
        from jaxseries import local

        member = {key: m for m, key in enumerate(run.extra["panel_series"]["ids"])}
        unknown = [key for key in ids if key not in member]
        if unknown:
            raise ValueError(f"a local run has a model for each trained series only; unknown ids: {unknown[:5]}")
        out = local.predict_local(run, x, np.array([member[k] for k in ids]))[None]
    else:  # in chunks: the activations of a whole large panel at once would not fit
        out = np.concatenate([np.asarray(run.predict(x[i : i + PREDICT_CHUNK]), np.float64)
                              for i in range(0, len(x), PREDICT_CHUNK)], axis=-2)
    return out.reshape((-1, len(x), spec.horizon) + ((spec.outputs(),) if spec.distribution else ()))
