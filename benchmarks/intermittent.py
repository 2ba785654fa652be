"""Count data (issue 26): a generated panel of intermittent daily demand, the defaults against seasonal naive and
statsforecast's Croston-type models, scored on the same held-out days in one run.

    python benchmarks/intermittent.py [--series 300] [--seeds 0,1,2]

How the panel is generated (seed 7): each series has a probability of a sale on a day (0.05-0.5, raised by half on
Fridays and Saturdays) and a mean size (1-8); a day's demand is 0, or 1 + a negative binomial draw of that mean
minus one (dispersion 2), so most days are 0 and the sizes are over-dispersed counts. 2 years of days, the last 28
held out (the horizon). Scores per series, then averaged: MAE, RMSE, MASE (over the in-sample seasonal-naive MAE,
lag 7) and the bias of the panel's total demand over the horizon (forecast minus actual, over actual), which
Croston's methods are built to keep small. There is no count head yet: the defaults see values as they are (zeros:
no log); `loss="mse"` (a forecast of the mean, not of the 0.48 quantile) is run beside them for reference.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import pandas as pd

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import common  # noqa: E402
import jaxseries as js  # noqa: E402

HORIZON, DAYS, SEASON = 28, 730, 7


def generated(count: int, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    stamps = pd.date_range("2023-01-02", periods=DAYS, freq="D")
    busy = np.where(stamps.dayofweek.isin([4, 5]), 1.5, 1.0)
    frames = []
    for i in range(count):
        chance = np.minimum(rng.uniform(0.05, 0.5) * busy, 0.95)
        size = rng.uniform(1, 8)
        sold = rng.random(DAYS) < chance
        extra = rng.negative_binomial(2, 2 / (2 + size - 1), DAYS) if size > 1 else np.zeros(DAYS, int)
        frames.append(pd.DataFrame({"unique_id": f"item{i:04d}", "ds": stamps, "y": (sold * (1 + extra)).astype(float)}))
    return pd.concat(frames, ignore_index=True)


def scores(actual: np.ndarray, predicted: np.ndarray, history: np.ndarray) -> dict:
    scale = np.abs(history[:, SEASON:] - history[:, :-SEASON]).mean(1)
    error = predicted - actual
    with np.errstate(divide="ignore", invalid="ignore"):
        mase = np.abs(error).mean(1) / np.where(scale > 0, scale, np.nan)
    return {"MAE": np.abs(error).mean(), "RMSE": np.sqrt((error**2).mean(1)).mean(), "MASE": np.nanmean(mase),
            "total bias %": 100 * error.sum() / actual.sum()}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--series", type=int, default=300)
    parser.add_argument("--seeds", default="0,1,2")
    args = parser.parse_args(argv)
    frame = generated(args.series)
    values = frame.y.to_numpy().reshape(args.series, DAYS)
    history, actual = values[:, :-HORIZON], values[:, -HORIZON:]
    print(common.machine(), f"; {args.series} series, {100 * (values == 0).mean():.0f}% zero days", flush=True)
    rows = {"zero": (np.zeros_like(actual), 0.0),
            "seasonal naive (lag 7)": (np.tile(history[:, -SEASON:], HORIZON // SEASON), 0.0)}
    from statsforecast import StatsForecast
    from statsforecast.models import TSB, CrostonOptimized, CrostonSBA

    train = frame[frame.groupby("unique_id").cumcount() < DAYS - HORIZON]
    for model in (CrostonOptimized(), CrostonSBA(), TSB(alpha_d=0.2, alpha_p=0.2)):
        start = time.perf_counter()
        fitted = StatsForecast(models=[model], freq="D", n_jobs=1).forecast(df=train, h=HORIZON)
        fitted = fitted.reset_index() if "unique_id" not in fitted else fitted
        name = [c for c in fitted.columns if c not in ("unique_id", "ds")][0]
        rows[f"{name} (statsforecast)"] = (fitted.sort_values(["unique_id", "ds"])[name].to_numpy()
                                           .reshape(args.series, HORIZON), time.perf_counter() - start)
    for seed in [int(s) for s in args.seeds.split(",")]:
        start = time.perf_counter()
        run = js.train_series(frame, id="unique_id", time="ds", target="y", horizon=HORIZON, holdout=HORIZON,
                              seed=seed, progress=False)
        out = js.forecast(run).sort_values(["unique_id", "ds"])["forecast"].to_numpy().reshape(args.series, HORIZON)
        rows[f"jaxseries, defaults, seed {seed}"] = (out, time.perf_counter() - start)
    start = time.perf_counter()
    run = js.train_series(frame, id="unique_id", time="ds", target="y", horizon=HORIZON, holdout=HORIZON,
                          loss="mse", progress=False)
    out = js.forecast(run).sort_values(["unique_id", "ds"])["forecast"].to_numpy().reshape(args.series, HORIZON)
    rows["jaxseries, loss='mse', seed 0"] = (out, time.perf_counter() - start)
    print("\n| method | MAE | RMSE | MASE | total bias % | seconds |\n|---|---|---|---|---|---|")
    for name, (predicted, seconds) in rows.items():
        s = scores(actual, predicted, history)
        print(f"| {name} | {s['MAE']:.3f} | {s['RMSE']:.3f} | {s['MASE']:.3f} | {s['total bias %']:+.1f} | {seconds:.1f} |")


if __name__ == "__main__":
    main()
