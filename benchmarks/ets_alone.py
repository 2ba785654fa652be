"""jaxseries' own exponential smoothing (`ets.py`) alone against statsforecast's AutoETS on the same training parts
(issue 24): how well the partner's third piece fits, without training a network.

    python benchmarks/ets_alone.py [--periods monthly,m1-quarterly,...] [--origins 1,2] [--cache DIR]

Panels: each series' K-th last h training rows scored (`m3_validation.py`'s split; the test parts are never read).
`real`: the eleven statsmodels series of `real_series.py`, one at a time, at the same origins. AutoETS's forecasts
are fitted once per (period, origin) and kept in the cache folder. Prints mean sMAPE / MASE of both, their ratio,
and our fit's seconds.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import m3_validation as mv  # noqa: E402
import third_member  # noqa: E402

PERIODS = "monthly,quarterly,yearly,other,m1-monthly,m1-quarterly,tourism-monthly,tourism-quarterly,real"


def real_split(origin: int):
    """(histories, actuals [S, h] per series, horizons, seasons) of the real series: the last h rows never read."""
    from real_series import known_rows, series

    out = []
    for full, horizon, season in series().values():
        known = known_rows(full, horizon, origin).to_numpy()
        out.append((known[:-horizon].astype(float), known[-horizon:], horizon, season))
    return out


def real_scores(origin: int) -> tuple[np.ndarray, np.ndarray]:
    """[2] (ours, AutoETS) mean sMAPE and [2] mean MASE over the real series, each fitted alone."""
    from statsforecast.models import AutoETS
    from jaxseries import ets

    rows = []
    for history, actual, horizon, season in real_split(origin):
        ours = ets.forecast(ets.fitted(history[None], np.ones((1, len(history))), np.array([len(history)]), season,
                                       horizon), horizon)
        theirs = AutoETS(season_length=season).forecast(history, horizon)["mean"][None]
        rows.append([mv.scores(actual[None], f, [history], season) for f in (ours, theirs)])
    return np.mean(rows, 0)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--periods", default=PERIODS)
    parser.add_argument("--origins", default="1,2")
    parser.add_argument("--cache", default="/tmp/ets_alone")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    os.makedirs(args.cache, exist_ok=True)
    totals = []
    for period in args.periods.split(","):
        for origin in (int(k) for k in args.origins.split(",")):
            start = time.perf_counter()
            if period == "real":
                (ours, theirs), seconds = real_scores(origin), time.perf_counter() - start
            else:
                frame = mv.validation_split(period, origin)
                predicted, seconds = third_member.ours(frame, period), time.perf_counter() - start
                autoets = third_member.fitted(args.cache, "AutoETS", period, origin)
                _, history, actual = mv.split_arrays(frame, mv.HORIZONS[period])
                ours, theirs = (mv.scores(actual, f, history, mv.SEASONS[period]) for f in (predicted, autoets))
            totals.append(np.array(ours) / np.array(theirs))
            print(f"{period} origin {origin}: ours {ours[0]:.3f} / {ours[1]:.4f}, AutoETS {theirs[0]:.3f} / "
                  f"{theirs[1]:.4f}, ratio {ours[0] / theirs[0]:.4f} / {ours[1] / theirs[1]:.4f} ({seconds:.1f} s)",
                  flush=True)
    mean = np.exp(np.log(totals).mean(0))
    print(f"geometric mean of the ratios over {len(totals)} (period, origin) pairs: {mean[0]:.4f} / {mean[1]:.4f}")


if __name__ == "__main__":
    main()
