"""A raw series in model units: read and check the table, plan the windows, fit leak-free scaling, cut windows.

Timeline of a series with T rows (holdout N, validation V, context L, horizon H):

    rows:  0 ............................ T-N-V ........ T-N ........ T
           |<------- training part ------>|<-- valid. -->|<- holdout ->|
           scaling statistics come from here only          never seen in training or validation

A direct window with origin o (its last observed row) reads rows o-L+1..o (targets, past covariates,
known features) plus one decoder row per forecast step o+1..o+H (that step's known features: calendar,
known-future covariates; the known features of the row its value is measured from; its position k/H; a flag)
and predicts rows o+1..o+H, each output from its own decoder row. Worked example, L=3, H=2, o=5: input rows
3,4,5 and decoder rows 6,7; targets rows 6,7. No target after the origin is read. A training window's targets all
lie in the training part; a validation window's in the validation part.

Each value is measured from a reference known at the origin (normalize="auto"): for a seasonal series the value
one season earlier, so inputs are seasonal differences and the network predicts what the seasonal-naive
forecast misses ("season"); otherwise the window's last value ("window"). The network sees scale-free shapes.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import numpy as np
import pandas as pd

from jaxseries import data as data_lib
from jaxseries import metrics
from jaxseries.config import _require_int


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
    decoder: str = "last"  # "horizon": one decoder row per forecast step; "last": runs saved before it


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

    def reference_rows(self, origins: np.ndarray, steps: int) -> np.ndarray:
        """The row each predicted value is measured from, at or before the origin: [n, steps]."""
        ahead = origins[:, None] + np.arange(1, steps + 1)
        if self.spec.normalize == "season":  # the seasonal-naive forecast: the model learns what it misses
            return ahead - self.spec.season * np.ceil((ahead - origins[:, None]) / self.spec.season).astype(int)
        return np.broadcast_to(origins[:, None], ahead.shape)  # the window's last value (or, global: the origin's)

    def target_reference(self, origins: np.ndarray, steps: int) -> np.ndarray:
        """What each predicted value is measured from, known at the origin: [n, steps, k]."""
        if self.spec.normalize == "global":
            return np.broadcast_to(np.asarray(self.spec.target_center), (len(origins), steps, self.values.shape[1]))
        return self.values[self.reference_rows(origins, steps)]

    def first_origin(self) -> int:
        return self.spec.context - 1 + (self.spec.season if self.spec.normalize == "season" else 0)

    def direct(self, origins: np.ndarray, with_targets: bool = True):
        """Windows for the direct strategy: context rows, then one row per forecast step (see the module doc)."""
        spec, scale = self.spec, np.asarray(self.spec.target_scale)
        context = data_lib.window_index(origins, spec.context, 0)
        parts = [(self.values[context] - self.input_reference(context, origins)) / scale, self.past[context],
                 self.known[context]]
        ahead = origins[:, None] + np.arange(1, spec.horizon + 1)
        blank = np.zeros(ahead.shape + (self.values.shape[1] + self.past.shape[1],))
        if spec.decoder == "horizon":  # the decoder's rows: known features of the step and of its reference row
            encoder = np.concatenate(parts + [np.zeros(context.shape + (self.known.shape[1] + 2,))], axis=-1)
            position = np.broadcast_to(np.arange(1, spec.horizon + 1) / spec.horizon, ahead.shape)[..., None]
            decoder = np.concatenate([blank, self.known[ahead], self.known[self.reference_rows(origins, spec.horizon)],
                                      position, np.ones(ahead.shape + (1,))], -1)
            x = np.concatenate([encoder, decoder], axis=1)
        else:  # runs saved before the decoder: known-feature rows appended only when there are known features
            x = np.concatenate(parts + [np.zeros(context.shape + (1,))], axis=-1)
            if self.known.shape[1]:
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


def head(series: Series, rows: int) -> Series:
    """The series' first `rows` rows."""
    return Series(series.frame.iloc[:rows], series.freq, series.time, series.names, series.targets[:rows],
                  series.past[:rows], series.future[:rows])


def load_series(data, target, time, fill, covariates, future_covariates, strategy) -> Series:
    """Reads and checks the table (sorted regular timestamps, known numeric columns, no NaN/inf)."""
    if isinstance(data, Series):  # checked already
        return data
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
        decoder="horizon" if plan["strategy"] == "direct" else "last",
    )
    return spec, encode(series, spec, fit_end)


def model_head(spec: SeriesSpec) -> dict:
    """The head the spec's windows need: a decoder over the forecast rows, one output per step (direct; "last" in
    runs saved before it), or the seed's output at every step (recursive)."""
    targets = len(spec.targets)
    if spec.strategy != "direct":
        return {"head": "sequence", "output_dim": targets}
    if spec.decoder == "horizon":
        return {"head": "horizon", "output_dim": targets, "horizon": spec.horizon, "context": spec.context}
    return {"head": "last", "output_dim": spec.horizon * targets}


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
