"""A classical partner's strength, measured offline on the training parts (issue 24): each M3 panel's network-alone
forecast (`combine=None`) mixed in log units with statsforecast's Theta variants fitted on the same training rows,
beside the default (the network with our Theta, whose forecast is recovered from the default's even mean). The
split is m3_validation.py's: each series' last h training rows held out; the test parts are never read.

    python benchmarks/partners.py [--periods quarterly,yearly,other,monthly] [--seeds 0,1]   # needs the bench extra
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import m3_validation as mv  # noqa: E402


def main(argv=None) -> None:
    from statsforecast.models import DynamicOptimizedTheta, DynamicTheta, OptimizedTheta, Theta

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--periods", default="quarterly,yearly,other,monthly")
    parser.add_argument("--seeds", default="0,1")
    args = parser.parse_args(argv)
    for period in args.periods.split(","):
        frame = mv.validation_split(period)
        horizon, season = mv.HORIZONS[period], mv.SEASONS[period]
        _, history, actual = mv.split_arrays(frame, horizon)
        score = lambda forecast: "%.2f / %.3f" % mv.scores(actual, forecast, history, season)  # noqa: E731
        kinds = (Theta, OptimizedTheta, DynamicTheta, DynamicOptimizedTheta)
        peers = mv.statsforecast_scores(frame, period, models=[(k.__name__, k(season_length=season)) for k in kinds])
        for name, forecast in peers.items():
            print(f"{period} {name} alone: {score(forecast)}", flush=True)
        for seed in [int(s) for s in args.seeds.split(",")]:
            network = mv.jaxseries_panel(frame, period, {"seed": seed, "combine": None})
            default = mv.jaxseries_panel(frame, period, {"seed": seed})
            ours = default**2 / network  # the default is the even mean in log units of the network and our Theta
            print(f"{period} seed {seed}: network alone {score(network)}, default {score(default)}, our Theta alone "
                  f"{score(ours)}", flush=True)
            for name, forecast in peers.items():
                peer = np.clip(forecast, 1e-9, None)
                print(f"    with {name}: {score(np.sqrt(network * peer))}; thirds (network, ours, {name}) "
                      f"{score(np.cbrt(network * ours * peer))}; with the mean of ours and {name} "
                      f"{score(np.sqrt(network * np.sqrt(ours * peer)))}", flush=True)


if __name__ == "__main__":
    main()
