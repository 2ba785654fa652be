"""Choosing defaults without the test parts: each M3 series' last h training rows held out and scored.

    python benchmarks/m3_validation.py [--periods monthly,quarterly] [--seeds 0,1] [--option key=value ...]
                                       [--single N [--min-length L]] [--statsforecast] [--origin K] [--zeros F]
    python benchmarks/m3_validation.py --periods m1-monthly,tourism-quarterly ...   (M1 and Tourism: the same)

Every default of issue 24 was chosen here (benchmarks/RESULTS.md): the test parts are never read. Series shorter
than 2h + 1 training rows are left out (52 quarterly ones). `--single N` trains the first N series of each period
one at a time instead of as one panel (single-series choices; `--min-length`: the first N of at least L rows), and
airline with 1959 held out. `--statsforecast` scores Theta and AutoETS on the same split, and their mean with ours;
with `--single`, also AutoARIMA and seasonal naive, and ours against the better of AutoETS and AutoARIMA per
series. `--parts DIR` (panels) also saves each run's network-alone and partner-alone forecasts, of the scored
rows and of the validation rows before them, for `benchmarks/shares.py` to mix offline. `--option
series_inputs=true` adds each series' log length and seasonality-test verdict as static inputs (measured, not
adopted); `--option context_factor=2` doubles the default context, `--option validation_factor=3` (`--single`)
gives three horizons of validation rows (`run_options`; both measured, not adopted). `--zeros F` sets the first
row of a fraction F of the series (drawn with seed 0) to 0 and also scores the other series: what a zero in a few
series costs the rest of a panel. Prints one line per run, mean sMAPE / MASE over series.
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
from jaxseries.metrics import errors  # noqa: E402

# A period is M3's ("monthly") or another collection's ("m1-monthly", "tourism-yearly"): its competition horizon.
HORIZONS = {"monthly": 18, "quarterly": 8, "yearly": 6, "other": 8, "m1-monthly": 18, "m1-quarterly": 8,
            "m1-yearly": 6, "tourism-monthly": 24, "tourism-quarterly": 8, "tourism-yearly": 4}
# partner shares single series are also scored at (`--single`); "≥f": the defaults' own share raised to at least f
SHARES = (0.0, 0.5, 0.7, 0.85, 1.0, "≥0.7", "≥0.85")
SEASONS = {period: {"monthly": 12, "quarterly": 4}.get(period.split("-")[-1], 1) for period in HORIZONS}


def validation_split(period: str, origin: int = 1) -> pd.DataFrame:
    """The training parts of one period, series with at least 2h + 1 rows; `origin` k > 1: without each series'
    last (k - 1) h training rows, so the h scored are the k-th last (an earlier origin: one origin's noise is larger
    than the seed spread)."""
    collection, _, name = period.rpartition("-")
    train, _ = js.datasets.competition(collection or "m3", name)
    train = without_last(train, (origin - 1) * HORIZONS[period])
    lengths = train.groupby("unique_id").y.transform("size")
    return train[lengths >= 2 * HORIZONS[period] + 1][["unique_id", "ds", "y"]].reset_index(drop=True)


def with_zeros(frame: pd.DataFrame, fraction: float) -> tuple[pd.DataFrame, np.ndarray]:
    """`frame` with the first row of a `fraction` of its series (drawn with seed 0) set to 0, and their ids."""
    ids = np.sort(frame.unique_id.unique())
    zeroed = np.random.default_rng(0).choice(ids, int(round(fraction * len(ids))), replace=False)
    first = frame.groupby("unique_id").cumcount() == 0
    return frame.assign(y=frame.y.where(~(frame.unique_id.isin(zeroed) & first), 0.0)), zeroed


def without_last(frame: pd.DataFrame, rows: int) -> pd.DataFrame:
    """`frame` without each series' last `rows` rows."""
    return frame[frame.groupby("unique_id").cumcount(ascending=False) >= rows]


