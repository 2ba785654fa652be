"""The series calls users make: any input to a trained forecaster (`train_series`), and its backtest.

They sit above the search and the forecaster: read the data as a panel (one series is a panel of one), check the
options once (`config.SeriesOptions`), let `auto` choose the context when asked, then train (`forecasting.fit`)
or backtest (`backtesting.backtest`). Nothing is compiled or written before every check has passed.
"""

from __future__ import annotations

import dataclasses

from jaxseries import auto as auto_lib
from jaxseries import backtesting, forecasting, loop
from jaxseries.config import series_options
from jaxseries.panel import load_panel

# Which columns of the data are what: passed to the loader; every other keyword is a `SeriesOptions` field.
DATA_OPTIONS = ("id", "target", "time", "covariates", "future_covariates", "static", "fill")


def _split(options: dict):
    data = {k: options.pop(k) for k in DATA_OPTIONS if k in options}
    return data, series_options(**options)


def train_series(data, *, auto: bool = False, budget_s: float | None = None, checkpoint_dir=None,
                 checkpoint_every: int | None = None, resume: bool = False, overwrite: bool = False,
                 progress: bool = True, **options):
    """Trains a forecaster on one series or a panel of many; returns a run whose metadata holds everything to
    forecast (`js.forecast`) and score (`js.evaluate`).

    `data`: an array, pandas Series or DataFrame (a DatetimeIndex or `time=` column gives timestamps and the
    season), a CSV path, a long frame with `id=` (the id column), a dict of series or a list of arrays. The data
    options are `id`, `target` (one value column needs none; several columns of one table are trained as one
    series each), `time`, `covariates` (observed up to the origin), `future_covariates` (known for the horizon),
    `static` (per-series columns of a panel) and `fill` (put irregular timestamps on their grid, missing rows as missing values);
    every other keyword is a `SeriesOptions` field (`horizon` is required). `holdout` last rows of each series are
    never seen; the `validation` rows before them drive early stopping, and the best weights are kept.
    `auto=True` first chooses the context by a backtest inside the rows before the holdout, within `budget_s`
    seconds when given; the choice and every candidate's score are in `run.extra["auto"]`.
    """
    if budget_s is not None and not auto:
        raise ValueError("budget_s= caps the auto search: pass auto=True too (CLI --auto), or drop it")
    columns, settings = _split(options)
    loop.check_checkpoint_args(checkpoint_dir, checkpoint_every, resume, overwrite)  # before any search or compile
    if auto:
        auto_lib.check_budget(budget_s)
    panel = load_panel(data, **columns)
    forecasting.check_lengths(panel, settings)
    record = None
    if auto:
        chosen, record = auto_lib.choose(panel, settings, budget_s=budget_s, progress=progress)
        settings = dataclasses.replace(settings, **chosen)
    saving = dict(checkpoint_dir=checkpoint_dir, checkpoint_every=checkpoint_every, resume=resume,
                  overwrite=overwrite, progress=progress)
    return forecasting.fit(panel, settings, saving, notes={"auto": record} if record else None)


def backtest(data, *, folds: int, stride: int = 1, level: float | None = 0.8, progress: bool = True,
             **options) -> backtesting.Backtest:
    """Backtests `train_series`'s forecaster (the same data options and `SeriesOptions`) at `folds` origins
    `stride` rows apart in every series; `holdout` last rows are never read (the last fold ends before them).
    `level` is the interval's coverage (None: none); `refit=True` trains a model per fold."""
    columns, settings = _split(options)
    return backtesting.backtest(load_panel(data, **columns), settings, folds=folds, stride=stride, level=level,
                                progress=progress)
