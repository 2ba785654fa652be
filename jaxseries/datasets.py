"""Data shipped inside the package (nothing is downloaded at run time)."""

from __future__ import annotations

from importlib import resources

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
