"""Intervals and quantiles on M3 (issue 26; monthly unless `--period`): jaxseries' conformal intervals (defaults; one model and a
5-member ensemble) against statsforecast AutoETS's, fitted on the same training parts in the same run, scored on the
test parts: coverage and width of the 80% and 95% intervals, MSIS, and the quantile loss and scaled CRPS over the
deciles 0.1-0.9 (for AutoETS the bounds of its 20/40/60/80% intervals and its point forecast).

    python benchmarks/m3_intervals.py [--period monthly] [--validation] [--seeds 0,1]
                                      [--distributions none,quantiles,student_t]

`--distributions` adds runs that forecast a distribution (`distribution=`) beside the conformal ones (`none`).
`--validation` chooses without the test parts: each series' last h training rows are held out and scored instead
(series with at least 2h + 1 training rows, as `m3_validation.py`), AutoETS fitted on the rows before them.
"""

from __future__ import annotations

import os
import sys
import time

import pandas as pd

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import common  # noqa: E402
import jaxseries as js  # noqa: E402
from jaxseries import metrics  # noqa: E402
from m3 import PERIODS, in_sample_scale  # noqa: E402

HORIZON, SEASON, FREQ = PERIODS["monthly"]  # the period being run (main sets them)

LEVELS = (80, 95)
DECILE_LEVELS = (20, 40, 60, 80)  # their bounds are the deciles 0.1-0.4 and 0.6-0.9


def scores(test: pd.DataFrame, frame: pd.DataFrame, alias: str, scale: pd.Series) -> dict:
    merged = test.merge(frame, on=["unique_id", "ds"], how="left").sort_values(["unique_id", "ds"])
    column = lambda name: merged[name].to_numpy().reshape(-1, HORIZON)  # noqa: E731
    actual = column("y")
    scale = scale.loc[merged.unique_id.to_numpy()[::HORIZON]].to_numpy()
    out = metrics.errors(actual, column(alias), scale)[["sMAPE", "MASE"]].mean().to_dict()  # the point forecast's
    for level in LEVELS:
        row = metrics.interval_errors(actual, column(f"{alias}-lo-{level}"), column(f"{alias}-hi-{level}"),
                                      level / 100, scale).mean()
        out.update({f"coverage {level}%": row["coverage%"], f"MSIS {level}%": row["MSIS"]})
    quantiles = {q: column(f"{alias}-lo-{round(100 - 200 * q)}") for q in (0.1, 0.2, 0.3, 0.4)}
    quantiles[0.5] = column(alias)
    quantiles.update({q: column(f"{alias}-hi-{round(200 * q - 100)}") for q in (0.6, 0.7, 0.8, 0.9)})
    out.update(metrics.quantile_errors(actual, quantiles, scale).mean().to_dict())
    return out


def split(period: str, validation: bool) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(train, test): an M3 period's, or (`validation`) its training parts' rows before their last h and those h."""
    train, test = js.datasets.m3(period)
    if not validation:
        return train, test
    train = train[train.groupby("unique_id").y.transform("size") >= 2 * HORIZON + 1]
    last = train.groupby("unique_id").cumcount(ascending=False) < HORIZON
    return train[~last].reset_index(drop=True), train[last].reset_index(drop=True)


def main(argv=None) -> str:
    import argparse

    from statsforecast import StatsForecast
    from statsforecast.models import AutoETS

    parser = argparse.ArgumentParser()
    parser.add_argument("--period", default="monthly", choices=sorted(PERIODS))
    parser.add_argument("--validation", action="store_true")
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--distributions", default="none")
    args = parser.parse_args(argv)
    global HORIZON, SEASON, FREQ
    HORIZON, SEASON, FREQ = PERIODS[args.period]
    train, test = split(args.period, args.validation)
    scale = train.groupby("unique_id").y.apply(lambda s: in_sample_scale(s.to_numpy(), SEASON))
    levels = sorted(set(LEVELS) | set(DECILE_LEVELS))
    rows = {}
    runs = [(f"jaxseries, one model (seed {seed})" + ("" if d == "none" else f", distribution={d}"), 1, seed, d)
            for d in args.distributions.split(",") for seed in map(int, args.seeds.split(","))]
    if not args.validation:
        runs.append(("jaxseries, members=5", 5, 0, "none"))
    for name, members, seed, distribution in runs:
        start = time.perf_counter()
        run = js.train_series(train, id="unique_id", time="ds", target="y", horizon=HORIZON, members=members,
                              seed=seed, distribution=None if distribution == "none" else distribution,
                              progress=False)
        frame = js.forecast(run, level=levels)
        rows[name] = {**scores(test, frame, "jaxseries", scale), "seconds": time.perf_counter() - start}
        print(name, rows[name], flush=True)
    start = time.perf_counter()
    frame = StatsForecast(models=[AutoETS(season_length=SEASON)], freq=FREQ, n_jobs=1).forecast(
        df=train[["unique_id", "ds", "y"]], h=HORIZON, level=levels)
    frame = frame.reset_index(drop=frame.index.name != "unique_id")
    rows["AutoETS (statsforecast)"] = {**scores(test, frame, "AutoETS", scale), "seconds": time.perf_counter() - start}
    columns = ["sMAPE", "MASE"] + [f"coverage {level}%" for level in LEVELS] + [f"MSIS {level}%" for level in LEVELS] + ["QL", "sCRPS",
                                                                                                     "seconds"]
    part = f"Training parts, their last {HORIZON} rows held out" if args.validation else "Test parts"
    lines = [f"## Intervals and quantiles on M3 {args.period} (issue 26): jaxseries' intervals against AutoETS's, "
             "same run", "",
             f"Machine: {common.machine()}. {part} (horizon {HORIZON}); MSIS and sCRPS over each series' in-sample "
             "seasonal-naive MAE; QL and sCRPS over the deciles 0.1-0.9 (the bounds of the 20/40/60/80% intervals "
             "and the point forecast, for both).", "", "| method | " + " | ".join(columns) + " |",
             "|---|" + "---|" * len(columns)]
    for name, row in rows.items():
        lines.append(f"| {name} | " + " | ".join(f"{row[c]:.3f}" if "coverage" not in c and c != "seconds" else
                                                 f"{row[c]:.1f}" for c in columns) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(main(sys.argv[1:]))
