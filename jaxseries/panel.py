"""Many series at once: read a panel (a long table `id, time, target, ...`, a dict of series, a list of arrays),
check it, and hold it as ragged rows sorted by (id, time).

Series may differ in length and start; the panel has one frequency. Everything is checked here, in NumPy/pandas,
before anything compiles, and every message names the id (and time) at fault.
"""

from __future__ import annotations

import os
from typing import NamedTuple

import numpy as np
import pandas as pd

from jaxseries import data as data_lib


class Panel(NamedTuple):
    """A checked panel: rows sorted by (id, time), each series' rows contiguous."""

    id: str  # the id column's name
    time: str | None  # the time column's name (None: integer steps)
    target: str
    freq: str | None
    ids: np.ndarray  # [S] the ids, in sorted order
    starts: np.ndarray  # [S] each series' first row
    lengths: np.ndarray  # [S]
    stamps: pd.Index  # [R] every row's timestamp (DatetimeIndex) or integer step
    y: np.ndarray  # [R] the target
    past: np.ndarray  # [R, c] past covariates
    future: np.ndarray  # [R, f] known-future covariates
    static: pd.DataFrame  # [S, static columns], indexed by id
    names: dict  # covariates, future_covariates, static: column name lists

    def series_of_rows(self) -> np.ndarray:
        return np.repeat(np.arange(len(self.ids)), self.lengths)

    def last_rows(self, count) -> np.ndarray:
        """Row numbers of the last `count` rows of each series (count: int or [S]), as one flat array."""
        count = np.broadcast_to(count, self.lengths.shape)
        ends = self.starts + self.lengths
        return np.concatenate([np.arange(e - c, e) for e, c in zip(ends, count)]) if len(ends) else np.zeros(0, int)


def to_long(data, id: str | None, time: str | None) -> tuple[pd.DataFrame, str]:
    """Any panel input -> (long DataFrame, id column name). A dict maps ids to series, frames or arrays; a list of
    arrays gets ids 0..n-1."""
    if isinstance(data, (str, os.PathLike)):
        data = data_lib.read_table(data)
    if isinstance(data, pd.DataFrame):
        if id is None:
            raise ValueError("a panel table needs its id column: pass id='unique_id' (CLI --id COL)")
        return data, id
    if isinstance(data, list):
        data = dict(enumerate(data))
    if not isinstance(data, dict):
        raise TypeError(f"panel data must be a long DataFrame, a CSV path, a dict of series or a list of arrays, "
                        f"got {type(data).__name__}")
    if not data:
        raise ValueError("the panel is empty: pass at least one series")
    id = id or "unique_id"
    frames = []
    for key, series in data.items():
        if isinstance(series, pd.Series):
            frame = series.to_frame(series.name if series.name is not None else "y")
            if isinstance(series.index, pd.DatetimeIndex):
                frame = frame.rename_axis(time or "ds").reset_index()
        elif isinstance(series, pd.DataFrame):
            frame = series.reset_index() if isinstance(series.index, pd.DatetimeIndex) else series.copy()
        else:
            array = np.asarray(series, dtype=float)
            if array.ndim != 1:
                raise ValueError(f"series {key!r} must be 1-D, got shape {array.shape}")
            frame = pd.DataFrame({"y": array})
        frames.append(frame.assign(**{id: key}))
    return pd.concat(frames, ignore_index=True), id


def load_panel(data, *, id: str | None, time: str | None, target: str | None, covariates=(), future_covariates=(),
               static=()) -> Panel:
    """Reads and checks a panel (see the module doc). Raises ValueError naming the id, time and column at fault."""
    if isinstance(data, Panel):  # checked already
        return data
    frame, id = to_long(data, id, time)
    if any(not isinstance(c, str) for c in frame.columns):
        frame = frame.rename(columns=str)
    if len(frame) == 0:
        raise ValueError("the panel is empty: pass at least one row")
    if id not in frame.columns:
        raise ValueError(f"id column {id!r} is not in the data; columns are {list(frame.columns)}")
    if time is None and "ds" in frame.columns and id == "unique_id" and target in (None, "y"):
        time = "ds"  # the long-format convention (unique_id, ds, y)
    if target is None:
        if "y" not in frame.columns:
            raise ValueError(f"name the target column: target=... (CLI --target COL); columns are {list(frame.columns)}")
        target = "y"
    if isinstance(target, (list, tuple)):
        if len(target) != 1:
            raise ValueError(f"a panel takes one target column, got {list(target)}: train one panel per target")
        target = target[0]
    names = {"covariates": list(covariates), "future_covariates": list(future_covariates), "static": list(static)}
    for role, columns in (("target", [target]), ("time", [time] if time else []), *names.items()):
        for name in columns:
            if name not in frame.columns:
                raise ValueError(f"{role} column {name!r} is not in the data; columns are {list(frame.columns)}")
    stamps, freq_hint = _stamps(frame, time, id)
    # Sort by (id, time) through integer codes and one index: no copy of the whole table, no hashing of rows.
    codes, uniques = pd.factorize(frame[id], sort=True)
    order = np.lexsort((stamps, codes))
    codes, stamps = codes[order], stamps[order]
    needed = list(dict.fromkeys([id, target, *names["covariates"], *names["future_covariates"], *names["static"]]))
    frame = frame[needed].take(order).reset_index(drop=True).assign(_stamp=stamps)
    same_series = codes[1:] == codes[:-1]
    duplicated = np.flatnonzero(same_series & (stamps[1:] == stamps[:-1]))
    if len(duplicated):
        row = frame.iloc[duplicated[0] + 1]
        raise ValueError(f"id {row[id]!r} has {time or 'step'} {row['_stamp']} more than once: aggregate or drop "
                         "the duplicated rows")
    starts = np.flatnonzero(np.r_[True, ~same_series])
    lengths = np.diff(np.r_[starts, len(codes)])
    ids = np.asarray(uniques)[codes[starts]]
    y = _target(frame, target, id)
    _check_finite_rows(frame, y, id, target, ids, starts, lengths)
    stamp_index = pd.DatetimeIndex(frame["_stamp"]) if freq_hint == "time" else pd.Index(frame["_stamp"].to_numpy())
    freq = _panel_freq(stamp_index, ids, starts, lengths) if freq_hint == "time" else None
    if freq_hint == "step":
        gaps = np.diff(frame["_stamp"].to_numpy())
        inside = np.ones(len(gaps), bool)
        inside[starts[1:] - 1] = False  # the step between two series is no gap
        if (inside & (gaps != 1)).any():
            at = int(np.flatnonzero(inside & (gaps != 1))[0])
            raise ValueError(f"id {frame[id].iloc[at]!r} skips from step {frame['_stamp'].iloc[at]} to "
                             f"{frame['_stamp'].iloc[at + 1]}: integer steps must be consecutive")
    past = data_lib.numeric_columns(frame, names["covariates"], "covariate")
    future = data_lib.numeric_columns(frame, names["future_covariates"], "future covariate")
    static_frame = _static(frame, id, names["static"], ids, starts)
    return Panel(id, time, target, freq, ids, starts, lengths, stamp_index, y, past, future, static_frame, names)