def denominators(history: list, season: int) -> np.ndarray:
    """[S] MASE's denominators: each history's in-sample seasonal-naive MAE."""
    return np.array([np.mean(np.abs(h[season:] - h[:-season])) if len(h) > season else np.nan for h in history])


def scores(actual: np.ndarray, predicted: np.ndarray, history: list, season: int) -> tuple[float, float]:
    table = errors(actual, predicted, denominators(history, season))
    return float(table["sMAPE"].mean()), float(table["MASE"].mean())


def split_arrays(frame: pd.DataFrame, horizon: int):
    """(ids, histories before the holdout, holdout actuals [S, h])."""
    ids, history, actual = [], [], []
    for key, group in frame.groupby("unique_id", sort=True):
        y = group.y.to_numpy()
        ids.append(key), history.append(y[:-horizon]), actual.append(y[-horizon:])
    return ids, history, np.stack(actual)


def with_series_inputs(frame: pd.DataFrame, period: str) -> pd.DataFrame:
    """Static columns: log of the rows before the holdout, and the seasonality test's verdict on them."""
    horizon, m = HORIZONS[period], SEASONS[period]
    rows = []
    for key, group in frame.groupby("unique_id", sort=True):
        z = np.log(group.y.to_numpy()[:-horizon])
        n, c = len(z), z - z.mean()
        flag = 0.0
        if m > 1 and n >= 3 * m:
            acf = np.array([np.sum(c[k:] * c[: n - k]) for k in range(m + 1)]) / np.sum(c**2)
            flag = float(abs(acf[m]) > 1.645 * np.sqrt((1 + 2 * np.sum(acf[1:m] ** 2)) / n))
        rows.append((key, np.log(n), flag))
    table = pd.DataFrame(rows, columns=["unique_id", "log_length", "seasonal_flag"])
    return frame.merge(table, on="unique_id")


def jaxseries_panel(frame: pd.DataFrame, period: str, options: dict, parts: str | None = None) -> np.ndarray:
    """The panel's forecasts [S, h] of its last h rows; `parts`: a path the two halves of the mean are saved to."""
    horizon = HORIZONS[period]
    if options.pop("series_inputs", False):
        frame = with_series_inputs(frame, period)
        options["static"] = ["log_length"] + (["seasonal_flag"] if SEASONS[period] > 1 else [])
    run = js.train_series(frame, id="unique_id", time="ds", target="y", horizon=horizon, holdout=horizon,
                          progress=False, **common.run_options(options, horizon, SEASONS[period]))
    if parts:
        save_parts(run, frame, period, parts)
    return as_array(js.forecast(run), horizon)


def as_array(forecast: pd.DataFrame, horizon: int) -> np.ndarray:
    return forecast.sort_values(["unique_id", "ds"])["forecast"].to_numpy().reshape(-1, horizon)


def save_parts(run, frame: pd.DataFrame, period: str, path: str) -> None:
    """The network's forecast alone (partner share 0) and the partner's alone (share 1) of the scored rows, and of
    the validation rows before them (`inner_`: forecast from the rows before those; the network was early-stopped
    on them), with the actual values and MASE's denominators of both."""
    horizon, season, saved = HORIZONS[period], SEASONS[period], {}
    for prefix, data, rows in (("", None, frame), ("inner_", without_last(frame, 2 * horizon),
                                                   without_last(frame, horizon))):
        _, history, saved[prefix + "actual"] = split_arrays(rows, horizon)
        saved[prefix + "scale"] = denominators(history, season)
        for share, name in ((0.0, "network"), (1.0, "partner")):
            alone = common.with_panel(run, partner_share=share)
            saved[prefix + name] = as_array(js.forecast(alone, data=data), horizon)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    np.savez(path, **saved)


