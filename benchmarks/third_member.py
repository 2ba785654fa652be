"""A third member beside the network and its partner, measured offline on training parts (issue 24): each panel
run's saved halves (`m3_validation.py --parts`) mixed in log units with a statsforecast model fitted on the same
rows, as `network / 2 + partner / 4 + model / 4`, against the default even mean of the two halves.

    python benchmarks/m3_validation.py --parts DIR --origin K --seeds 0,1 --periods P,...   (K = 1, 2)
    python benchmarks/third_member.py DIR [--models AutoETS,SeasonalNaive,ets] [--periods monthly,m1-monthly]

`ets` is jaxseries' own exponential smoothing, the partner's third piece by default since 2026-12-07: save the parts
with `--option combine='"theta+damped"'` to see what it adds. A model's forecasts are fitted once per (period,
origin) and kept beside the parts (DIR/third_*.npy). The test parts are never read. `--variant DIR2`: instead of a statsforecast model, the same runs saved with other options
(the network must be the same; its partner is what changed): the mean at the run's even share, per period.
"""

from __future__ import annotations

import argparse
import glob
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import m3_validation as mv  # noqa: E402
from shares import mixed, scores  # noqa: E402


def stand_in(name: str, season: int):
    """A statsforecast model by name: AutoETS, its restrictions (no trend, damped, additive errors), seasonal naive."""
    from statsforecast.models import AutoETS, SeasonalNaive

    return {"AutoETS": lambda: AutoETS(season_length=season),
            "ETS-no-trend": lambda: AutoETS(season_length=season, model="ZNZ"),
            "ETS-damped": lambda: AutoETS(season_length=season, damped=True),
            "ETS-additive": lambda: AutoETS(season_length=season, model="AZZ"),
            "SeasonalNaive": lambda: SeasonalNaive(season)}[name]()


def geometric(parts) -> np.ndarray:
    """The weighted mean in log units of (forecast [S, H], weight) pairs."""
    return np.exp(sum(w * np.log(np.maximum(f, 1e-9)) for f, w in parts) / sum(w for _, w in parts))


def runs(folder: str, periods: list[str] | None):
    """(period, origin, name, saved halves) of every run in `folder`."""
    for path in sorted(glob.glob(f"{folder}/*_origin*_seed*.npz")):
        name = os.path.basename(path)[:-4]
        period, origin, _ = name.split("_")
        if not periods or period in periods:
            yield period, int(origin[len("origin"):]), name, dict(np.load(path))


def ours(frame, period: str) -> np.ndarray:
    """[S, h] jaxseries' own exponential smoothing (ets.py) of each series' rows before its last h."""
    from jaxseries import ets

    horizon = mv.HORIZONS[period]
    rows = [g.y.to_numpy() for _, g in mv.without_last(frame, horizon).groupby("unique_id", sort=True)]
    lengths = np.array([len(r) for r in rows])
    values, observed = ets.first_rows(np.concatenate(rows), np.cumsum(lengths) - lengths, lengths)
    return ets.forecast(ets.fitted(values, observed, lengths, mv.SEASONS[period], horizon), horizon)


def fitted(folder: str, model: str, period: str, origin: int) -> np.ndarray:
    """A model's forecasts (`ets`: ours, else a statsforecast model by name), fitted once and kept in `folder`."""
    path = f"{folder}/third_{model}_{period}_{origin}.npy"
    if not os.path.exists(path):
        frame = mv.validation_split(period, origin)
        np.save(path, ours(frame, period) if model == "ets" else mv.statsforecast_scores(
            frame, period, models=[(model, stand_in(model, mv.SEASONS[period]))])[model])
    return np.load(path)


def table(rows: dict) -> None:
    """Per period: each mix's mean sMAPE / MASE over the runs and its ratio to the default's."""
    for period in sorted({p for p, _ in rows}):
        base = np.mean(rows[period, "default"], 0)
        print(f"{period} ({len(rows[period, 'default'])} runs)", flush=True)
        for (p, label), values in rows.items():
            if p == period:
                mean = np.mean(values, 0)
                print(f"    {label:32s} {mean[0]:.3f} / {mean[1]:.4f}   ({mean[0] / base[0]:.4f} / "
                      f"{mean[1] / base[1]:.4f})", flush=True)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder")
    parser.add_argument("--models", default="AutoETS")
    parser.add_argument("--periods", default="")
    parser.add_argument("--variant", help="a folder of the same runs saved with other options")
    args = parser.parse_args(argv)
    periods = [p for p in args.periods.split(",") if p]
    rows = {}
    for period, origin, name, run in runs(args.folder, periods):
        network, partner, actual, scale = run["network"], run["partner"], run["actual"], run["scale"]
        mixes = {"default": mixed(network, partner, 0.5)}
        if args.variant:
            other = dict(np.load(f"{args.variant}/{name}.npz"))
            assert np.allclose(other["network"], network, rtol=1e-5), f"{name}: the variant's network differs"
            mixes["variant"], mixes["variant's partner alone"] = mixed(network, other["partner"], 0.5), other["partner"]
        else:
            for model in args.models.split(","):
                third = fitted(args.folder, model, period, origin)
                mixes[f"network/2 + partner/4 + {model}/4"] = geometric([(network, 2), (partner, 1), (third, 1)])
                mixes[f"{model} alone"] = third
        for label, forecast in mixes.items():
            rows.setdefault((period, label), []).append(scores(np.where(np.isfinite(forecast), forecast, 0), actual,
                                                               scale))
    table(rows)


if __name__ == "__main__":
    main()
