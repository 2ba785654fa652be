"""Forecast accuracy with default settings: airline passengers and generated monthly series, 5 seeds each,
beside naive and seasonal-naive; and the measured effect of the options.

    python benchmarks/accuracy.py            # prints a markdown section
"""

from __future__ import annotations

import sys
import time
import warnings

import numpy as np
import pandas as pd

import jaxseries as js

from common import verdict

SEEDS = range(5)
REFERENCES = "classical references on the same split (from shared notes, not rerun here): airline ARIMA(0,1,1)(0,1,1)12 on logs 2.90%, Holt-Winters (additive trend, multiplicative season) 2.21%"


def generated(kind: str, seed: int = 123) -> pd.Series:
    """144 monthly values with known structure."""
    t = np.arange(144)
    rng = np.random.default_rng(seed)
    season = np.sin(2 * np.pi * t / 12) + 0.5 * np.cos(4 * np.pi * t / 12)
    if kind == "multiplicative season, exponential trend":
        values = 200 * np.exp(0.008 * t + 0.15 * season + rng.normal(0, 0.03, 144))
    elif kind == "additive season, linear trend":
        values = 500 + 2.0 * t + 40 * season + rng.normal(0, 10, 144)
    elif kind == "damped trend, season growing":
        values = 1000 + 300 * (1 - np.exp(-t / 50)) + (20 + 0.4 * t) * season + rng.normal(0, 8, 144)
    else:
        raise ValueError(kind)
    return pd.Series(values, index=pd.date_range("2000-01", periods=144, freq="MS"), name="value")


def score(series: pd.Series, seeds=SEEDS, **options) -> dict:
    mape, seconds = [], []
    for seed in seeds:
        start = time.perf_counter()
        run = js.train_series(series, horizon=12, holdout=12, seed=seed, progress=False, **options)
        seconds.append(time.perf_counter() - start)
        overall = js.evaluate(run)["overall"]
        mape.append(overall.loc["jaxseries", "MAPE%"])
    return {"mape": np.array(mape), "seconds": float(np.median(seconds)),
            "naive": overall.loc["seasonal_naive", "MAPE%"], "persistence": overall.loc["naive", "MAPE%"]}


def row(name: str, result: dict) -> str:
    m = result["mape"]
    return (f"| {name} | {m.mean():.2f} ± {m.std():.2f} | {m.min():.2f}–{m.max():.2f} | {result['naive']:.2f} | "
            f"{result['persistence']:.2f} | {result['seconds']:.1f} |")


def main() -> str:
    warnings.filterwarnings("ignore")
    header = ("| series (12-month holdout, one forecast) | jaxseries MAPE% mean ± std (5 seeds) | range | "
              "seasonal naive | naive | train s (median) |\n|---|---|---|---|---|---|")
    lines = ["## Accuracy (defaults, no tuning)", "", header]
    airline = score(js.datasets.airline())
    lines.append(row("airline passengers (1960 held out)", airline))
    for kind in ("multiplicative season, exponential trend", "additive season, linear trend",
                 "damped trend, season growing"):
        lines.append(row(f"generated: {kind}", score(generated(kind))))
        print(lines[-1], file=sys.stderr)
    mean = airline["mape"].mean()
    lines += ["", f"Target (issue 3): the airline ARIMA's 2.90% mean MAPE, {verdict(mean, 2.90, at_least=False)}: "
              f"{mean:.2f} over 5 seeds; beating seasonal naive by a wide margin "
              f"{'✓' if mean < 0.5 * airline['naive'] else '✗'}.", "", REFERENCES, "",
              "### Effect of the options (airline, 5 seeds)", "", header]
    for name, options in [("the one recipe (default: log where positive, windows from their level, MAE)", {}),
                          ("no log (transform='none')", {"transform": "none"}),
                          ("strategy='recursive' (the seed's layout)", {"strategy": "recursive"}),
                          ("default + refit on train+validation", {"refit": True}),
                          ("default, ensemble of 5 seeds in one call (members=5)", {"members": 5})]:
        lines.append(row(name, score(js.datasets.airline(), **options)))
        print(lines[-1], file=sys.stderr)
    lines += ["", "### Choosing the transform without the holdout: 12-origin backtest on 1949-1959 (3 seeds)", "",
              "| transform | backtest MAPE% per seed | mean | seasonal naive |", "|---|---|---|---|"]
    for transform in ("none", "log"):
        results = [js.backtest(js.datasets.airline().iloc[:-12], horizon=12, folds=12, transform=transform, seed=seed,
                               level=None, progress=False).overall for seed in range(3)]
        mape = [r.loc["jaxseries", "MAPE%"] for r in results]
        lines.append(f"| {transform} | {', '.join(f'{m:.2f}' for m in mape)} | {np.mean(mape):.2f} | "
                     f"{results[0].loc['seasonal_naive', 'MAPE%']:.2f} |")
        print(lines[-1], file=sys.stderr)
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(main())
