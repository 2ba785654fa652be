"""Rolling-origin backtests: how a forecaster would have done at K past origins, all folds in one compiled call.

Fold f (of K) forecasts the `horizon` rows after its origin; origins are `stride` rows apart and the last fold ends
at the last row. Each fold sees rows up to its origin only: with `refit=True` every fold fits its own scaling and
model on them (validation = its last rows), and all folds x members train side by side in one `vmap`-ed program,
each on its own windows padded to a common count (the padding masked out of the loss and the shuffles). Without
`refit`, one model fitted on the rows up to the first origin forecasts from every origin.

    rows:  0 ......... origin_0 | H rows          fold 0 trains on rows <= origin_0, forecasts the H after it
           0 ............ origin_1 | H rows       fold 1 (stride rows later)
           0 ...................... origin_K-1 | H rows = the end of the series
"""

from __future__ import annotations

import dataclasses
import time as clock

import jax
import numpy as np
import pandas as pd

from jaxseries import checkpoint, encoding, intervals, loop, metrics
from jaxseries.config import ModelConfig, TrainConfig, _require_int
from jaxseries.steps import compiled_apply

FORECASTERS = ("jaxseries", "persistence", "seasonal_naive")


@dataclasses.dataclass(frozen=True)
class Backtest:
    """Per-fold and overall errors in the series' units beside the baselines, intervals and their coverage."""

    forecasts: pd.DataFrame  # one row per fold and step: origin, time, then per target actual, forecasts, interval
    folds: pd.DataFrame  # index (fold, forecaster): origin and the metrics
    overall: pd.DataFrame  # forecaster x metric: the mean over folds
    level: float | None
    coverage: float | None  # share of truths inside the calibrated interval, each fold calibrated on the others
    calibration: dict | None  # {"level", "widening" [horizon][targets] in model units}: for `forecast(calibration=)`
    best_steps: np.ndarray  # [folds (1 without refit), members]: the step with the lowest validation loss
    refit: bool
    seconds: float
    per_series: pd.DataFrame | None = None  # panels: index (fold, forecaster, id), the metrics of each series

    @property
    def chosen_steps(self) -> int:
        """Training steps chosen by the backtest (the median best step): for `train_series(steps=..., patience=None)`."""
        return int(np.median(self.best_steps))

    def to_json(self) -> dict:
        return {
            "refit": self.refit, "seconds": self.seconds, "level": self.level, "coverage": self.coverage,
            "chosen_steps": self.chosen_steps, "best_steps": self.best_steps.tolist(),
            "overall": {name: {m: checkpoint.json_number(v) for m, v in row.items()} for name, row in self.overall.iterrows()},
            "folds": [{k: checkpoint.json_number(v) if isinstance(v, float) else v if isinstance(v, (int, str))
                       else str(v) for k, v in row.items()}  # records keep each column's type (origin: a time)
                      for row in self.folds.reset_index().to_dict("records")],
        }


