"""Every input as a panel: a long table `id, time, target, ...`, a dict of series, a list of arrays, or one series
(an array, Series, DataFrame or CSV without an id: a panel of one, or of one series per target column), checked
and held as ragged rows sorted by (id, time).

Series may differ in length and start; the panel has one frequency. A NaN in a target or a past covariate is a
missing value (kept as NaN; `encoding` masks it), and a series' leading NaN are trimmed (it starts later).
Everything is checked here, in NumPy/pandas, before anything compiles, and every message names the id (and time)
at fault.
"""

from __future__ import annotations

import os
from typing import NamedTuple

import numpy as np
import pandas as pd

from jaxseries import data as data_lib

SERIES_ID = "series"  # the id column a single input gets (its values: the target names)


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
    targets: tuple = ()  # a single input's target columns (one series each); () for a panel
    logged: np.ndarray | None = None  # [S] which series the model reads as logs, where a run decides per series
    # (transform "auto" on a panel positive in some series only: `transforms.logged`)

    def series_of_rows(self) -> np.ndarray:
        return np.repeat(np.arange(len(self.ids)), self.lengths)

    def last_rows(self, count) -> np.ndarray:
        """Row numbers of the last `count` rows of each series (count: int or [S]), as one flat array."""
        count = np.broadcast_to(count, self.lengths.shape)
        ends = self.starts + self.lengths
        return np.concatenate([np.arange(e - c, e) for e, c in zip(ends, count)]) if len(ends) else np.zeros(0, int)


def is_single(data, id: str | None) -> bool:
    """Whether `data` is one series (or one table of target columns) rather than a panel."""
    return id is None and not isinstance(data, (dict, list, Panel))


def single_to_long(data, *, target, time, covariates, future_covariates, fill) -> tuple[pd.DataFrame, dict]:
    """One series (array, Series, DataFrame, CSV) -> a long table with one series per target column, and the
    load options that read it back (id, time, target, targets)."""
    table = data_lib.read_table(data, time=time)
    time = time or _time_column(table)
    if time is not None and time in table.columns:
        table = data_lib.read_table(table, time=time)
    frame, _ = data_lib.check_time_index(table, fill=fill, interpolate=[c for c in future_covariates if c in table])
    inputs = list(covariates) + list(future_covariates)
    targets = _names(target, frame, "target") if target is not None else _only_value_column(frame, inputs)
    for name in inputs:
        if name in targets:
            raise ValueError(f"column {name!r} is both a target and a covariate: name it once")
        if name not in frame.columns:
            raise ValueError(f"covariate column {name!r} is not in the data; columns are {list(frame.columns)}")
    for name in targets:
        data_lib.numeric_columns(frame, [name], "target", missing=True)  # refused here, by row and time
    stamped = isinstance(frame.index, pd.DatetimeIndex)
    time = (frame.index.name or time or "time") if stamped else None
    base = frame[inputs].reset_index(names=time) if stamped else frame[inputs].reset_index(drop=True)
    value = targets[0] if len(targets) == 1 else "value"
    long = pd.concat([base.assign(**{SERIES_ID: name, value: frame[name].to_numpy()}) for name in targets],
                     ignore_index=True)
    return long, {"id": SERIES_ID, "time": time, "target": value, "targets": tuple(targets)}


def _time_column(frame: pd.DataFrame) -> str | None:
    """The one text column, when there is one and it holds dates (a CSV's `month` column): timestamps are kept
    without `time=`."""
    if isinstance(frame.index, pd.DatetimeIndex):
        return None
    text = [c for c in frame.columns if pd.api.types.is_string_dtype(frame[c]) or frame[c].dtype == object]
    if len(text) != 1:
        return None
    for day_first in (False, True):  # either reading makes it a time column; parse_times then says which
        try:
            pd.to_datetime(frame[text[0]], dayfirst=day_first)
            return text[0]
        except (ValueError, TypeError):
            pass
    return None


