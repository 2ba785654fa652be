"""Shared by the benchmarks: the machine and library versions, for the record."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import time


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine() -> str:
    versions = []
    for package in ("jax", "jaxlib", "flax", "optax", "orbax-checkpoint", "numpy", "torch"):
        try:
            versions.append(f"{package} {importlib.metadata.version(package)}")
        except importlib.metadata.PackageNotFoundError:
            pass
    return (f"{os.cpu_count()} cores, {cpu_model()}, Python {platform.python_version()}, "
            f"{platform.system()} {platform.machine()}; " + ", ".join(versions))


def verdict(value: float, target: float, at_least: bool = True) -> str:
    """✓ when `value` meets `target` (>= or <=), else ✗ with the shortfall relative to the target."""
    met = value >= target if at_least else value <= target
    shortfall = abs(value / target - 1)
    return "✓" if met else f"✗ ({'short' if at_least else 'over'} by {shortfall:.{0 if shortfall >= 0.01 else 1}%})"


def best_of(fn, repeats: int) -> float:
    """The shortest of `repeats` timed calls of fn, after one untimed warm-up call (compiling, plans)."""
    return min(alternated({"fn": fn}, repeats)["fn"])


def alternated(fns: dict, repeats: int) -> dict:
    """{name: [seconds of each round]}: one untimed warm-up call of each fn, then `repeats` rounds timing each once
    in turn, so a busy moment on a shared machine slows both sides of a ratio, not one."""
    for fn in fns.values():
        fn()
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return times


def with_panel(run, **changes):
    """The run with some of its panel settings changed (`combine=None`: the network alone; `partner_share=s`: mixed
    at share s), the run itself untouched: forecasting reads them, training is done."""
    import dataclasses

    return dataclasses.replace(run, extra={**run.extra, "panel": {**run.extra["panel"], **changes}})


def halves(runs: list) -> tuple:
    """(defaults, network, partner, share) of trained runs' forecasts, each averaged over the runs in log units:
    the defaults' forecast, the network alone (the same runs forecast with `combine` None: training ignores it),
    the partner (what the defaults' mean leaves of it: positive series, mixed in log units) and its share."""
    import numpy as np

    import jaxseries as js

    def logs(group):
        return np.mean([np.log(js.forecast(run)["forecast"].to_numpy()) for run in group], 0)

    unmixed = [with_panel(run, combine=None) for run in runs]
    share = runs[0].extra["panel"]["partner_share"]
    mixed, network = logs(runs), logs(unmixed)
    return np.exp(mixed), np.exp(network), np.exp((mixed - (1 - share) * network) / share), share


def add_option_argument(parser) -> None:
    """`--option key=value` (repeatable; the value JSON), read back as `dict(args.option)`: options passed to every
    train_series call of a benchmark."""
    import json

    def pair(text: str) -> tuple:
        key, value = text.split("=", 1)
        return key, json.loads(value)

    parser.add_argument("--option", action="append", default=[], type=pair,
                        help="key=value (JSON value), passed to train_series")


def run_options(options: dict, horizon: int, season: int, rows: int | None = None) -> dict:
    """`options` for one train_series call, with two benchmark-only options (levers measured, not adopted) made
    concrete: `context_factor=k`, the default context (two seasons, at least the horizon; two horizons without a
    season) times k; `validation_factor=k`, k horizons of validation rows, at most half of a series' `rows` (its
    rows before the scored ones) beyond one horizon, so as many are left to train on."""
    options = dict(options)
    if factor := options.pop("context_factor", None):
        options["context"] = round(factor * (max(2 * season, horizon) if season > 1 else 2 * horizon))
    if factor := options.pop("validation_factor", None):
        room = (rows - horizon) // 2 if rows else factor * horizon
        options["validation"] = max(horizon, min(factor * horizon, room))
    return options


def share_of(label, own: float) -> float:
    """A partner share to mix at: a number as it is, or "≥f", the run's `own` share raised to at least f."""
    return max(own, float(label[1:])) if isinstance(label, str) else label


def at_share(network, partner, share: float):
    """The mean of the two halves at the partner's `share`, in log units."""
    import numpy as np

    return np.exp((1 - share) * np.log(network) + share * np.log(partner))