def backtest(
    data,
    *,
    target: str | list[str] | None = None,
    time: str | None = None,
    horizon: int,
    folds: int,
    stride: int = 1,
    refit: bool = False,
    members: int = 1,
    level: float | None = 0.8,
    context: int | None = None,
    validation: int | None = None,
    covariates: list[str] = (),
    future_covariates: list[str] = (),
    calendar: bool = True,
    season: int | None = None,
    transform: str | None = None,
    normalize: str = "auto",
    fill: bool = False,
    hidden_dim: int | None = None,
    num_layers: int = 1,
    steps: int = 1500,
    learning_rate: float = 1e-3,
    batch_size: int | None = None,
    seed: int = 0,
    weight_decay: float | None = None,
    patience: int | None = 20,
    eval_every: int = 10,
    progress: bool = True,
    id: str | None = None,
    static: list[str] = (),
    loss: str | None = None,
    sampling: str = "window",
    min_observed: int = 1,
    deseasonalize: bool = True,
    holdout: int | None = None,
) -> Backtest:
    """Backtests `train_series`'s direct forecaster (same options) at `folds` origins `stride` rows apart.

    `members` > 1 trains a seed ensemble per fold (intervals from its spread); `level` is the interval's coverage,
    calibrated leave-one-fold-out (None: no intervals).

    A panel (`id=`, a dict or a list of series) backtests the global model at `folds` origins of every series
    (`panel_backtesting`; the panel options and defaults of `train_series`); its interval is calibrated on the
    validation windows before the first origin.

    `holdout` last rows (of every series) are never read: the last fold ends before them (what `auto` uses).
    """
    if holdout is not None:
        _require_int("holdout", holdout, 0)
    if id is not None or isinstance(data, (dict, list)):
        from jaxseries import panel_backtesting, panel_forecasting

        if normalize != "auto" or fill:
            raise ValueError("normalize= and fill= are single-series options: a panel's windows are measured from "
                             "their last season, and a panel must be on its grid already")
        args = encoding.check_series_args(horizon, None, context, validation, "direct", transform or "auto",
                                          normalize, season)
        _require_int("members", members, 1)
        return Backtest(**panel_backtesting.backtest_panel(
            data, id=id, time=time, target=target, covariates=list(covariates),
            future_covariates=list(future_covariates), static=list(static), horizon=args["horizon"], folds=folds,
            stride=stride, refit=refit, level=level, validation=validation, progress=progress, context=context,
            calendar=calendar, season=season, transform=transform or "auto", hidden_dim=hidden_dim or 64,
            num_layers=num_layers, steps=steps, learning_rate=learning_rate, batch_size=batch_size, seed=seed,
            weight_decay=weight_decay, patience=patience, eval_every=eval_every, members=members,
            loss=loss or panel_forecasting.DEFAULT_LOSS, sampling=sampling, min_observed=min_observed,
            deseasonalize=deseasonalize, holdout=holdout or 0))
    if static or loss not in (None, "mse"):
        raise ValueError("static= and loss= are panel options (pass id=); a single series' backtest trains with mse")
    transform, hidden_dim = transform or "none", hidden_dim or 32
    args = encoding.check_series_args(horizon, None, context, validation, "direct", transform, normalize, season)
    for name, value in (("folds", folds), ("stride", stride), ("members", members)):
        _require_int(name, value, 1)
    level = intervals.check_level(level)
    started = clock.perf_counter()
    series = encoding.load_series(data, target, time, fill, covariates, future_covariates, "direct")
    if holdout:  # rows never read: the folds end before them
        series = encoding.head(series, len(series.frame) - holdout)
    rows = len(series.frame)
    fit_ends = _fit_ends(rows, horizon, stride, folds)
    plan, needed = _plan(series, args, normalize, season, fit_ends[0])
    if fit_ends[0] < needed:
        most = next((k for k in range(folds - 1, 0, -1) if _fits(series, args, normalize, season, stride, k)), 0)
        raise ValueError(
            f"folds={folds} with stride {stride} puts the first origin at row {fit_ends[0] - 1}, but a fold needs "
            f"{encoding.describe_length(plan)} = {needed} rows up to its origin: the series of {rows} rows "
            f"supports at most {most} folds" + ("" if most else "; shorten context/validation/horizon or supply more data")
        )

    if refit:  # every fold its own scaling, windows and models
        fitted = [encoding.fit_scaling(series, plan, end, transform, calendar, rows - end) for end in fit_ends]
    else:  # one model from the first origin's data forecasts from every origin
        fitted = [encoding.fit_scaling(series, plan, fit_ends[0], transform, calendar, rows - fit_ends[0])]
    windows = [encoding.training_windows(encoded, end) for (_, encoded), end in zip(fitted, fit_ends)]
    if refit:
        x, y, x_val, y_val, counts = _stack_padded(windows, members)
    else:  # one data set, shared by the members
        ((x, y), (x_val, y_val)), counts = windows[0], None
    model_config = ModelConfig(input_dim=x.shape[-1], hidden_dim=hidden_dim, num_layers=num_layers,
                               **encoding.model_head(fitted[0][0]))
    configs = tuple(TrainConfig(steps=steps, learning_rate=learning_rate, batch_size=batch_size, seed=seed + m,
                                log_every=eval_every, eval_every=eval_every, patience=patience,
                                weight_decay=weight_decay)
                    for _ in fitted for m in range(members))
    trained = loop.fit(x, y, model_config, configs, validation_data=(x_val, y_val), counts=counts,
                         progress=progress)
    specs = [spec for spec, _ in fitted] if refit else [fitted[0][0]] * folds
    predicted = _forecast_folds(trained, series, specs, fit_ends, members, refit)  # [folds, members, H, k]
    return _report(series, specs, fit_ends, predicted, level, trained, members, refit,
                   clock.perf_counter() - started)