def _only_value_column(frame: pd.DataFrame, inputs: list[str]) -> list[str]:
    candidates = [c for c in frame.columns if c not in inputs]
    numeric = [c for c in candidates if pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])]
    if len(candidates) == 1 or len(numeric) == 1:
        return candidates if len(candidates) == 1 else numeric
    raise ValueError(f"name the target column(s): target=... (CLI --target COL); the data has {candidates}")


def _names(value, frame, role) -> list[str]:
    names = [value] if isinstance(value, str) else list(value)
    if not names:
        raise ValueError(f"pass at least one {role} column")
    for name in names:
        if name not in frame.columns:
            raise ValueError(f"{role} column {name!r} is not in the data; columns are {list(frame.columns)}")
    return names


def to_long(data, id: str | None, time: str | None) -> tuple[pd.DataFrame, str, str | None, str | None]:
    """Any panel input -> (long DataFrame, id column, time column, the value column the series carry). A dict maps
    ids to series, frames or arrays (a Series keeps its DatetimeIndex as the time column); a list of arrays gets
    ids 0..n-1."""
    if isinstance(data, (str, os.PathLike)):
        data = data_lib.read_table(data)
    if isinstance(data, pd.DataFrame):
        if id is None:
            raise ValueError("a panel table needs its id column: pass id='unique_id' (CLI --id COL)")
        return data, id, time, None
    if isinstance(data, list):
        data = dict(enumerate(data))
    if not isinstance(data, dict):
        raise TypeError(f"panel data must be a long DataFrame, a CSV path, a dict of series or a list of arrays, "
                        f"got {type(data).__name__}")
    if not data:
        raise ValueError("the panel is empty: pass at least one series")
    id = id or "unique_id"
    frames, values = [], set()
    for key, series in data.items():
        if isinstance(series, pd.Series):
            name = series.name if series.name is not None else "y"
            frame = series.to_frame(name)
            values.add(name)
            if isinstance(series.index, pd.DatetimeIndex):
                time = time or series.index.name or "ds"
                frame = frame.rename_axis(time).reset_index()
        elif isinstance(series, pd.DataFrame):
            if isinstance(series.index, pd.DatetimeIndex):
                time = time or series.index.name or "ds"
                frame = series.rename_axis(time).reset_index()
            else:
                frame = series.copy()
        else:
            array = np.asarray(series, dtype=float)
            if array.ndim != 1:
                raise ValueError(f"series {key!r} must be 1-D, got shape {array.shape}")
            frame = pd.DataFrame({"y": array})
            values.add("y")
        frames.append(frame.assign(**{id: key}))
    return pd.concat(frames, ignore_index=True), id, time, values.pop() if len(values) == 1 else None


