"""From raw input to a checked, regularly spaced table; calendar features; windows.

Input: a NumPy array (1-D or [T, features]), a pandas Series or DataFrame (DatetimeIndex or a time column), or
a CSV path. Everything is checked here, in NumPy/pandas, before anything compiles.
"""

from __future__ import annotations

import os
import re
import warnings

import numpy as np
import pandas as pd

# Seasonal period and calendar features by frequency family (the pandas offset's alias without multiples).
SEASON_BY_FREQ = {"MS": 12, "ME": 12, "M": 12, "QS": 4, "QE": 4, "Q": 4, "W": 52, "D": 7, "B": 5}
# Below a day the season is the cycle of a day, else of an hour, else of a minute: the first that is a whole number
# of rows and at most MAX_SUB_DAILY_SEASON of them (5-minute data: a day of 288; 1-minute data: an hour of 60).
SECONDS_BY_FREQ = {"h": 3600, "H": 3600, "min": 60, "T": 60, "s": 1, "S": 1}
MAX_SUB_DAILY_SEASON = 288
CALENDAR_BY_FREQ = {
    "MS": ("month",), "ME": ("month",), "M": ("month",), "QS": ("quarter",), "QE": ("quarter",), "Q": ("quarter",),
    "W": ("week",), "D": ("dayofweek", "month"), "B": ("dayofweek", "month"), "h": ("hour", "dayofweek"),
    "H": ("hour", "dayofweek"), "min": ("hour", "dayofweek"), "T": ("hour", "dayofweek"),
}
CALENDAR_PERIOD = {"month": 12, "quarter": 4, "week": 52, "dayofweek": 7, "hour": 24}


def freq_family(freq: str | None) -> str | None:
    if not freq:
        return None
    match = re.match(r"^\d*([A-Za-z]+)", freq)
    return match.group(1) if match else None


def read_table(data, *, time: str | None = None) -> pd.DataFrame:
    """Any supported input -> DataFrame (DatetimeIndex when there are timestamps). Only shape checks here."""
    if isinstance(data, (str, os.PathLike)):
        path = os.fspath(data)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"data file {path!r} does not exist: check the path")
        try:
            data = pd.read_csv(path)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
            raise ValueError(f"data file {path!r} is not a readable CSV: {error}") from None
    if isinstance(data, pd.Series):
        data = data.to_frame(name=data.name if data.name is not None else "y")
    elif isinstance(data, (np.ndarray, list, tuple)):
        array = np.asarray(data)
        if array.ndim not in (1, 2):
            raise ValueError(f"data must be 1-D [T] or 2-D [T, features], got shape {array.shape}")
        array = array.reshape(len(array), -1)
        names = ["y"] if array.shape[1] == 1 else [f"y{i}" for i in range(array.shape[1])]
        data = pd.DataFrame(array, columns=names)
    elif not isinstance(data, pd.DataFrame):
        raise TypeError(f"data must be a path, NumPy array, pandas Series or DataFrame, got {type(data).__name__}")
    frame = data.copy()
    frame.columns = [str(c) for c in frame.columns]
    if time is not None:
        if time not in frame.columns:
            raise ValueError(f"time column {time!r} is not in the data; columns are {list(frame.columns)}")
        stamps = parse_times(frame[time], time)
        frame = frame.drop(columns=[time]).set_index(pd.DatetimeIndex(stamps, name=time))
    if len(frame) == 0:
        raise ValueError("data is empty: pass at least one row")
    return frame


SLASHED_DATE = re.compile(r"^\s*(\d{1,2})[/.-](\d{1,2})[/.-](\d{2,4})")


def parse_times(column: pd.Series, name: str) -> pd.DatetimeIndex:
    """A time column as timestamps. Dates such as 13/01/2000 parse month-first in pandas; where that fails, or
    leaves the timestamps irregular while day-first would make them regular, the error says so and how to fix it."""
    try:
        stamps, failure = pd.DatetimeIndex(pd.to_datetime(column)), None
    except (ValueError, TypeError) as error:
        stamps, failure = None, error
    if pd.api.types.is_string_dtype(column) and column.astype(str).str.match(SLASHED_DATE).all():
        try:
            day_first = pd.DatetimeIndex(pd.to_datetime(column, dayfirst=True))
        except (ValueError, TypeError):
            day_first = None
        regular = lambda index: _infer_freq(index.unique().sort_values()) is not None  # noqa: E731
        if day_first is not None and regular(day_first) and (stamps is None or not regular(stamps)):
            example = column.iloc[int(np.argmax(day_first != stamps)) if stamps is not None else 0]
            raise ValueError(
                f"time column {name!r} holds day-first dates ({example!r}), which pandas reads month-first"
                f"{'' if stamps is None else ' and which are then irregularly spaced'}: convert the column first, "
                f"e.g. frame[{name!r}] = pd.to_datetime(frame[{name!r}], dayfirst=True) (or format='%d/%m/%Y')")
    if failure is not None:
        raise ValueError(f"time column {name!r} has values that are not timestamps: {failure}") from None
    return stamps


