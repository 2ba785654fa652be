"""Count data (issue 26): a generated panel of intermittent daily demand, the defaults against seasonal naive and
statsforecast's Croston-type models, scored on the same held-out days in one run.

    python benchmarks/intermittent.py [--series 300] [--seeds 0,1,2]

How the panel is generated (seed 7): each series has a probability of a sale on a day (0.05-0.5, raised by half on
Fridays and Saturdays) and a mean size (1-8); a day's demand is 0, or 1 + a negative binomial draw of that mean
minus one (dispersion 2), so most days are 0 and the sizes are over-dispersed counts. 2 years of days, the last 28
held out (the horizon). Scores per series, then averaged: MAE, RMSE, MASE (over the in-sample seasonal-naive MAE,
lag 7) and the bias of the panel's total demand over the horizon (forecast minus actual, over actual), which
Croston's methods are built to keep small. The count head (`distribution="negative_binomial"`: its mean is the
point forecast) is run beside the defaults and `loss="mse"` (a forecast of the mean, not of the 0.48 quantile);
for the jaxseries runs also the coverage of the 80% / 95% intervals and the scaled CRPS over the deciles 0.1-0.9
(`quantiles=`: the defaults' conformal quantiles against the count head's own). Croston's methods give points only.
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
FIGURE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "notebooks", "intermittent.png")
DECILES = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]


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
    seeds = [int(s) for s in args.seeds.split(",")]
    runs = [(f"jaxseries, defaults, seed {seed}", dict(seed=seed)) for seed in seeds]
    runs.append(("jaxseries, loss='mse', seed 0", dict(loss="mse")))
    runs += [(f"jaxseries, distribution='negative_binomial', seed {seed}", dict(distribution="negative_binomial",
                                                                               seed=seed)) for seed in seeds]
    probabilistic = {}
    for name, options in runs:
        start = time.perf_counter()
        run = js.train_series(frame, id="unique_id", time="ds", target="y", horizon=HORIZON, holdout=HORIZON,
                              progress=False, **options)
        out = js.forecast(run, level=[80, 95], quantiles=DECILES).sort_values(["unique_id", "ds"])
        column = lambda c: out[c].to_numpy().reshape(args.series, HORIZON)  # noqa: E731
        rows[name] = (column("jaxseries"), time.perf_counter() - start)
        probabilistic[name] = interval_scores(actual, column, history)
        if options.get("distribution") and not os.path.exists(FIGURE):
            save_figure(column, history, actual)
    print("\n| method | MAE | RMSE | MASE | total bias % | seconds |\n|---|---|---|---|---|---|")
    for name, (predicted, seconds) in rows.items():
        s = scores(actual, predicted, history)
        print(f"| {name} | {s['MAE']:.3f} | {s['RMSE']:.3f} | {s['MASE']:.3f} | {s['total bias %']:+.1f} | {seconds:.1f} |")
    print("\n| method | coverage 80% | coverage 95% | sCRPS (deciles) |\n|---|---|---|---|")
    for name, s in probabilistic.items():
        print(f"| {name} | {s['coverage 80']:.1f} | {s['coverage 95']:.1f} | {s['sCRPS']:.3f} |")


def save_figure(column, history: np.ndarray, actual: np.ndarray, shown=(0, 1, 2)) -> None:
    """The count head's forecast of three series: the last 8 weeks, the 28 days ahead with their 80% and 95%
    intervals and mean, and what happened."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(len(shown), 1, figsize=(9, 2.2 * len(shown)), sharex=True)
    past, ahead = np.arange(-56, 0), np.arange(HORIZON)
    for ax, s in zip(axes, shown):
        ax.step(past, history[s, -56:], where="mid", color="0.3", lw=1, label="history")
        ax.step(ahead, actual[s], where="mid", color="black", lw=1, ls=":", label="actual")
        for level, shade in ((95, 0.15), (80, 0.3)):
            ax.fill_between(ahead, column(f"jaxseries-lo-{level}")[s], column(f"jaxseries-hi-{level}")[s],
                            step="mid", color="C0", alpha=shade, lw=0, label=f"{level}% interval")
        ax.plot(ahead, column("jaxseries")[s], color="C0", lw=1.5, label="mean")
        ax.set_ylabel(f"item {s}")
    axes[0].legend(ncol=5, fontsize=8, loc="upper left")
    axes[-1].set_xlabel("days from the origin")
    figure.suptitle("distribution='negative_binomial' on generated intermittent demand (benchmarks/intermittent.py)")
    figure.savefig(FIGURE, dpi=100, bbox_inches="tight")
    plt.close(figure)


def interval_scores(actual: np.ndarray, column, history: np.ndarray) -> dict:
    """Coverage of the 80% and 95% intervals, and the scaled CRPS over the deciles."""
    from jaxseries import metrics
    from jaxseries.frames import quantile_column

    scale = np.abs(history[:, SEASON:] - history[:, :-SEASON]).mean(1)
    out = {f"coverage {level}": metrics.interval_errors(actual, column(f"jaxseries-lo-{level}"),
                                                        column(f"jaxseries-hi-{level}"), level / 100, scale)
           ["coverage%"].mean() for level in (80, 95)}
    deciles = {q: column(quantile_column("jaxseries", q)) for q in DECILES}  # the count head's own 0.5: its median
    with np.errstate(divide="ignore", invalid="ignore"):
        out["sCRPS"] = float(np.nanmean(metrics.quantile_errors(actual, deciles, np.where(scale > 0, scale, np.nan))
                                        ["sCRPS"]))
    return out


if __name__ == "__main__":
    main()