def load_panel(data, *, id: str | None = None, time: str | None = None, target=None, covariates=(),
               future_covariates=(), static=(), fill: bool = False) -> Panel:
    """Reads and checks any input as a panel (see the module doc). Raises ValueError naming the id, time and
    column at fault. `fill=True` puts irregular timestamps on their grid (missing rows inserted as missing values)."""
    if isinstance(data, Panel):  # checked already
        return data
    targets = ()
    if is_single(data, id):
        if static:
            raise ValueError("static= names per-series columns of a panel: pass id= (the id column) too")
        data, read = single_to_long(data, target=target, time=time, covariates=covariates,
                                    future_covariates=future_covariates, fill=fill)
        id, time, target, targets = read["id"], read["time"], read["target"], read["targets"]
    frame, id, time, value_column = to_long(data, id, time)
    if any(not isinstance(c, str) for c in frame.columns):
        frame = frame.rename(columns=str)
    if len(frame) == 0:
        raise ValueError("the panel is empty: pass at least one row")
    if id not in frame.columns:
        raise ValueError(f"id column {id!r} is not in the data; columns are {list(frame.columns)}")
    if time is None and "ds" in frame.columns and id == "unique_id" and target in (None, "y"):
        time = "ds"  # the long-format convention (unique_id, ds, y)
    names = {"covariates": list(covariates), "future_covariates": list(future_covariates), "static": list(static)}
    target = _panel_target(frame, target, value_column, [id, time, *sum(names.values(), [])])
    for role, columns in (("target", [target]), ("time", [time] if time else []), *names.items()):
        for name in columns:
            if name not in frame.columns:
                raise ValueError(f"{role} column {name!r} is not in the data; columns are {list(frame.columns)}")
    missing_id = np.flatnonzero(pd.isna(frame[id]).to_numpy())
    if len(missing_id):
        raise ValueError(f"row {missing_id[0]} has no id (NaN in id column {id!r}; {len(missing_id)} such rows): "
                         "give those rows an id or drop them")
    if fill and not targets:
        frame = _filled(frame, id, time, [target, *names["covariates"]], names["future_covariates"])
    stamps, freq_hint = _stamps(frame, time, id)
    # Sort by (id, time) through integer codes and one index: no copy of the whole table, no hashing of rows.
    codes, uniques = pd.factorize(frame[id], sort=True)
    order = np.lexsort((stamps, codes))
    codes, stamps = codes[order], stamps[order]
    needed = list(dict.fromkeys([id, target, *names["covariates"], *names["future_covariates"], *names["static"]]))
    frame = frame[needed].take(order).reset_index(drop=True).assign(_stamp=stamps)
    y = _target(frame, target, id)
    _check_values(frame, y, id, target, codes, np.asarray(uniques))
    started = pd.Series(np.isfinite(y)).groupby(codes).cummax().to_numpy()
    if not started.all():  # leading NaN: a series that starts later than the table (a wide table turned long)
        frame, codes, stamps, y = frame[started].reset_index(drop=True), codes[started], stamps[started], y[started]
    same_series = codes[1:] == codes[:-1]
    duplicated = np.flatnonzero(same_series & (stamps[1:] == stamps[:-1]))
    if len(duplicated):
        row = frame.iloc[duplicated[0] + 1]
        raise ValueError(f"id {row[id]!r} has {time or 'step'} {row['_stamp']} more than once: aggregate or drop "
                         "the duplicated rows")
    starts = np.flatnonzero(np.r_[True, ~same_series])
    lengths = np.diff(np.r_[starts, len(codes)])
    ids = np.asarray(uniques)[codes[starts]]
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
    past = data_lib.numeric_columns(frame, names["covariates"], "covariate", missing=True)
    future = data_lib.numeric_columns(frame, names["future_covariates"], "future covariate")
    static_frame = _static(frame, id, names["static"], ids, starts)
    return Panel(id, time, target, freq, ids, starts, lengths, stamp_index, y, past, future, static_frame, names,
                 targets)


def _panel_target(frame: pd.DataFrame, target, value_column: str | None, others: list) -> str:
    """The one target column: as named, else the one the series carry (a dict of Series), else "y", else the one
    numeric column that is nothing else."""
    if isinstance(target, (list, tuple)):
        if len(target) != 1:
            raise ValueError(f"a panel takes one target column, got {list(target)}: train one panel per target")
        target = target[0]
    if target is not None:
        return target
    if value_column is not None:
        return value_column
    if "y" in frame.columns:
        return "y"
    rest = [c for c in frame.columns if c not in others and pd.api.types.is_numeric_dtype(frame[c])]
    if len(rest) == 1:
        return rest[0]
    raise ValueError(f"name the target column: target=... (CLI --target COL); columns are {list(frame.columns)}")


def _stamps(frame: pd.DataFrame, time: str | None, id: str):
    """Each row's time (timestamps, or integer steps; without a time column, its position in its series)."""
    if time is None:
        return frame.groupby(id, sort=False).cumcount().to_numpy(), "step"
    column = frame[time]
    if pd.api.types.is_integer_dtype(column):
        return column.to_numpy(), "step"
    return data_lib.parse_times(column, time).to_numpy().astype("datetime64[ns]"), "time"