def jaxseries_single(frame: pd.DataFrame, period: str, options: dict) -> tuple[np.ndarray, dict]:
    """Every series of `frame` trained alone, one at a time: their forecasts [S, h], and {partner share: [S, h]}
    the same runs' halves mixed at other shares (`SHARES`; each series' own share is what the defaults used)."""
    horizon, rows = HORIZONS[period], []
    mixes = {share: [] for share in SHARES}
    for _, group in frame.groupby("unique_id", sort=True):
        run = js.train_series(group.set_index("ds")["y"], horizon=horizon, holdout=horizon, progress=False,
                              **common.run_options(options, horizon, SEASONS[period], len(group) - horizon))
        defaults, network, partner, own = common.halves([run])
        rows.append(defaults)
        for share, mixed in mixes.items():
            mixed.append(common.at_share(network, partner, common.share_of(share, own)))
    return np.stack(rows), {share: np.stack(mixed) for share, mixed in mixes.items()}


def statsforecast_scores(frame: pd.DataFrame, period: str, single: bool = False, models=None) -> dict:
    """{name: [S, h]} Theta's and AutoETS's (`single`: also AutoARIMA's and seasonal naive's; or `models`, a list
    of (name, statsforecast model)) forecasts of each series' last h rows from the rows before them."""
    from statsforecast import StatsForecast
    from statsforecast.models import AutoARIMA, AutoETS, Naive, SeasonalNaive, Theta

    horizon, season = HORIZONS[period], SEASONS[period]
    train = without_last(frame, horizon)
    if period == "other":
        train = train.assign(ds=train.groupby("unique_id").cumcount())
    out = {}
    given = models is not None
    models = models or [("Theta", Theta(season_length=season)), ("AutoETS", AutoETS(season_length=season))]
    if single and not given:  # one at a time: the better of ETS and ARIMA is the judge, seasonal naive the floor
        models += [("AutoARIMA", AutoARIMA(season_length=season)), ("SeasonalNaive", SeasonalNaive(season))]
    for name, model in models:  # AutoETS refuses the shortest series (Tourism yearly's 5 rows): naive's forecast there
        fitted = StatsForecast(models=[model], freq=1 if period == "other" else pd.infer_freq(
            frame.ds.drop_duplicates().sort_values()), n_jobs=1, fallback_model=Naive()).forecast(df=train, h=horizon)
        fitted = fitted.reset_index() if "unique_id" not in fitted else fitted
        column = next(c for c in fitted.columns if c not in ("unique_id", "ds"))  # the model's own alias
        predicted = fitted.sort_values(["unique_id", "ds"])[column].to_numpy().reshape(-1, horizon)
        out[name] = predicted
    return out