def check_time_index(frame: pd.DataFrame, *, fill: bool = False, interpolate=()) -> tuple[pd.DataFrame, str | None]:
    """Sorted, unique, regularly spaced timestamps (or none). Returns the frame and its frequency alias. `fill`
    inserts missing timestamps: their values missing (NaN), but for the `interpolate` columns (known-future
    covariates, which must be complete), interpolated in time."""
    index = frame.index
    if not isinstance(index, pd.DatetimeIndex):
        return frame.reset_index(drop=True), None
    if index.hasnans:
        raise ValueError(f"timestamp {int(np.argmax(index.isna()))} is missing (NaT): drop or fix that row")
    if not index.is_monotonic_increasing:
        at = int(np.argmax(np.diff(index.asi8) < 0)) + 1
        raise ValueError(f"timestamps are not sorted (row {at}, {index[at]}, comes before row {at - 1}): sort the data by time")
    if index.has_duplicates:
        raise ValueError(f"timestamp {index[index.duplicated()][0]} appears more than once: aggregate or drop duplicates")
    if len(index) < 3:
        raise ValueError(f"need at least 3 timestamps to infer the frequency, got {len(index)}")
    freq = _infer_freq(index)
    if freq is None:
        if not fill:
            raise ValueError(
                "timestamps are irregularly spaced (some are missing or off the grid): "
                "pass fill=True (CLI --fill) to insert the missing ones (as missing values)"
            )
        freq = _grid_freq(index)
        grid = pd.date_range(index[0], index[-1], freq=freq)
        if not index.isin(grid).all():
            raise ValueError(f"timestamps do not lie on one {freq} grid, so they cannot be filled: resample the data first")
        frame = frame.reindex(grid)
        known = list(interpolate)
        frame[known] = frame[known].interpolate(method="time")
        frame.index.name = index.name
    frame.index.freq = None
    return frame, freq


def _grid_freq(index: pd.DatetimeIndex) -> str:
    """The most common frequency over runs of 5 consecutive timestamps (the spacing where none are missing)."""
    found = [_infer_freq(index[i : i + 5]) for i in range(max(len(index) - 4, 1))]
    found = [f for f in found if f]
    if not found:
        raise ValueError("no regular spacing found in the timestamps to fill towards: resample the data first")
    return max(set(found), key=found.count)


def _infer_freq(index: pd.DatetimeIndex) -> str | None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        freq = pd.infer_freq(index)
    if freq is None:
        return None
    return pd.tseries.frequencies.to_offset(freq).freqstr


def numeric_columns(frame: pd.DataFrame, columns: list[str], role: str, missing: bool = False) -> np.ndarray:
    """The named columns as float64 [T, k], rejecting unknown, non-numeric and non-finite columns by name
    (`missing`: NaN is a missing value, only ±inf is refused)."""
    for name in columns:
        if name not in frame.columns:
            raise ValueError(f"{role} column {name!r} is not in the data; columns are {list(frame.columns)}")
        if not pd.api.types.is_numeric_dtype(frame[name]) or pd.api.types.is_bool_dtype(frame[name]):
            raise ValueError(f"{role} column {name!r} is not numeric (dtype {frame[name].dtype}): convert or drop it")
    values = frame[columns].to_numpy(dtype=np.float64)
    bad = np.isinf(values) if missing else ~np.isfinite(values)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        where = frame.index[row]
        raise ValueError(
            f"{role} column {columns[col]!r} holds {'±inf' if missing else 'NaN or ±inf'} ({int(bad[:, col].sum())} "
            f"values, first at row {row}{'' if isinstance(where, (int, np.integer)) else f', {where}'}): "
            + ("set them to NaN (missing) or drop those rows" if missing else "drop or fill them first")
        )
    return values


def calendar_features(index, freq: str | None) -> np.ndarray:
    """Sin/cos of the calendar positions that matter for this frequency: [T, 2 * features] (may be [T, 0])."""
    names = CALENDAR_BY_FREQ.get(freq_family(freq), ()) if isinstance(index, pd.DatetimeIndex) else ()
    columns = []
    for name in names:
        position = index.isocalendar().week.to_numpy() if name == "week" else getattr(index, name).to_numpy()
        angle = 2 * np.pi * position.astype(np.float64) / CALENDAR_PERIOD[name]
        columns += [np.sin(angle), np.cos(angle)]
    return np.stack(columns, axis=1) if columns else np.zeros((len(index), 0))


def future_index(index, freq: str | None, periods: int):
    """The `periods` timestamps after the last one (positions when the data has no timestamps)."""
    if isinstance(index, pd.DatetimeIndex):
        return pd.date_range(index[-1], periods=periods + 1, freq=freq)[1:]
    start = int(index[-1]) + 1 if len(index) else 0
    return pd.RangeIndex(start, start + periods)


def default_season(freq: str | None) -> int:
    """The season a frequency implies (README's table): a year of months, quarters or weeks, a week of days or
    business days, below a day the cycle of a day, an hour or a minute (a multiple such as "2h" counted); else 1."""
    family = freq_family(freq)
    if family not in SECONDS_BY_FREQ:
        return SEASON_BY_FREQ.get(family, 1)
    step = int(re.match(r"^(\d*)", freq).group(1) or 1) * SECONDS_BY_FREQ[family]
    for cycle in (86400, 3600, 60):
        if cycle % step == 0 and 1 < cycle // step <= MAX_SUB_DAILY_SEASON:
            return cycle // step
    return 1


def window_index(origins: np.ndarray, before: int, after: int) -> np.ndarray:
    """Row indices [origins, before + after] from origin-before+1 to origin+after, for gathering windows."""
    return origins[:, None] + np.arange(-before + 1, after + 1)[None, :]
