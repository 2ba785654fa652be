"""Forecasts as frames: the rows ahead of each series with their timestamps, a single input's frame indexed by time,
and the known-future covariates a user passes for the rows ahead."""

from __future__ import annotations

import numpy as np
import pandas as pd

from jaxseries import data as data_lib
from jaxseries.encoding import PanelSpec
from jaxseries.panel import Panel, load_panel


def bound_column(alias: str, side: str, coverage: float) -> str:
    """The peers' name of an interval bound: `<alias>-lo-80` (side "lo" or "hi", coverage 0.8)."""
    return f"{alias}-{side}-{round(100 * coverage, 1):g}"


def quantile_column(alias: str, q: float) -> str:
    """NeuralForecast's name of a quantile's column: `<alias>_ql0.1`."""
    return f"{alias}_ql{q:g}"


def json_ids(ids) -> list:
    return [v.item() if isinstance(v, np.generic) else v for v in ids]


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


def as_series_frame(frame: pd.DataFrame, spec: PanelSpec) -> pd.DataFrame:
    """A single input's forecast: indexed by time, its columns as they are for one target (`forecast`, ...), each
    with the target's name after it for several (`forecast_sales`, ...)."""
    time = spec.time or "step"
    columns = [c for c in frame.columns if c not in (spec.id, time)]
    wide = frame.pivot(index=time, columns=spec.id)
    names = spec.targets
    suffix = {t: "" if len(names) == 1 else f"_{t}" for t in names}
    out = pd.DataFrame({f"{column}{suffix[t]}": wide[column][t].to_numpy() for column in columns for t in names},
                       index=wide.index)
    out.index.name = time
    return out


def future_panel(spec: PanelSpec, history: Panel, future: pd.DataFrame) -> Panel:
    """The rows ahead as a panel; for one series a frame of the future covariates (rows after the history)."""
    if spec.targets:  # a single input's rows ahead: numbered after its last row, for every target series
        rows = pd.DataFrame(future).reset_index(drop=True)
        long = pd.concat([rows.assign(**{spec.id: t, "_step": np.arange(len(rows))}) for t in spec.targets])
        return load_panel(long.assign(**{spec.target: 0.0}), id=spec.id, time="_step", target=spec.target,
                          future_covariates=spec.future_covariates)
    ahead = load_panel(future.assign(**{spec.target: 0.0}), id=spec.id, time=spec.time, target=spec.target,
                       future_covariates=spec.future_covariates)
    unknown = sorted(set(json_ids(ahead.ids)) - set(json_ids(history.ids)), key=str)
    if unknown:
        raise ValueError(f"future= has ids that are not in data: {unknown[:5]}")
    return ahead