def single_series_table(actual, predicted, history, season, peers: dict, ratio_only: bool = False) -> None:
    """Series one at a time, judged as issue 24 judges them: each peer's mean sMAPE / MASE on the same series
    (unless `ratio_only`), the geometric mean over series of our MASE over the better of AutoETS's and AutoARIMA's,
    and on how many series we are worse than seasonal naive."""
    scale = denominators(history, season)
    per_series = lambda forecast: errors(actual, forecast, scale)["MASE"].to_numpy()  # noqa: E731
    for name, forecast in ({} if ratio_only else peers).items():
        print(f"    {name}: sMAPE %.2f MASE %.3f" % scores(actual, forecast, history, season), flush=True)
    ours = per_series(predicted)
    best = np.minimum(per_series(peers["AutoETS"]), per_series(peers["AutoARIMA"]))
    print(f"    ours / the better of AutoETS and AutoARIMA: {np.exp(np.mean(np.log(ours / best))):.3f}x (geometric "
          f"mean); worse than seasonal naive on {int(np.sum(ours > per_series(peers['SeasonalNaive'])))} of "
          f"{len(ours)}; ahead of the better on {int(np.sum(ours < best))}", flush=True)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--periods", default="monthly,quarterly,yearly,other")
    parser.add_argument("--seeds", default="0")
    common.add_option_argument(parser)
    parser.add_argument("--single", type=int, default=0)
    parser.add_argument("--min-length", type=int, default=0)
    parser.add_argument("--statsforecast", action="store_true")
    parser.add_argument("--origin", type=int, default=1, help="score the k-th last h training rows (default 1)")
    parser.add_argument("--parts", help="a folder: save each panel run's network and partner forecasts there")
    parser.add_argument("--zeros", type=float, default=0.0, help="a fraction of series whose first row becomes 0")
    args = parser.parse_args(argv)
    options = dict(args.option)
    print(common.machine(), options, flush=True)
    for period in args.periods.split(","):
        frame, zeroed = with_zeros(validation_split(period, args.origin), args.zeros)
        horizon, season = HORIZONS[period], SEASONS[period]
        if args.single:  # the first N series long enough to train alone (a window before validation and holdout)
            lengths = frame.groupby("unique_id", sort=True).size()
            shortest = args.min_length or 4 * horizon + 1
            frame = frame[frame.unique_id.isin(lengths.index[lengths >= shortest][: args.single])]
        ids, history, actual = split_arrays(frame, horizon)
        peers = statsforecast_scores(frame, period, bool(args.single)) if args.statsforecast else {}
        if not args.single:
            for name, predicted in peers.items():
                print(period, name, "sMAPE %.2f MASE %.3f" % scores(actual, predicted, history, season), flush=True)
        for seed in [int(s) for s in args.seeds.split(",")]:
            start = time.perf_counter()
            if args.single:
                predicted, mixes = jaxseries_single(frame, period, {**options, "seed": seed})
                print("    at partner share " + ", ".join(f"{share}: %.2f / %.3f" % scores(
                    actual, mixed, history, season) for share, mixed in mixes.items()), flush=True)
                if peers:
                    for share, mixed in mixes.items():
                        print(f"    at partner share {share}:", end="")
                        single_series_table(actual, mixed, history, season, peers, ratio_only=True)
            else:
                parts = args.parts and os.path.join(args.parts, f"{period}_origin{args.origin}_seed{seed}.npz")
                predicted = jaxseries_panel(frame, period, {**options, "seed": seed}, parts)
            smape, mase = scores(actual, predicted, history, season)
            print(f"{period} seed {seed}: sMAPE {smape:.2f} MASE {mase:.3f} ({len(ids)} series, "
                  f"{time.perf_counter() - start:.0f} s)", flush=True)
            if len(zeroed):
                rest = ~np.isin(ids, zeroed)
                print(f"    the {rest.sum()} series without a zero: sMAPE %.2f MASE %.3f" % scores(
                    actual[rest], predicted[rest], [h for h, keep in zip(history, rest) if keep], season), flush=True)
            if args.single and peers:
                single_series_table(actual, predicted, history, season, peers)
                continue
            for name, other in peers.items():  # the mean of the network's forecast and a classical one
                print(f"{period} seed {seed} averaged with {name}: sMAPE %.2f MASE %.3f"
                      % scores(actual, (predicted + other) / 2, history, season), flush=True)
    if args.single:
        airline = js.datasets.airline()[:-12 * args.origin]  # 1959 held out (origin 2: 1958)
        values = []
        for seed in [int(s) for s in args.seeds.split(",")]:
            run = js.train_series(airline, horizon=12, holdout=12, seed=seed, progress=False,
                                  **common.run_options(options, 12, 12, len(airline) - 12))
            predicted = js.forecast(run)["forecast"].to_numpy()
            values.append(100 * np.mean(np.abs(predicted - airline[-12:].to_numpy()) / airline[-12:].to_numpy()))
        seeds = ", ".join(f"{v:.2f}" for v in values)
        print(f"airline {1960 - args.origin} MAPE% {np.mean(values):.2f} (seeds: {seeds})", flush=True)


if __name__ == "__main__":
    main()
