"""What `js.forecast` returns: each series' rows ahead in its own units, with intervals and quantiles calibrated on
the run's validation windows (or a backtest's calibration).

An interval at level c is the members' central c interval widened by the conformal quantile of how far the
validation windows fell outside it (`intervals`). A quantile q is a bound of such an interval: q < 0.5 the lower
bound at level 1 - 2q, q > 0.5 the upper bound at 2q - 1, q = 0.5 the point forecast. The intervals are nested (a
higher level takes a higher rank of the same scores around a wider members' interval), so the quantiles are
monotone in q, and all of them come from one pass over the validation windows. A run that forecasts a
distribution (`distribution=`) gives that distribution's own intervals and quantiles, averaged over members,
unless `calibration=` widens them the same way.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from jaxseries import intervals, theta
from jaxseries.config import _require_int
from jaxseries.encoding import build_arrays, seasonal_indices, validation_pairs
from jaxseries.forecasting import (
    as_trained, ets_as_partner, load_like, median_units, mixed, model_outputs, panel_spec, predictions, series_units,
    stored_panel, stored_smoothing,
)
from jaxseries.frames import as_series_frame, bound_column, forecast_frame, future_panel, json_ids, quantile_column
from jaxseries.transforms import logged
from jaxseries.windows import gather_all


def forecast(run, *, data=None, horizon: int | None = None, future: pd.DataFrame | None = None,
             level=None, quantiles=None, calibration: dict | None = None, alias: str = "jaxseries") -> pd.DataFrame:
    """Forecasts in the series' units with their timestamps, from the end of the data the model was trained on
    (the start of the holdout), or from the end of `data` (same layout; a panel may hold series never seen).

    Returns for a panel a long frame (id, time, `forecast`); for one series a frame indexed by time with a
    `forecast` column (`forecast_<target>` for several targets). `future` gives known-future covariates for the
    rows ahead (a frame of them; for a panel with the id column). `level` (e.g. 0.8) adds `lower`/`upper`: the
    members' interval (an ensemble from `members=N`) widened by split-conformal calibration on the validation
    windows, or by `calibration` (a backtest's `.calibration`, same horizon and level) when given.
    A list of levels in percent, as statsforecast and NeuralForecast take them (`level=[80, 95]`), gives their
    frame instead: the point forecast in a column named `alias`, then `<alias>-lo-95`, `<alias>-lo-80`,
    `<alias>-hi-80`, `<alias>-hi-95`, which `utilsforecast.evaluate` and the peers' plots read as they are.
    `quantiles=[0.1, 0.5, 0.9]` (increasing, in (0, 1)) adds one column per quantile, `<alias>_ql0.1`, ... (the
    names NeuralForecast gives them), with the point forecast in `alias`.
    """
    frame = forecast_long(run, data=data, horizon=horizon, future=future, level=level, quantiles=quantiles,
                          calibration=calibration, alias=alias)
    spec = panel_spec(run)
    return as_series_frame(frame, spec) if spec.targets else frame


def forecast_long(run, *, data=None, horizon=None, future=None, level=None, quantiles=None, calibration=None,
                  alias: str = "jaxseries") -> pd.DataFrame:
    """`forecast` as a long frame (id, time, forecast[, lower, upper]) whatever the input was."""
    spec = panel_spec(run)
    horizon = spec.horizon if horizon is None else horizon
    _require_int("horizon", horizon, 1)
    if horizon > spec.horizon and spec.strategy == "direct":
        raise ValueError(f"horizon={horizon} exceeds the trained horizon {spec.horizon}: retrain with a longer one "
                         "or use strategy='recursive'")
    if level is None and calibration is not None:
        level = calibration.get("level")  # the calibrated level, unless asked for another (then refused below)
    coverages, peers = intervals.levels_asked(level)
    quantiles = intervals.quantiles_asked(quantiles)
    if not isinstance(alias, str) or not alias:
        raise ValueError(f"alias names the forecast's columns: pass a non-empty string, got {alias!r}")
    table = run.extra["panel_series"]
    if data is None:
        history, fit_lengths = stored_panel(run)
        levels, seasonal = np.asarray(table["levels"]), np.asarray(table["seasonal"])
        stored = stored_smoothing(run, spec)
    else:  # the data in hand before the origin: levels (of unseen series) and seasonal indices come from it
        history = load_like(spec, data)
        fit_lengths = history.lengths
        history, levels = as_trained(run, spec, history, fit_lengths)
        seasonal = seasonal_indices(history, fit_lengths, spec)
        stored = None  # Theta's lines and the smoothing coefficients from the data
    ahead = None if future is None else future_panel(spec, history, future)
    if spec.future_covariates:
        _check_future_rows(history, fit_lengths, ahead, horizon, spec)
    needed = sorted(set(coverages) | set(intervals.quantile_levels(quantiles)))
    own = spec.distribution is not None and calibration is None  # a distribution's interval as it is
    widenings = {} if own else _widenings(run, needed, calibration, horizon)
    out, base, scale, spread = predictions(run, history, spec, levels, seasonal, fit_lengths, horizon, ahead, stored)
    frame = forecast_frame(history, fit_lengths, spec, horizon)
    units = dict(logs=logged(history, spec), distribution=spec.distribution)
    point = series_units(out, base, scale, seasonal, **units)[0]
    frame[alias if peers or quantiles else "forecast"] = point.reshape(-1)
    bounds = {c: series_units(out, base, scale, seasonal, level=c, widening=widenings.get(c), spread=spread,
                              **units)[1:] for c in needed}  # coverage -> (lower, upper), each [S, H]
    if peers:  # the peers' order: the widest interval's lower bound first, its upper bound last
        for c in sorted(coverages, reverse=True):
            frame[bound_column(alias, "lo", c)] = bounds[c][0].reshape(-1)
        for c in sorted(coverages):
            frame[bound_column(alias, "hi", c)] = bounds[c][1].reshape(-1)
    elif coverages:  # one float level: the `lower`/`upper` columns
        frame["lower"], frame["upper"] = (b.reshape(-1) for b in bounds[coverages[0]])
    for q in quantiles:
        c = intervals.quantile_level(q)
        if c > 0:
            values = bounds[c][0 if q < 0.5 else 1]
        else:  # the median: a point run's point; a distribution's own (not a negative binomial's mean)
            values = point if spec.distribution is None else median_units(spec.distribution, out, base, scale,
                                                                          seasonal, units["logs"])
        frame[quantile_column(alias, q)] = values.reshape(-1)
    return frame


def _widenings(run, coverages: list[float], calibration: dict | None, horizon: int) -> dict:
    """{coverage: [horizon] widening in model units}: from a backtest's calibration, else the validation windows."""
    if not coverages:
        return {}
    if calibration is None:
        return {c: w[:horizon] for c, w in calibration_widenings(run, coverages).items()}
    if (coverages != [calibration.get("level")] or calibration.get("horizon", 0) < horizon
            or "widening" not in calibration):
        asked = coverages[0] if len(coverages) == 1 else coverages
        raise ValueError(f"calibration is for level {calibration.get('level')} and horizon {calibration.get('horizon')}"
                         f"; this forecast asks for level {asked} and horizon {horizon}: backtest with the same "
                         "settings")
    return {coverages[0]: np.asarray(calibration["widening"], float)[:horizon]}


def validation_windows(run):
    """Every validation window of the stored rows, in model units: the members' outputs [members, N, H], the
    targets [N, H] and each window's spread [N]; for a run that combines, the outputs are mixed with Theta's
    forecast of the same rows from the training part's end, as a forecast is."""
    spec, table = panel_spec(run), run.extra["panel_series"]
    history, fit_lengths = stored_panel(run)
    seasonal = np.asarray(table.get("seasonal_train", table["seasonal"]))  # 0.1 runs stored only these
    trained = stored_smoothing(run, spec, "_train")
    arrays, width = build_arrays(history, spec, np.asarray(table["levels"]), seasonal, fit_lengths,
                                 alphas=trained.alphas)
    pairs = validation_pairs(spec, len(history.ids), width)
    x_val, y_val = gather_all(spec.layout(), arrays, pairs)
    out = model_outputs(run, x_val, [json_ids(history.ids)[s] for s in pairs[:, 0]])
    spread = intervals.window_spread(x_val, spec.context)
    if not spec.combine:
        return out, y_val, spread
    _, base, scale = gather_all(spec.layout(), arrays, pairs, with_targets=False)
    offset = pairs[:, 1] - (width - spec.validation - 1)  # the lines start at the first window's origin
    windows = trained.take(pairs[:, 0])
    logs = logged(history, spec)[pairs[:, 0]]
    own = ets_as_partner(windows, spec, seasonal[pairs[:, 0]], spec.horizon, logs, offset, shift=spec.validation)
    partner = theta.in_model_units(windows, spec.horizon, base, scale, offset, ets=own)
    return mixed(spec, out, partner, base, scale), y_val, spread


def calibration_widening(run, level: float) -> np.ndarray:
    """[H] how far to widen the members' `level` interval, in model units, per horizon step (`calibration_widenings`)."""
    return calibration_widenings(run, [level])[level]


def calibration_widenings(run, coverages: list[float]) -> dict:
    """{coverage: [H]} how far to widen the members' interval at each coverage, in model units, per horizon step:
    the conformal quantile of how far each series' validation window fell outside it, over the window's spread
    (split conformal on absolute residuals for one model; conformalized quantile regression for an ensemble),
    pooled across series (the units are scale-free)."""
    spec = panel_spec(run)
    if spec.distribution is not None:
        raise ValueError(f"a distribution={spec.distribution!r} run's intervals are its distribution's own; to widen "
                         "them by conformal calibration pass calibration= from js.backtest")
    if spec.validation == 0:
        raise ValueError("this run was refit on its validation rows, so nothing unseen is left to calibrate an "
                         "interval on: pass calibration= from js.backtest, or train without refit")
    if spec.strategy == "recursive":
        raise ValueError("a recursive run's validation windows score one step ahead, not its horizon: pass "
                         "calibration= from js.backtest for an interval")
    out, y_val, spread = validation_windows(run)
    widenings = {}
    for level in coverages:
        low, high = intervals.member_interval(out, level, axis=0)
        widenings[level] = intervals.widening(intervals.scores(low, high, y_val, spread[:, None]), level)
        if not np.isfinite(widenings[level]).all():
            raise ValueError(f"a {level:.0%} interval needs at least {int(np.ceil(level / (1 - level)))} validation "
                             f"windows to calibrate on; this run has {len(y_val)}: train with more validation rows "
                             "(validation=), pass calibration= from js.backtest, or ask for a lower level")
    return widenings


def _check_future_rows(history, fit_lengths, ahead, horizon, spec) -> None:
    after = history.lengths - fit_lengths + (0 if ahead is None else
                                             pd.Series(ahead.lengths, ahead.ids).reindex(history.ids).fillna(0).to_numpy())
    missing = np.flatnonzero(after < horizon)
    if len(missing):
        raise ValueError(f"known-future covariates {spec.future_covariates} are needed for {horizon} rows ahead, id "
                         f"{history.ids[missing[0]]!r} has {int(after[missing[0]])}: pass future= (a frame of "
                         "the rows ahead)")
