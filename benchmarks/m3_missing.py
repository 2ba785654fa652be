"""What masking missing values costs (issue 26): M3 monthly with the defaults, trained on the full training parts,
on the same parts with 10% of their values removed at random, and with 10% removed in runs of 6 (a sensor down for
half a year), each scored on the untouched test parts (sMAPE / MASE, the scale from the full training part).

    python benchmarks/m3_missing.py [--seeds 0 1]

Removed values are NaN inside each series: never its first row (a later start would be trimmed instead) nor its
last (the forecast origin stays observed). statsforecast takes no NaN, so no peer runs beside it here.
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
from m3 import HORIZON, SEASON, in_sample_scale, score  # noqa: E402

SHARE, RUN = 0.10, 6


def removed(train: pd.DataFrame, runs_of: int, seed: int) -> pd.DataFrame:
    """The training parts with SHARE of each series' inner values set to NaN, in runs of `runs_of` rows."""
    rng = np.random.default_rng(seed)
    parts = []
    for _, series in train.groupby("unique_id", sort=False):
        y = series.y.to_numpy().copy()
        inner = len(y) - 2  # rows 1 .. n-2 may go
        starts = rng.permutation(np.arange(1, len(y) - runs_of))[: max(int(round(SHARE * inner / runs_of)), 1)]
        for start in starts:
            y[start : start + runs_of] = np.nan
        y[-1] = series.y.iloc[-1]
        parts.append(series.assign(y=y))
    return pd.concat(parts, ignore_index=True)


def main(argv=None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    args = parser.parse_args(argv)
    train, test = js.datasets.m3("monthly")
    scale = train.groupby("unique_id").y.apply(lambda s: in_sample_scale(s.to_numpy(), SEASON))
    variants = {"full training parts": lambda seed: train,
                "10% missing at random": lambda seed: removed(train, 1, seed),
                "10% missing in runs of 6": lambda seed: removed(train, RUN, seed)}
    lines = ["## Missing values masked (issue 26): M3 monthly, defaults, test parts", "",
             f"Machine: {common.machine()}. Each variant trains on the same training parts with values removed "
             "(NaN; never a series' first or last row), scored on the untouched test parts; the MASE scale is the "
             "full training part's. Seeds " + ", ".join(map(str, args.seeds)) + " (the removal's seed is the "
             "training seed).", "", "| training parts | sMAPE per seed | MASE per seed | missing values | seconds |",
             "|---|---|---|---|---|"]
    for name, make in variants.items():
        smapes, mases, seconds, missing = [], [], [], 0
        for seed in args.seeds:
            data = make(seed)
            missing = int(data.y.isna().sum())
            start = time.perf_counter()
            run = js.train_series(data, id="unique_id", time="ds", target="y", horizon=HORIZON, seed=seed,
                                  progress=False)
            frame = js.forecast(run).rename(columns={"forecast": "jaxseries"})
            seconds.append(time.perf_counter() - start)
            row = score(test, frame, "jaxseries", scale)
            smapes.append(row["sMAPE"])
            mases.append(row["MASE"])
        lines.append(f"| {name} | {', '.join(f'{v:.2f}' for v in smapes)} | {', '.join(f'{v:.3f}' for v in mases)} "
                     f"| {missing:,} of {len(train):,} | {np.median(seconds):.0f} |")
        print(lines[-1], flush=True)
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(main())
