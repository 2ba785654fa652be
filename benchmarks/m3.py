"""M3 (monthly 1428 series, horizon 18; quarterly 756, 8; yearly 645, 6; other 174, 8): jaxseries beside
statsforecast and NeuralForecast, one run.

    python benchmarks/m3.py [--period monthly|quarterly|yearly|other|all] [--quick] [--no-neuralforecast]
                            [--combine theta+damped]   # the jaxseries runs with another partner than the default

Every method trains on each series' training part and is scored on the test part with the same code: sMAPE as in
M3 (200|y-f|/(|y|+|f|), mean over the horizon, then over series), MASE against each series' in-sample seasonal
naive (lag 12), MAPE. jaxseries runs with the CLI defaults (no tuning to the test part): three seeds, an ensemble of
five, and the local mode. Seconds are train + forecast on this machine.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings

import numpy as np
import pandas as pd

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import common  # noqa: E402
import jaxseries as js  # noqa: E402
from jaxseries.metrics import errors as panel_errors  # noqa: E402

PERIODS = {"monthly": (18, 12, "MS"), "quarterly": (8, 4, "QS"), "yearly": (6, 1, "YS"), "other": (8, 1, 1)}
HORIZON, SEASON, FREQ = PERIODS["monthly"]  # the period being run (main sets them)


def score(test: pd.DataFrame, forecast: pd.DataFrame, column: str, scale: pd.Series) -> dict:
    merged = test.merge(forecast, on=["unique_id", "ds"], how="left").sort_values(["unique_id", "ds"])
    coverage = {}
    if "lower" in merged:  # the share of test values inside the 80% interval
        coverage["coverage"] = float(np.mean((merged.lower <= merged.y) & (merged.y <= merged.upper)))
    if merged[column].isna().any():
        raise ValueError(f"{column}: forecasts missing for {merged[column].isna().sum()} test rows")
    ids = merged.unique_id.to_numpy().reshape(-1, HORIZON)[:, 0]
    errors = panel_errors(merged.y.to_numpy().reshape(-1, HORIZON), merged[column].to_numpy().reshape(-1, HORIZON),
                          scale.loc[ids].to_numpy())
    return {"sMAPE": errors["sMAPE"].mean(), "MASE": errors["MASE"].mean(), "MAPE%": errors["MAPE%"].mean(),
            "per_series_smape": errors["sMAPE"].to_numpy(), **coverage}


def statsforecast_rows(train, test, scale) -> dict:
    from statsforecast import StatsForecast
    from statsforecast.models import AutoETS, Naive, SeasonalNaive, Theta

    rows = {}
    for name, model in (("seasonal naive (statsforecast)", SeasonalNaive(season_length=SEASON)),
                        ("naive (statsforecast)", Naive()), ("Theta (statsforecast)", Theta(season_length=SEASON)),
                        ("AutoETS (statsforecast)", AutoETS(season_length=SEASON))):
        start = time.perf_counter()
        frame = StatsForecast(models=[model], freq=FREQ, n_jobs=1).forecast(df=train[["unique_id", "ds", "y"]],
                                                                             h=HORIZON)
        seconds = time.perf_counter() - start
        column = [c for c in frame.columns if c not in ("unique_id", "ds")][0]
        rows[name] = {**score(test, frame.reset_index(drop=frame.index.name != "unique_id"), column, scale),
                      "seconds": seconds}
        print(name, {k: v for k, v in rows[name].items() if k != "per_series_smape"}, flush=True)
    return rows


def neuralforecast_rows(train, test, scale) -> dict:
    import logging

    from neuralforecast import NeuralForecast
    from neuralforecast.models import LSTM, NHITS

    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
    rows = {}
    for name, model in (("NeuralForecast LSTM (input 2h)", LSTM(h=HORIZON, input_size=2 * HORIZON, max_steps=1000,
                                                               start_padding_enabled=True, enable_progress_bar=False,
                                                               logger=False)),
                        ("NeuralForecast NHITS (input 2h)", NHITS(h=HORIZON, input_size=2 * HORIZON, max_steps=1000,
                                                                 start_padding_enabled=True, enable_progress_bar=False,
                                                                 logger=False))):
        start = time.perf_counter()
        forecaster = NeuralForecast(models=[model], freq=FREQ)
        forecaster.fit(df=train[["unique_id", "ds", "y"]], val_size=HORIZON)
        frame = forecaster.predict().reset_index()
        seconds = time.perf_counter() - start
        column = [c for c in frame.columns if c not in ("unique_id", "ds", "index")][0]
        rows[name] = {**score(test, frame, column, scale), "seconds": seconds}
        print(name, {k: v for k, v in rows[name].items() if k != "per_series_smape"}, flush=True)
    return rows


def jaxseries_rows(train, test, scale, seeds, members: int, combine: str = "auto") -> dict:
    rows, per_seed = {}, []
    for seed in seeds:
        start = time.perf_counter()
        run = js.train_series(train, id="unique_id", time="ds", target="y", horizon=HORIZON, seed=seed,
                              combine=combine, progress=False)
        frame = js.forecast(run, level=0.8)  # the point forecast and its calibrated interval in one call
        seconds = time.perf_counter() - start
        result = {**score(test, frame, "forecast", scale), "seconds": seconds}
        per_seed.append(result)
        print(f"jaxseries global seed {seed}", {k: v for k, v in result.items() if k != "per_series_smape"},
              flush=True)
    mean = {k: float(np.mean([r[k] for r in per_seed])) for k in ("sMAPE", "MASE", "MAPE%", "seconds", "coverage")}
    spread = {k: float(np.std([r[k] for r in per_seed])) for k in ("sMAPE", "MASE")}
    partner = "" if combine == "auto" else f", combine={combine}"
    rows[f"jaxseries global{partner}, one model (mean of {len(seeds)} seeds)"] = {
        **mean, "per_series_smape": per_seed[0]["per_series_smape"], "note": f"sMAPE ± {spread['sMAPE']:.3f}, "
        f"MASE ± {spread['MASE']:.3f}; seeds: " + ", ".join(f"{r['sMAPE']:.2f}" for r in per_seed)}
    start = time.perf_counter()
    run = js.train_series(train, id="unique_id", time="ds", target="y", horizon=HORIZON, combine=None, progress=False)
    name = "jaxseries global, the network alone (combine=None, seed 0)"
    rows[name] = {**score(test, js.forecast(run), "forecast", scale), "seconds": time.perf_counter() - start}
    print(name, {k: v for k, v in rows[name].items() if k != "per_series_smape"}, flush=True)
    if members > 1:
        start = time.perf_counter()
        run = js.train_series(train, id="unique_id", time="ds", target="y", horizon=HORIZON, members=members,
                              combine=combine, progress=False)
        frame = js.forecast(run, level=0.8)
        rows[f"jaxseries global, members={members}"] = {**score(test, frame, "forecast", scale),
                                                       "seconds": time.perf_counter() - start}
        print("ensemble", {k: v for k, v in rows[f"jaxseries global, members={members}"].items()
                           if k != "per_series_smape"}, flush=True)
    return rows


def local_rows(train, test, scale, steps: int) -> dict:
    start = time.perf_counter()
    run = js.train_series(train, id="unique_id", time="ds", target="y", horizon=HORIZON, mode="local", steps=steps,
                          progress=False)
    frame = js.forecast(run)
    name = f"jaxseries local: one LSTM per series, one call (hidden 16, at most {steps} steps)"
    rows = {name: {**score(test, frame, "forecast", scale), "seconds": time.perf_counter() - start}}
    print(name, {k: v for k, v in rows[name].items() if k != "per_series_smape"}, flush=True)
    return rows


def in_sample_scale(values: np.ndarray, season: int) -> float:
    """MASE's denominator: the in-sample seasonal-naive MAE (lag 1 for a series no longer than a season)."""
    lag = season if len(values) > season else 1
    return float(np.mean(np.abs(values[lag:] - values[:-lag])))