def _fit_ends(rows: int, horizon: int, stride: int, folds: int) -> list[int]:
    """Each fold's end of fitted rows (its origin + 1): the last fold's horizon ends at the last row."""
    return [rows - horizon - stride * (folds - 1 - f) for f in range(folds)]


def _plan(series, args, normalize, season, first_fit_end: int):
    """The window plan (validation fixed by the first fold, so every fold has as many validation windows)."""
    plan = encoding.plan_windows(series, args, "direct", normalize, season, max(first_fit_end, 0))
    return plan, encoding.required_length(plan["lookback"], args["horizon"], 0, plan["validation"])


def _fits(series, args, normalize, season, stride: int, folds: int) -> bool:
    return shortfall(series, args, normalize, season, stride, folds) is None


def shortfall(series, args, normalize, season, stride: int, folds: int) -> str | None:
    """None when `folds` origins `stride` rows apart fit the series, else what is missing."""
    first = _fit_ends(len(series.frame), args["horizon"], stride, folds)[0]
    plan, needed = _plan(series, args, normalize, season, first)
    if first >= needed:
        return None
    return f"{encoding.describe_length(plan)} = {needed} rows are needed before the first origin, {max(first, 0)} are there"


def _stack_padded(windows, members: int):
    """Each fold's windows padded to the largest count and repeated per member: arrays [folds x members, ...]."""
    counts = np.array([len(x) for (x, _), _ in windows])
    largest = counts.max()
    pad = lambda a: np.concatenate([a, np.zeros((largest - len(a), *a.shape[1:]), a.dtype)])  # noqa: E731
    stack = lambda arrays: np.repeat(np.stack(arrays), members, axis=0)  # noqa: E731
    x = stack([pad(x) for (x, _), _ in windows])
    y = stack([pad(y) for (_, y), _ in windows])
    x_val = stack([xv for _, (xv, _) in windows])
    y_val = stack([yv for _, (_, yv) in windows])
    return x, y, x_val, y_val, np.repeat(counts, members).astype(np.int32)


def _forecast_folds(trained, series, specs, fit_ends, members: int, refit: bool) -> np.ndarray:
    """Every fold's forecast from its origin, per member, in transformed units: [folds, members, H, k]."""
    inputs, references = [], []
    for spec, end in zip(specs, fit_ends):
        encoded = encoding.encode(series, spec, end)
        origin = np.array([end - 1])
        inputs.append(encoded.direct(origin, with_targets=False)[0])
        references.append(encoded.target_reference(origin, spec.horizon)[0])
    x = np.stack(inputs)  # [folds, L, D]
    apply = compiled_apply(trained.model_config)
    params = trained.params
    if refit:  # member (f, m) forecasts fold f only
        params = jax.tree.map(lambda leaf: leaf.reshape(len(specs), members, *leaf.shape[1:]), params)
        out = jax.vmap(jax.vmap(apply, in_axes=(0, None)), in_axes=(0, 0))(params, x[:, None])[:, :, 0]
    else:  # the members of the one model forecast every fold
        out = np.moveaxis(np.asarray(jax.vmap(apply, in_axes=(0, None))(params, x)), 0, 1)
    horizon, k = specs[0].horizon, len(specs[0].targets)
    out = np.asarray(out).reshape(len(specs), members, horizon, k)
    scale = np.stack([np.asarray(spec.target_scale) for spec in specs])[:, None, None]
    return np.stack(references)[:, None] + scale * out


