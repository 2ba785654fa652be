"""One forecaster for one series and for panels: accuracy and speed of the defaults, every input form the same code.

    python benchmarks/one_forecaster.py            # prints a markdown section (about 4 minutes on 2 cores)

- airline passengers, 1960 held out, 5 seeds: MAPE, and seconds per `train_series` + `forecast` in a warm process;
- the generated monthly series of `accuracy.py`, 5 seeds;
- M3 monthly through the CLI (`jaxseries train ... --id unique_id --holdout 18`), seed 0: test sMAPE / MASE and the
  command's wall time, in a fresh process as a user runs it.
Figures of the 0.1 recipes and the choice between them (training parts only) are recorded in RESULTS.md.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np
import pandas as pd

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import jaxseries as js  # noqa: E402
from accuracy import generated  # noqa: E402
from common import machine, verdict  # noqa: E402

SEEDS = range(5)


def single(series: pd.Series, **options) -> tuple[np.ndarray, np.ndarray, float]:
    """MAPE% and MASE over seeds on the last 12 rows, and the median seconds of train + forecast (after one warm-up
    call)."""
    js.forecast(js.train_series(series, horizon=12, holdout=12, steps=20, progress=False, **options))  # compile once
    mape, mase, seconds = [], [], []
    for seed in SEEDS:
        start = time.perf_counter()
        run = js.train_series(series, horizon=12, holdout=12, seed=seed, progress=False, **options)
        js.forecast(run)
        seconds.append(time.perf_counter() - start)
        overall = js.evaluate(run)["overall"]
        mape.append(overall.loc["jaxseries", "MAPE%"]), mase.append(overall.loc["jaxseries", "MASE"])
    return np.array(mape), np.array(mase), float(np.median(seconds))


def peers(series: pd.Series) -> dict:
    """statsforecast's AutoETS and AutoARIMA on the same rows: {name: (MAPE%, MASE)} (empty without the bench extra)."""
    try:
        from statsforecast import StatsForecast
        from statsforecast.models import AutoARIMA, AutoETS
    except ImportError:
        return {}
    history, truth = series.to_numpy()[:-12], series.to_numpy()[-12:]
    frame = pd.DataFrame({"unique_id": "s", "ds": series.index[:-12], "y": history})
    fitted = StatsForecast(models=[AutoETS(season_length=12), AutoARIMA(season_length=12)], freq="MS",
                           n_jobs=1).forecast(df=frame, h=12)
    scale = np.mean(np.abs(history[12:] - history[:-12]))
    return {name: (100 * np.mean(np.abs(fitted[name].to_numpy() - truth) / truth),
                   np.mean(np.abs(fitted[name].to_numpy() - truth)) / scale) for name in ("AutoETS", "AutoARIMA")}


def m3_cli() -> tuple[float, float, float]:
    """(sMAPE, MASE, seconds) of the CLI on M3 monthly's training + test parts, the test part as the holdout."""
    train, test = js.datasets.m3("monthly")
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "m3.csv")
        pd.concat([train, test]).sort_values(["unique_id", "ds"]).to_csv(path, index=False)
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "jaxseries", "train", path, "--id", "unique_id", "--time", "ds",
                        "--target", "y", "--horizon", "18", "--holdout", "18", "--out", os.path.join(folder, "run"),
                        "--no-progress"], check=True, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        overall = js.evaluate(js.load(os.path.join(folder, "run")))["overall"]
    return float(overall.loc["jaxseries", "sMAPE"]), float(overall.loc["jaxseries", "MASE"]), seconds


def main() -> str:
    warnings.filterwarnings("ignore")
    lines = ["## One forecaster: defaults on one series and on a panel", "", f"Machine: {machine()}.", "",
             "| data (MAPE% / MASE) | jaxseries (5 seeds) | MAPE range | the network alone (combine=None) | AutoETS "
             "| AutoARIMA | seasonal naive | seconds (train + forecast, median) |", "|---|---|---|---|---|---|---|---|"]
    cases = [("airline, 1960 held out", js.datasets.airline())] + [
        (f"generated: {kind}", generated(kind)) for kind in ("multiplicative season, exponential trend",
                                                              "additive season, linear trend",
                                                              "damped trend, season growing")]
    for name, series in cases:
        mape, mase, seconds = single(series)
        alone_mape, alone_mase, _ = single(series, combine=None)
        base = js.evaluate(js.train_series(series, horizon=12, holdout=12, steps=20, progress=False))["overall"]
        others = peers(series)
        cells = [f"{others[p][0]:.2f} / {others[p][1]:.3f}" if p in others else "" for p in ("AutoETS", "AutoARIMA")]
        lines.append(f"| {name} | {mape.mean():.2f} ± {mape.std():.2f} / {mase.mean():.3f} | "
                     f"{mape.min():.2f}–{mape.max():.2f} | {alone_mape.mean():.2f} / {alone_mase.mean():.3f} | "
                     f"{cells[0]} | {cells[1]} | {base.loc['seasonal_naive', 'MAPE%']:.2f} / "
                     f"{base.loc['seasonal_naive', 'MASE']:.3f} | {seconds:.2f} |")
        print(lines[-1], file=sys.stderr)
        if name.startswith("airline"):
            airline, airline_seconds = mape, seconds
    smape, mase, seconds = m3_cli()
    lines.append(f"| M3 monthly, 1428 series, CLI, seed 0 (sMAPE / MASE) | {smape:.2f} / {mase:.3f} | | | | | "
                 f"17.23 / 1.146 | {seconds:.1f} (the whole command) |")
    lines += ["", f"Targets (issue: one forecaster): airline mean ≤ 2.74% (the 0.1 single path's) "
              f"{verdict(airline.mean(), 2.74, at_least=False)}; M3 monthly sMAPE ≤ 14.03 "
              f"{verdict(smape, 14.03, at_least=False)}; a single series no slower than 0.1's (~2 s) "
              f"{verdict(airline_seconds, 2.0, at_least=False)}; M3 through the CLI within 41 s "
              f"{verdict(seconds, 41.0, at_least=False)}."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(main())
