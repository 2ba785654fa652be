"""How the network's and the partner's forecasts should be mixed, measured offline on training parts.

    python benchmarks/m3_validation.py --parts DIR --origin K --seeds 0,1   (for K = 1, 2, 3)
    python benchmarks/shares.py DIR

Reads the halves `--parts` saved (each panel run's network-alone and partner-alone forecasts) and mixes them in
log units, as `theta.mix` does in model units. For each period, mean over the runs: the even mean (the default),
each half alone, the best constant share, and the best share that moves linearly over the horizon (from its first
step's to its last's: does the partner earn more of the first steps?); then the one schedule best for all periods
together, relative to the even mean; last, per run, whether the validation rows before the scored ones (where the
network was early-stopped) tell the share the scored rows want.
"""

from __future__ import annotations

import glob
import os
import sys

import numpy as np

from jaxseries.metrics import errors

GRID = np.round(np.arange(0, 1.01, 0.1), 2)


def scores(forecast: np.ndarray, actual: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """(sMAPE, MASE), means over series (MASE over those whose history moved)."""
    return errors(actual, forecast, np.where(scale > 0, scale, np.nan))[["sMAPE", "MASE"]].mean().to_numpy()


def mixed(network: np.ndarray, partner: np.ndarray, share) -> np.ndarray:
    """The partner's `share` (a number, or one per step) of the mean in log units."""
    return np.exp((1 - share) * np.log(np.maximum(network, 1e-9)) + share * np.log(np.maximum(partner, 1e-9)))


def schedules(run: dict) -> dict:
    """{(first, last): scores of the scored rows} for every linear schedule of the partner's share on the grid."""
    ramp = np.linspace(0, 1, run["actual"].shape[1])
    return {(a, b): scores(mixed(run["network"], run["partner"], a + (b - a) * ramp), run["actual"], run["scale"])
            for a in GRID for b in GRID}


def main(folder: str) -> None:
    runs = {os.path.basename(path)[:-4]: dict(np.load(path)) for path in sorted(glob.glob(f"{folder}/*.npz"))}
    tables = {name: schedules(run) for name, run in runs.items()}
    periods = sorted({name.split("_")[0] for name in runs})
    fmt = lambda pair: "%.3f / %.4f" % tuple(pair)  # noqa: E731
    relative = {}
    for period in periods:
        names = [name for name in runs if name.startswith(period + "_")]
        mean = {key: np.mean([tables[name][key] for name in names], 0) for key in tables[names[0]]}
        constant = min(GRID, key=lambda w: mean[(w, w)][0])
        ramp = min(mean, key=lambda key: mean[key][0])
        print(f"{period} ({len(names)} runs), sMAPE / MASE: even {fmt(mean[0.5, 0.5])}, network alone "
              f"{fmt(mean[0.0, 0.0])}, partner alone {fmt(mean[1.0, 1.0])}, best constant share {constant} "
              f"{fmt(mean[constant, constant])}, best ramp {ramp[0]} -> {ramp[1]} {fmt(mean[ramp])}")
        for key in mean:
            relative.setdefault(key, []).append(np.mean([tables[n][key] / tables[n][0.5, 0.5] for n in names], 0))
    print("one schedule for every period (sMAPE and MASE over the even mean's, per period):")
    for key in sorted(relative, key=lambda k: np.mean(relative[k]))[:5]:
        print(f"  {key[0]} -> {key[1]}: " + ", ".join(f"{p} {r[0]:.4f} / {r[1]:.4f}"
                                                    for p, r in zip(periods, relative[key])))
    print("per run: the validation rows' network / partner sMAPE ratio, and the scored rows' best share:")
    for name, run in runs.items():
        inner = [scores(run["inner_" + half], run["inner_actual"], run["inner_scale"])[0]
                 for half in ("network", "partner")]
        outer = [scores(mixed(run["network"], run["partner"], w), run["actual"], run["scale"])[0] for w in GRID]
        print(f"  {name}: validation ratio {inner[0] / inner[1]:.3f}, best share of the scored rows "
              f"{GRID[int(np.argmin(outer))]}")


if __name__ == "__main__":
    main(sys.argv[1])