def _report(series, specs, fit_ends, predicted, level, trained, members, refit, seconds) -> Backtest:
    spec0 = specs[0]
    horizon, season, names = spec0.horizon, spec0.season, spec0.targets
    actual = np.stack([series.targets[end : end + horizon] for end in fit_ends])  # [folds, H, k]
    forecasts = {
        "jaxseries": encoding.untransform_values(predicted, spec0.transforms).mean(axis=1),
        "persistence": np.stack([metrics.persistence(series.targets[:end], horizon) for end in fit_ends]),
        "seasonal_naive": np.stack([metrics.seasonal_naive(series.targets[:end], horizon, season) for end in fit_ends]),
    }
    index = series.frame.index
    origins = [index[end - 1] for end in fit_ends]
    fold_rows = {}
    for f, (spec, origin) in enumerate(zip(specs, origins)):
        scale = np.asarray(spec.mase_scale, float)
        for name in FORECASTERS:
            fold_rows[(f, name)] = {"origin": origin, **{m: float(v) for m, v in
                                                          metrics.errors(actual[f], forecasts[name][f], scale).items()}}
    folds_frame = pd.DataFrame.from_dict(fold_rows, orient="index")
    folds_frame.index.names = ["fold", "forecaster"]
    overall = folds_frame[list(metrics.METRICS)].groupby(level="forecaster", sort=False).mean()

    lower = upper = coverage = calibration = None
    if level is not None:
        transformed_actual = encoding.transform_values(actual.reshape(-1, len(names)), spec0.transforms).reshape(actual.shape)
        scale = np.stack([np.asarray(spec.target_scale) for spec in specs])[:, None]  # [folds, 1, k]
        low, high = intervals.member_interval(predicted, level, axis=1)  # [folds, H, k]
        fold_scores = intervals.scores(low, high, transformed_actual, scale)
        held_out = intervals.leave_one_out_widening(fold_scores, level) * scale
        lower = encoding.untransform_values(low - held_out, spec0.transforms)
        upper = encoding.untransform_values(high + held_out, spec0.transforms)
        coverage = intervals.coverage(lower, upper, actual) if np.isfinite(held_out).all() else None
        calibration = {"level": level, "horizon": horizon, "targets": list(names),
                       "widening": intervals.widening(fold_scores, level).tolist()}
    table = _forecast_table(index, fit_ends, origins, names, actual, forecasts, lower, upper)
    best = np.asarray(trained.best_step).reshape(-1, members)
    return Backtest(table, folds_frame, overall, level, coverage, calibration, best, refit, seconds)


def _forecast_table(index, fit_ends, origins, names, actual, forecasts, lower, upper) -> pd.DataFrame:
    horizon = actual.shape[1]
    suffix = (lambda name: "") if len(names) == 1 else (lambda name: f"_{name}")  # noqa: E731
    rows = []
    for f, (end, origin) in enumerate(zip(fit_ends, origins)):
        for h in range(horizon):
            row = {"fold": f, "origin": origin, "step": h + 1, "time": index[end + h]}
            for j, name in enumerate(names):
                row[f"actual{suffix(name)}"] = actual[f, h, j]
                for forecaster, values in forecasts.items():
                    row[f"{'forecast' if forecaster == 'jaxseries' else forecaster}{suffix(name)}"] = values[f, h, j]
                if lower is not None:
                    row[f"lower{suffix(name)}"], row[f"upper{suffix(name)}"] = lower[f, h, j], upper[f, h, j]
            rows.append(row)
    return pd.DataFrame(rows)
