"""How alike ensemble members are (issue 24's ensemble target), on a panel's training parts: members that differ in
seed, in the series they train on (bagging), or in how they are built (options of train_series).

    python benchmarks/members.py [--period monthly] [--origin 1] [--count 5]   # ~12 min for M3 monthly, 2 cores

`m3_validation.py`'s split (each series' last h training rows scored, never the test parts). For each kind of
ensemble: every member's network-alone sMAPE, the members' mean forecast (in log) alone and mixed with the default
run's partner at its share, and how far a member sits from that mean against its error (mean |log|), the measure of
how much an ensemble can gain. Bagged members train on a random 70% of the series and forecast every series, so the
series they never saw are scored apart.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import common  # noqa: E402
import m3_validation as validation  # noqa: E402
import jaxseries as js  # noqa: E402
from jaxseries.metrics import errors  # noqa: E402

# Members built differently: options that change the network or what it reads (one each beside the default).
KINDS = {"two layers of 32": {"hidden_dim": 32, "num_layers": 2}, "no deseasonalizing": {"deseasonalize": False},
         "no smoothed level": {"smoothed_level": False}, "no calendar features": {"calendar": False},
         "MSE": {"loss": "mse"}}
BAG = 0.7  # the share of series a bagged member trains on


def network_alone(run, data=None) -> np.ndarray:
    """[S, h] the run's network forecast without its partner (series in id order, as a panel holds them)."""
    forecast = js.forecast(common.with_panel(run, combine=None), data=data)
    return forecast["forecast"].to_numpy().reshape(forecast.unique_id.nunique(), -1)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--period", default="monthly")
    parser.add_argument("--origin", type=int, default=1)
    parser.add_argument("--count", type=int, default=5, help="members of the seed and the bagged ensembles")
    args = parser.parse_args(argv)
    horizon, season = validation.HORIZONS[args.period], validation.SEASONS[args.period]
    frame = validation.validation_split(args.period, args.origin)
    _, history, actual = validation.split_arrays(frame, horizon)
    scale = validation.denominators(history, season)
    smape = lambda forecast: errors(actual, forecast, scale)["sMAPE"].to_numpy()  # noqa: E731
    options = dict(id="unique_id", time="ds", target="y", horizon=horizon, holdout=horizon, progress=False)
    print(common.machine(), f"{args.period}, origin {args.origin}", flush=True)

    default = js.train_series(frame, seed=0, **options)
    _, _, partner, share = common.halves([default])
    partner = partner.reshape(len(actual), horizon)

    def report(kind: str, members: list) -> None:
        logs = np.log(np.array(members))
        mean = np.exp(logs.mean(0))
        apart, error = (np.abs(logs - np.log(to)).mean() for to in (mean, np.maximum(actual, 1e-9)))
        correlations = np.corrcoef((logs - np.log(np.maximum(actual, 1e-9))).reshape(len(members), -1))
        alike = correlations[np.triu_indices(len(members), 1)]
        print(f"{kind}: members alone " + ", ".join(f"{smape(m).mean():.2f}" for m in members)
              + f"; their mean {smape(mean).mean():.2f}, mixed at share {share:.2f} "
              f"{smape(common.at_share(mean, partner, share)).mean():.2f}; a member {100 * apart:.1f}% from the "
              f"mean, {100 * error:.1f}% from the truth (mean |log|); their log errors correlate "
              f"{alike.min():.3f}-{alike.max():.3f}", flush=True)

    runs = [default] + [js.train_series(frame, seed=s, **options) for s in range(1, args.count)]
    seeds = [network_alone(run) for run in runs]
    print("  seeds' best steps: " + ", ".join(str(int(run.best_step)) for run in runs), flush=True)
    report("seeds", seeds)
    ids = np.array(sorted(frame.unique_id.unique()))
    known, bagged = validation.without_last(frame, horizon), []
    for member in range(args.count):
        subset = np.random.default_rng(100 + member).choice(ids, int(BAG * len(ids)), replace=False)
        run = js.train_series(frame[frame.unique_id.isin(subset)], seed=member, **options)
        bagged.append(network_alone(run, data=known))
        seen = np.isin(ids, subset)
        print(f"  bagged member {member}: series it trained on {smape(bagged[-1])[seen].mean():.2f}, series it never "
              f"saw {smape(bagged[-1])[~seen].mean():.2f}", flush=True)
    report("bagged", bagged)
    built = [seeds[0]] + [network_alone(js.train_series(frame, seed=0, **options, **extra)) for extra in KINDS.values()]
    report("built differently (default, " + ", ".join(KINDS) + ")", built)


if __name__ == "__main__":
    main()