def markdown(rows: dict, seasonal_naive: str) -> str:
    lines = ["| method | sMAPE | MASE | MAPE% | seconds | beats seasonal naive | 80% interval coverage | note |",
             "|---|---|---|---|---|---|---|---|"]
    reference = rows[seasonal_naive]["per_series_smape"]
    for name, row in sorted(rows.items(), key=lambda item: -item[1]["sMAPE"]):
        beats = np.mean(row["per_series_smape"] < reference)
        coverage = f"{row['coverage']:.1%}" if "coverage" in row else ""
        lines.append(f"| {name} | {row['sMAPE']:.2f} | {row['MASE']:.3f} | {row['MAPE%']:.2f} | {row['seconds']:.1f} "
                     f"| {beats:.0%} | {coverage} | {row.get('note', '')} |")
    return "\n".join(lines)


def main(argv=None) -> str:
    global HORIZON, SEASON, FREQ
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--period", default="monthly", choices=[*PERIODS, "all"])
    parser.add_argument("--quick", action="store_true", help="one seed, no ensemble")
    parser.add_argument("--no-neuralforecast", action="store_true")
    parser.add_argument("--no-local", action="store_true", help="leave out the local mode (one LSTM per series)")
    parser.add_argument("--local-steps", type=int, default=300, help="most steps of the local models (300)")
    parser.add_argument("--combine", default="auto", help="the jaxseries runs' partner (default: the library's)")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    sections = []
    for period in PERIODS if args.period == "all" else [args.period]:
        HORIZON, SEASON, FREQ = PERIODS[period]
        train, test = js.datasets.m3(period)
        scale = train.groupby("unique_id").y.apply(lambda s: in_sample_scale(s.to_numpy(), SEASON))
        rows = statsforecast_rows(train, test, scale)
        rows.update(jaxseries_rows(train, test, scale, [0] if args.quick else [0, 1, 2], 1 if args.quick else 5,
                                   args.combine))
        if not args.quick and not args.no_local:
            rows.update(local_rows(train, test, scale, args.local_steps))
        if not args.no_neuralforecast:
            try:
                rows.update(neuralforecast_rows(train, test, scale))
            except ImportError as error:  # the bench extra installs it; a bare environment still gets the rest
                print(f"NeuralForecast skipped: {error}")
        table = markdown(rows, "seasonal naive (statsforecast)")
        sections += [f"## M3 {period}: {train.unique_id.nunique()} series, horizon {HORIZON} "
                     f"(`python benchmarks/m3.py --period {period}`)", "", f"Machine: {common.machine()}.", "", table, ""]
    text = "\n".join(sections)
    print(text)
    return text


if __name__ == "__main__":
    main()