def _stamps(frame: pd.DataFrame, time: str | None, id: str):
    """Each row's time (timestamps, or integer steps; without a time column, its position in its series)."""
    if time is None:
        return frame.groupby(id, sort=False).cumcount().to_numpy(), "step"
    column = frame[time]
    if pd.api.types.is_integer_dtype(column):
        return column.to_numpy(), "step"
    try:
        return pd.to_datetime(column).to_numpy().astype("datetime64[ns]"), "time"  # one unit, whatever pandas infers
    except (ValueError, TypeError) as error:
        raise ValueError(f"time column {time!r} has values that are not timestamps: {error}") from None


def _target(frame: pd.DataFrame, target: str, id: str) -> np.ndarray:
    column = frame[target]
    if not pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
        raise ValueError(f"target column {target!r} is not numeric (dtype {column.dtype}): convert it first")
    return column.to_numpy(np.float64)


def _check_finite_rows(frame, y, id, target, ids, starts, lengths) -> None:
    bad = ~np.isfinite(y)
    if not bad.any():
        return
    per_series = np.add.reduceat(bad, starts)
    empty = np.flatnonzero(per_series == lengths)
    if len(empty):
        raise ValueError(f"series {ids[empty[0]]!r} has no finite {target!r} value ({len(empty)} such series): "
                         "drop it")
    row = int(np.flatnonzero(bad)[0])
    raise ValueError(f"target {target!r} holds NaN or ±inf for id {frame[id].iloc[row]!r} at "
                     f"{frame['_stamp'].iloc[row]} ({int(bad.sum())} values in all): drop or fill them first")


def _panel_freq(stamps: pd.DatetimeIndex, ids, starts, lengths) -> str:
    """The one frequency of the panel: inferred on the longest series, then every series checked to lie on that
    grid from its own start (series sharing a start and length are checked together)."""
    longest = int(np.argmax(lengths))
    if lengths[longest] < 3:
        raise ValueError("need a series with at least 3 timestamps to infer the panel's frequency")
    freq = data_lib._infer_freq(stamps[starts[longest]: starts[longest] + lengths[longest]])
    if freq is None:
        raise ValueError(f"the timestamps of id {ids[longest]!r} are irregularly spaced: resample the panel first")
    values = stamps.asi8
    groups: dict = {}
    for s, (start, n) in enumerate(zip(starts, lengths)):
        groups.setdefault((values[start], n), []).append(s)
    for (first, n), members in groups.items():
        grid = pd.date_range(pd.Timestamp(first), periods=n, freq=freq).as_unit("ns").asi8
        rows = starts[members][:, None] + np.arange(n)
        off = np.flatnonzero((values[rows] != grid).any(axis=1))
        if len(off):
            s = members[off[0]]
            own = data_lib._infer_freq(stamps[starts[s]: starts[s] + lengths[s]]) if lengths[s] >= 3 else None
            if own and own != freq:
                raise ValueError(f"mixed frequencies: id {ids[longest]!r} is {freq}, id {ids[s]!r} is {own}; one "
                                 "panel has one frequency: resample or split it")
            raise ValueError(f"the timestamps of id {ids[s]!r} are not on the panel's {freq} grid (missing or "
                             "irregular rows): resample or fill that series")
    return freq


def _static(frame: pd.DataFrame, id: str, columns: list[str], ids, starts) -> pd.DataFrame:
    """One row per series; a static column must not vary within an id."""
    for name in columns:
        varies = frame.groupby(id, sort=False)[name].nunique(dropna=False) > 1
        if varies.any():
            raise ValueError(f"static column {name!r} varies within id {varies.index[varies][0]!r}: a static feature "
                             "is constant per series (pass it as a covariate instead)")
    return frame.iloc[starts][columns].set_index(pd.Index(ids, name=id))