def _target(frame: pd.DataFrame, target: str, id: str) -> np.ndarray:
    column = frame[target]
    if not pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
        raise ValueError(f"target column {target!r} is not numeric (dtype {column.dtype}): convert it first")
    return column.to_numpy(np.float64)


def _check_values(frame, y, id, target, codes, uniques) -> None:
    """NaN is a missing value (masked downstream); ±inf, or a series with no value at all, is refused."""
    infinite = np.flatnonzero(np.isinf(y))
    if len(infinite):
        row = int(infinite[0])
        raise ValueError(f"target {target!r} holds ±inf for id {frame[id].iloc[row]!r} at {frame['_stamp'].iloc[row]} "
                         f"({len(infinite)} values in all): drop those rows or set them to NaN (missing)")
    empty = np.flatnonzero(np.bincount(codes, weights=np.isfinite(y), minlength=len(uniques)) == 0)
    if len(empty):
        raise ValueError(f"series {uniques[empty[0]]!r} has no {target!r} value (all NaN; {len(empty)} such series): "
                         "drop it")


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
            where = pd.Timestamp(grid[np.argmax(values[rows[off[0]]] != grid)])
            raise ValueError(f"the timestamps of id {ids[s]!r} are not on the panel's {freq} grid (missing or "
                             f"irregular rows, the first at {where}): pass fill=True to insert them as missing values, "
                             "or resample that series")
    return freq


def _filled(frame: pd.DataFrame, id: str, time: str | None, measured: list[str], known: list[str]) -> pd.DataFrame:
    """A panel's series each put on the grid of the panel's most common spacing, missing rows inserted: their
    `measured` columns (target, past covariates) missing (NaN, masked downstream), their `known`-future covariates
    interpolated in time, other columns carried forward, as `fill=True` does for one series."""
    if time is None:
        raise ValueError("fill=True puts timestamps on their grid, and this panel has none: pass time= (its time "
                         "column), or series with a DatetimeIndex")
    frame = frame.assign(**{time: pd.to_datetime(frame[time])})
    sizes = frame.groupby(id, sort=False)[time].size()
    freq = data_lib._grid_freq(pd.DatetimeIndex(np.sort(frame.loc[frame[id] == sizes.idxmax(), time].to_numpy())))
    parts = []
    for key, group in frame.groupby(id, sort=False):
        stamps = pd.DatetimeIndex(group[time])
        if stamps.has_duplicates:
            raise ValueError(f"id {key!r}: timestamp {stamps[stamps.duplicated()][0]} appears more than once: "
                             "aggregate or drop duplicates")
        group = group.set_index(time).sort_index()
        grid = pd.date_range(group.index[0], group.index[-1], freq=freq)
        if not group.index.isin(grid).all():
            raise ValueError(f"id {key!r}: timestamps do not lie on one {freq} grid, so they cannot be filled: "
                             "resample the data first")
        inserted = ~grid.isin(group.index)
        group = group.reindex(grid)
        group[known] = group[known].interpolate(method="time")
        group = group.ffill()
        group.loc[inserted, measured] = np.nan
        parts.append(group.rename_axis(time).reset_index())
    return pd.concat(parts, ignore_index=True)


def _static(frame: pd.DataFrame, id: str, columns: list[str], ids, starts) -> pd.DataFrame:
    """One row per series; a static column must not vary within an id."""
    for name in columns:
        varies = frame.groupby(id, sort=False)[name].nunique(dropna=False) > 1
        if varies.any():
            raise ValueError(f"static column {name!r} varies within id {varies.index[varies][0]!r}: a static feature "
                             "is constant per series (pass it as a covariate instead)")
    return frame.iloc[starts][columns].set_index(pd.Index(ids, name=id))
