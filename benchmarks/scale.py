"""A generated panel of 100,000 series x 240 points: a few hundred training steps, peak memory, windows per second.

    python benchmarks/scale.py [--series N] [--length T] [--steps K]

The windows are cut on the device from the padded panel (never materialized): memory grows with the points.
Peak memory is the process's maximum resident set size, as the kernel reports it.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time

import numpy as np
import pandas as pd

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import common  # noqa: E402
import jaxseries as js  # noqa: E402


def generated_panel(series: int, length: int, seed: int = 0) -> pd.DataFrame:
    """Positive series with their own level, trend, season and noise, in the long format (integer steps)."""
    rng = np.random.default_rng(seed)
    t = np.arange(length)
    level = rng.uniform(1, 3, (series, 1))
    trend = rng.normal(0, 0.002, (series, 1)) * t
    season = rng.uniform(0, 0.3, (series, 1)) * np.sin(2 * np.pi * (t + rng.integers(0, 12, (series, 1))) / 12)
    y = np.exp(level + trend + season + 0.05 * rng.standard_normal((series, length))).astype(np.float32)
    return pd.DataFrame({"unique_id": np.repeat(np.arange(series), length), "step": np.tile(t, series),
                         "y": y.reshape(-1)})


def main(argv=None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=100_000)
    parser.add_argument("--length", type=int, default=240)
    parser.add_argument("--steps", type=int, default=300)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    frame = generated_panel(args.series, args.length)
    built = time.perf_counter() - start
    seconds = []
    for steps in (args.steps, 2 * args.steps):  # the difference is the cost of `steps` training steps alone
        start = time.perf_counter()
        run = js.train_series(frame, id="unique_id", time="step", target="y", horizon=18, season=12, steps=steps,
                              patience=None, eval_every=args.steps, progress=False)
        seconds.append(time.perf_counter() - start)
    peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    windows = args.steps * run.train_config.batch_size
    rate = windows / max(seconds[1] - seconds[0], 1e-9)
    text = "\n".join([
        f"## Scale: {args.series:,} series x {args.length} points (`python benchmarks/scale.py`)", "",
        f"Machine: {common.machine()}.", "",
        f"- generating the panel: {built:.1f} s; `train_series` with {args.steps} steps of batch "
        f"{run.train_config.batch_size} (checks, scaling, device arrays, compiling, one evaluation on every "
        f"series' validation window): {seconds[0]:.1f} s; with {2 * args.steps} steps: {seconds[1]:.1f} s",
        f"- training alone (the difference): {rate:,.0f} windows per second",
        f"- peak resident memory of the process: {peak_gib:.2f} GiB", ""])
    print(text)
    return text


if __name__ == "__main__":
    main()
