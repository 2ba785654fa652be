"""The horizon decoder (issue 11): do covariates move the forecast, and is accuracy elsewhere kept?

Covariates: generated daily series (weekly season, noise std 3 or 1) whose driver has a strong effect: a promotion
flag known in advance (+30 on 15% of days), a price known in advance (-6 per unit), and a past driver that leads
sales by three days. Each is scored with and without the covariate by a 40-origin backtest (stride 2, horizon 14,
one model fitted before the first origin), MAE in sales units beside seasonal naive.
Elsewhere: the pre-holdout backtest that chose the defaults (airline 1949-1959, 12 origins, 3 seeds) and the
generated monthly series of `accuracy.py` (same backtest, 3 seeds), then the airline 1960 holdout (5 seeds).

    python benchmarks/decoder.py [--source DIR]     # DIR: another checkout's root, to measure the tree before
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings

import numpy as np
import pandas as pd

HERE = os.path.dirname(os.path.abspath(__file__))


def daily(values: dict, n: int) -> pd.DataFrame:
    return pd.DataFrame(values, index=pd.date_range("2024-01-01", periods=n, freq="D"))


def promotion(n=420, seed=0):
    rng = np.random.default_rng(seed)
    t, promo = np.arange(n), (rng.uniform(size=n) < 0.15).astype(float)
    sales = 100 + 10 * np.sin(2 * np.pi * t / 7) + 5 * np.cos(4 * np.pi * t / 7) + 30 * promo + rng.normal(0, 3, n)
    return daily({"sales": sales, "promo": promo}, n)


def price(n=420, seed=1):
    rng = np.random.default_rng(seed)
    t, price = np.arange(n), rng.uniform(8, 12, n)
    return daily({"sales": 100 + 10 * np.sin(2 * np.pi * t / 7) - 6 * (price - 10) + rng.normal(0, 3, n),
                  "price": price}, n)


def leading(n=420, seed=2):
    rng = np.random.default_rng(seed)
    t, driver = np.arange(n), rng.normal(0, 1, n)
    return daily({"sales": 100 + 10 * np.sin(2 * np.pi * t / 7) + 10 * np.roll(driver, 3) + rng.normal(0, 1, n),
                  "driver": driver}, n)


def covariate_backtest(js, frame, **options):
    result = js.backtest(frame, target="sales", horizon=14, folds=40, stride=2, level=None, progress=False, **options)
    table = result.forecasts
    error = (table["actual"] - table["forecast"]).abs()
    naive = (table["actual"] - table["seasonal_naive"]).abs()
    first = table["step"] <= 3
    return error.mean(), naive.mean(), error[first].mean(), naive[first].mean()


def main(source: str | None) -> str:
    if source:
        sys.path.insert(0, source)
    sys.path.insert(1, HERE)
    warnings.filterwarnings("ignore")
    import jaxseries as js
    from accuracy import generated

    lines = [f"jaxseries from {os.path.dirname(os.path.dirname(js.__file__))}", "",
             "| series (noise MAE) | covariate | MAE with | MAE without | seasonal naive | steps 1-3 with | without | naive |",
             "|---|---|---|---|---|---|---|---|"]
    for name, frame, option, noise in [("promotion, known ahead", promotion(), "future_covariates", 2.4),
                                       ("price, known ahead", price(), "future_covariates", 2.4),
                                       ("driver leading by 3 days, past", leading(), "covariates", 0.8)]:
        column = frame.columns[1]
        with_, naive, first_with, first_naive = covariate_backtest(js, frame, **{option: [column]})
        without, _, first_without, _ = covariate_backtest(js, frame)
        lines.append(f"| {name} ({noise}) | `{option}=['{column}']` | {with_:.2f} | {without:.2f} | {naive:.2f} | "
                     f"{first_with:.2f} | {first_without:.2f} | {first_naive:.2f} |")
        print(lines[-1], file=sys.stderr, flush=True)
    lines += ["", "| pre-holdout backtest, 12 origins, MAPE% | seed 0 | seed 1 | seed 2 | mean | seasonal naive |",
              "|---|---|---|---|---|---|"]
    series = {"airline 1949-1959": js.datasets.airline().iloc[:-12],
              **{f"generated: {kind}": generated(kind).iloc[:-12] for kind in (
                  "multiplicative season, exponential trend", "additive season, linear trend",
                  "damped trend, season growing")}}
    for name, values in series.items():
        results = [js.backtest(values, horizon=12, folds=12, seed=seed, level=None, progress=False).overall
                   for seed in range(3)]
        mape = [r.loc["jaxseries", "MAPE%"] for r in results]
        lines.append(f"| {name} | {' | '.join(f'{m:.2f}' for m in mape)} | {np.mean(mape):.2f} | "
                     f"{results[0].loc['seasonal_naive', 'MAPE%']:.2f} |")
        print(lines[-1], file=sys.stderr, flush=True)
    holdout = [js.evaluate(js.train_series(js.datasets.airline(), horizon=12, holdout=12, seed=seed, progress=False))
               ["overall"].loc["jaxseries", "MAPE%"] for seed in range(5)]
    lines += ["", f"Airline 1960 holdout, 5 seeds: MAPE% {np.mean(holdout):.2f} ± {np.std(holdout):.2f} "
              f"({', '.join(f'{m:.2f}' for m in holdout)})"]
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", help="root of another checkout whose jaxseries to measure")
    print(main(parser.parse_args().source))
