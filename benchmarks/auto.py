"""`auto` against the fixed defaults and the classical models, in one run (issue 14).

Airline passengers and four generated monthly shapes (1960 / the last 12 months held out), 5 seeds each, beside
seasonal naive and statsforecast's AutoARIMA and AutoETS on the same split; then M3 monthly (global model, one
seed) with and without `auto`, scored on the test part.

    python benchmarks/auto.py            # needs the bench extra (statsforecast); prints a markdown section
"""

from __future__ import annotations

import sys
import time
import warnings

import numpy as np
import pandas as pd

import jaxseries as js

from accuracy import generated
from common import machine, verdict

SEEDS = range(5)
HORIZON = 12
ARIMA_AIRLINE = 2.90  # the yardstick: ARIMA(0,1,1)(0,1,1)12 on logs, 1960 held out
BEST_FEW = ("The best candidate alone against the mean of the best few (5 seeds, holdout MAPE%; the others trained as ordinary runs with the same seed): airline 2.09 / best two 2.37 / all three 2.52; additive trend 1.26 / 1.40 / 1.38; multiplicative 3.64 / 3.86 / 3.76; damped 0.69 / 0.68 / 0.70; noisy 8.88 / 10.15 / 10.89: the best alone wins on four of five and ties the fifth, so auto returns the best candidate (an ordinary run).")
GRID = ("The grid is the context length in seasons (2, the default, first; then 1 and 3); each candidate is a 3-seed "
        "ensemble backtested at 4 origins half a horizon apart, before the holdout (panels: each series' last horizon "
        "before the holdout, one model). Measured and left out (2026-11-28, 2 cores): log values as a second dimension "
        "made the backtest pick log on airline, and 1960 got worse (mean MAPE 4.37 over 5 seeds with 3-seed scoring, "
        "4.90 with one seed per candidate, against 2.09 for contexts alone): the backtest's small differences between "
        "transforms did not carry to the holdout. The decoder's linear-path rate (3 / 10 / 30, fixed contexts, 2 seeds, "
        "holdout MASE) moves the series in opposite directions (airline 0.607 / 0.347 / 0.306, multiplicative trend "
        "0.656 / 0.710 / 0.748, additive trend 0.397 / 0.405 / 0.430) and no rate brings the trending series within 10% "
        "of AutoETS: not in the grid. Not the default: auto costs about 6x the time of one training for a "
        "series (3 candidates x 3 seeds), 5x on M3 (over its 60 s budget), and ties the default where the default "
        "context wins the backtest; `auto=True` / `--auto` is opt-in. " + BEST_FEW)


def noisy(seed: int = 7) -> pd.Series:
    """A weak season under heavy noise: little for any model to find."""
    t = np.arange(144)
    rng = np.random.default_rng(seed)
    values = 300 + 10 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 25, 144)
    return pd.Series(values, index=pd.date_range("2000-01", periods=144, freq="MS"), name="value")


def classical(series: pd.Series) -> dict[str, np.ndarray]:
    """AutoARIMA and AutoETS (statsforecast, season 12) fitted on the rows before the holdout."""
    from statsforecast import StatsForecast
    from statsforecast.models import AutoARIMA, AutoETS

    frame = pd.DataFrame({"unique_id": "s", "ds": series.index[:-HORIZON], "y": series.to_numpy()[:-HORIZON]})
    out = StatsForecast(models=[AutoARIMA(season_length=12), AutoETS(season_length=12)], freq="MS").forecast(
        df=frame, h=HORIZON)
    return {"AutoARIMA": out["AutoARIMA"].to_numpy(), "AutoETS": out["AutoETS"].to_numpy()}


