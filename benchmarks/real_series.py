"""Real single series that ship with statsmodels (bench extra), one at a time with the defaults; statsforecast's
AutoETS, AutoARIMA and seasonal naive on the same rows in the same run.

    python benchmarks/real_series.py [--seeds 0,1] [--origin K] [--repository] [--member AutoARIMA]
                                     [--option key=value ...]   # ~75 s, 2 cores

Series: Mauna Loa CO2 (weekly, as monthly means), El Nino sea surface temperatures (monthly), eight US macro series
(quarterly: real GDP, consumption, investment, government spending, disposable income, CPI, M1, unemployment) and
the Nile's yearly flow (`--repository`: the repository's own four instead, airline and the three generated series
of `accuracy.py`). Each series' last h rows are never read (a held-back judge may score them); the h rows
before them are the holdout scored here (`--origin K`: the K-th h rows before them, an earlier origin, since one
origin's noise is larger than the seed spread), so choices made on this benchmark are made on training parts. Prints one
line per series (MASE: the network alone, the defaults, the peers; the defaults' MASE at other partner shares,
mixed offline in log units from the same runs) and the geometric means over series against the better of AutoETS
and AutoARIMA. `--member P`: also the defaults with the peer P's forecast a quarter of the partner (offline, in log
units): would it earn a place there? `--option` (JSON values) is passed to every train_series call, with
`common.run_options`' benchmark-only `context_factor` and `validation_factor`.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings

import numpy as np
import pandas as pd

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import common  # noqa: E402
import jaxseries as js  # noqa: E402
from jaxseries.metrics import errors  # noqa: E402

SHARES = (0.3, 0.5, 0.7, 0.85, 1.0, "≥0.7", "≥0.85")  # "≥f": the defaults' own share raised to at least f


def series() -> dict:
    """{name: (series, horizon, season)}."""
    from statsmodels import datasets

    co2 = datasets.co2.load_pandas().data["co2"].resample("MS").mean().interpolate()
    sst = datasets.elnino.load_pandas().data.set_index("YEAR").stack().to_numpy()
    out = {"co2 (monthly)": (co2, 12, 12),
           "El Nino SST (monthly)": (pd.Series(sst, pd.date_range("1950-01", periods=len(sst), freq="MS")), 12, 12)}
    macro = datasets.macrodata.load_pandas().data
    quarters = pd.date_range("1959-01", periods=len(macro), freq="QS")
    for column in ("realgdp", "realcons", "realinv", "realgovt", "realdpi", "cpi", "m1", "unemp"):
        out[f"US {column} (quarterly)"] = (pd.Series(macro[column].to_numpy(), quarters), 8, 4)
    nile = datasets.nile.load_pandas().data
    years = pd.date_range("1871", periods=len(nile), freq="YS")
    out["Nile (yearly)"] = (pd.Series(nile.volume.to_numpy(), years), 6, 1)
    return out


def repository() -> dict:
    """The repository's airline and generated series: {name: (series, 12, 12)}."""
    from accuracy import generated

    kinds = ("multiplicative season, exponential trend", "additive season, linear trend",
             "damped trend, season growing")
    return {"airline": (js.datasets.airline(), 12, 12), **{kind: (generated(kind), 12, 12) for kind in kinds}}


def known_rows(full: pd.Series, horizon: int, origin: int) -> pd.Series:
    """The rows a run may read: without the last h (never read) and, at an earlier origin K, the (K - 1) h before
    them; its last h are the ones scored."""
    return full.iloc[:-horizon * origin]


def peers(history: np.ndarray, horizon: int, season: int) -> dict:
    from statsforecast.models import AutoARIMA, AutoETS, SeasonalNaive

    models = {"AutoETS": AutoETS(season_length=season), "AutoARIMA": AutoARIMA(season_length=season),
              "seasonal naive": SeasonalNaive(season)}
    return {name: model.forecast(history.astype(float), horizon)["mean"] for name, model in models.items()}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--origin", type=int, default=1, help="score the K-th h rows before the never-read ones")
    parser.add_argument("--repository", action="store_true", help="the repository's four series instead")
    parser.add_argument("--member", help="a peer (AutoARIMA, AutoETS) mixed into the partner offline: a quarter of it")
    common.add_option_argument(parser)
    args = parser.parse_args(argv)
    options = dict(args.option)
    warnings.filterwarnings("ignore")
    seeds = [int(s) for s in args.seeds.split(",")]
    print(common.machine(), options, flush=True)
    ratios, behind_naive = [], 0
    for name, (full, horizon, season) in (repository() if args.repository else series()).items():
        known = known_rows(full, horizon, args.origin)
        history, truth = known.to_numpy()[:-horizon], known.to_numpy()[-horizon:]
        scale = np.mean(np.abs(history[season:] - history[:-season]))  # MASE's denominator
        mase = lambda forecast: float(errors(truth[None], np.asarray(forecast)[None], scale)["MASE"][0])  # noqa: E731
        settings = common.run_options(options, horizon, season, len(known) - horizon)
        runs = [js.train_series(known, horizon=horizon, holdout=horizon, seed=seed, progress=False, **settings)
                for seed in seeds]
        defaults, network, partner, share = common.halves(runs)
        at_share = {s: mase(common.at_share(network, partner, common.share_of(s, share))) for s in SHARES}
        forecasts = peers(history, horizon, season)
        others = {peer: mase(forecast) for peer, forecast in forecasts.items()}
        if args.member:  # the partner three quarters of a mean, the peer's forecast a quarter, in log units
            member = np.maximum(np.asarray(forecasts[args.member]), 1e-9 * np.abs(partner))
            joined = np.exp(0.75 * np.log(partner) + 0.25 * np.log(member))
            at_share[f"+{args.member}"] = mase(common.at_share(network, joined, share))
        best = min(others["AutoETS"], others["AutoARIMA"])
        ours, alone = mase(defaults), mase(network)
        ratios.append([alone / best, ours / best, *(v / best for v in at_share.values())])
        behind_naive += ours > others["seasonal naive"]
        print(f"{name}: {len(history)} rows, partner share {share:.2f}; MASE network alone {alone:.3f}, defaults "
              f"{ours:.3f}, " + ", ".join(f"{peer} {v:.3f}" for peer, v in others.items())
              + "; at partner share " + ", ".join(f"{s}: {v:.3f}" for s, v in at_share.items()), flush=True)
    geometric = np.exp(np.log(np.array(ratios)).mean(0))
    print(f"over {len(ratios)} series, geometric mean against the better of AutoETS and AutoARIMA: network alone "
          f"{geometric[0]:.3f}x, defaults {geometric[1]:.3f}x (worse than seasonal naive on {behind_naive}); "
          f"at partner share " + ", ".join(f"{s}: {v:.3f}x" for s, v in zip(SHARES + (
              (f"+{args.member}",) if args.member else ()), geometric[2:])), flush=True)


if __name__ == "__main__":
    main()