def score(series: pd.Series, name: str) -> tuple[list[str], dict]:
    """Rows of the table for one series: seasonal naive, AutoARIMA, AutoETS, default and auto (5 seeds)."""
    truth = series.to_numpy()[-HORIZON:]
    results, seconds, chosen = {"default": [], "auto": []}, {"default": [], "auto": []}, []
    for seed in SEEDS:
        for how in ("default", "auto"):
            start = time.perf_counter()
            run = js.train_series(series, horizon=HORIZON, holdout=HORIZON, seed=seed, auto=how == "auto",
                                  progress=False)
            seconds[how].append(time.perf_counter() - start)
            report = js.evaluate(run)["overall"]
            results[how].append((report.loc["jaxseries", "MAPE%"], report.loc["jaxseries", "MASE"]))
            if how == "auto":
                chosen.append(run.extra["auto"]["chosen"]["context"])
    scale = run.extra["panel_series"]["mase_scale"][0]
    naive = report.loc["seasonal_naive"]
    rows = [f"| {name} | seasonal naive | {naive['MAPE%']:.2f} | {naive['MASE']:.3f} | | |"]
    references = {"seasonal naive": naive["MASE"]}
    for model, values in classical(series).items():
        mase = np.mean(np.abs(values - truth)) / scale
        references[model] = mase
        rows.append(f"| {name} | {model} (statsforecast) | {100 * np.mean(np.abs(values - truth) / np.abs(truth)):.2f} "
                    f"| {mase:.3f} | | |")
    best_classical = min(references["AutoARIMA"], references["AutoETS"])
    for how in ("default", "auto"):
        mape, mase = np.array(results[how]).T
        note = f"contexts chosen {chosen}; " if how == "auto" else ""
        note += (f"vs seasonal naive {verdict(mase.mean(), naive['MASE'], at_least=False)}, within 10% of the best "
                 f"classical {verdict(mase.mean(), 1.1 * best_classical, at_least=False)}")
        rows.append(f"| {name} | jaxseries {how} (5 seeds) | {mape.mean():.2f} ± {mape.std():.2f} | "
                    f"{mase.mean():.3f} ± {mase.std():.3f} | {np.median(seconds[how]):.1f} | {note} |")
    return rows, {how: np.array(results[how])[:, 0].mean() for how in results}


def m3_rows() -> list[str]:
    train, test = js.datasets.m3("monthly")
    truth = test.set_index(["unique_id", "ds"]).y
    rows = []
    for how in ("default", "auto"):
        start = time.perf_counter()
        run = js.train_series(train, id="unique_id", time="ds", target="y", horizon=18, auto=how == "auto",
                              progress=False)
        predicted = js.forecast(run).set_index(["unique_id", "ds"]).forecast.reindex(truth.index)
        seconds = time.perf_counter() - start
        smape = (200 * (truth - predicted).abs() / (truth.abs() + predicted.abs())).groupby(level=0).mean().mean()
        note = ""
        if how == "auto":
            record = run.extra["auto"]
            note = "candidates (context: validation MASE): " + ", ".join(
                f"{c['context']}: {c['MASE']:.4f}" for c in record["candidates"]) + f"; chosen {record['chosen']['context']}"
        rows.append(f"| M3 monthly, global, seed 0 | jaxseries {how} | {smape:.2f} | | {seconds:.1f} | {note} |")
    return rows


def main() -> str:
    warnings.filterwarnings("ignore")
    lines = ["## Auto (issue 14): settings chosen by a backtest before the holdout", "",
             f"Machine: {machine()}.", "",
             "Each series' last 12 months held out (airline: 1960); jaxseries default and `auto=True`, 5 seeds each "
             "(mean ± std); the classical models fitted on the same rows. MASE divides by the in-sample seasonal-naive "
             "MAE. seconds: median per `train_series` call (auto includes its search).", "",
             "| series | method | MAPE% | MASE | seconds | note |", "|---|---|---|---|---|---|"]
    series = {"airline": js.datasets.airline(), **{kind: generated(kind) for kind in (
        "additive season, linear trend", "multiplicative season, exponential trend", "damped trend, season growing")},
        "noisy, weak season": noisy()}
    airline = None
    for name, values in series.items():
        rows, means = score(values, name)
        lines += rows
        airline = airline or means
        print("\n".join(rows), file=sys.stderr, flush=True)
    lines += ["", f"Airline target: auto mean MAPE ≤ {ARIMA_AIRLINE} (ARIMA): {airline['auto']:.2f} "
              f"{verdict(airline['auto'], ARIMA_AIRLINE, at_least=False)}.", "",
              "| panel | method | sMAPE | | seconds | note |", "|---|---|---|---|---|---|"]
    lines += m3_rows()
    lines += ["", GRID]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(main())
