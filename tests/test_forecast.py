"""One series is a panel of one: every input form runs the one forecaster and gets the same answer; timestamps,
several targets, the recursive strategy, short histories, metrics, saved runs."""

import dataclasses
import os

import numpy as np
import pandas as pd
import pytest

import jaxseries as js
from jaxseries import data as data_lib
from jaxseries import forecasting, metrics
from jaxseries.panel import load_panel

FAST = dict(steps=60, eval_every=10, hidden_dim=8, progress=False)
FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")


def monthly(values, start="2000-01"):
    return pd.Series(np.asarray(values, float), index=pd.date_range(start, periods=len(values), freq="MS"), name="y")


def seasonal_series(n=96, seed=0):
    t = np.arange(n)
    noise = np.random.default_rng(seed).normal(0, 0.02, n)
    return monthly(100 * np.exp(0.01 * t + 0.2 * np.sin(2 * np.pi * t / 12) + noise))


def test_every_input_form_of_one_series_gives_the_same_forecast_as_a_panel_of_one(tmp_path):
    series = seasonal_series(72).rename("sales").rename_axis("month")
    frame = series.reset_index()
    frame.to_csv(tmp_path / "sales.csv", index=False)
    long = frame.rename(columns={"month": "ds", "sales": "y"}).assign(unique_id="shop")
    options = dict(horizon=6, holdout=6, **FAST)
    reference = js.forecast(js.train_series(series, **options))
    assert list(reference.columns) == ["forecast"] and reference.index.name == "month"
    assert reference.index[0] == pd.Timestamp("2005-07-01")  # the holdout's first month: the timestamps are kept
    forms = {"frame": dict(data=frame, time="month"), "csv": dict(data=tmp_path / "sales.csv", time="month"),
             "dict": dict(data={"shop": series}), "long": dict(data=long, id="unique_id")}
    for name, form in forms.items():
        out = js.forecast(js.train_series(**form, **options))
        values = out["forecast"].to_numpy()
        np.testing.assert_allclose(values, reference["forecast"].to_numpy(), rtol=1e-5, err_msg=name)
        stamps = out.index if name in ("frame", "csv") else pd.DatetimeIndex(out.iloc[:, 1])
        assert (stamps == reference.index).all(), name
    array_run = js.train_series(series.to_numpy(), **options)  # no timestamps: integer steps, no season
    assert js.forecast(array_run).index.name == "step" and forecasting.panel_spec(array_run).season == 1


def test_a_dict_of_series_keeps_timestamps_season_and_target_name():
    run = js.train_series({"air": js.datasets.airline()}, horizon=12, holdout=12, **FAST)
    spec = forecasting.panel_spec(run)
    assert (spec.time, spec.freq, spec.season, spec.target) == ("month", "MS", 12, "passengers")
    report = js.evaluate(run)["overall"]
    assert report.loc["seasonal_naive", "MAPE%"] != pytest.approx(report.loc["naive", "MAPE%"])


def test_scaling_reads_the_training_part_only():
    series = seasonal_series()
    wild = series.copy()
    wild.iloc[-24:] *= 50  # the validation and holdout rows
    plain, rerun = (js.train_series(s, horizon=6, holdout=12, validation=12, patience=None, **FAST)
                    for s in (series, wild))
    assert plain.extra["panel"] == rerun.extra["panel"]  # the spec: transform, scale factor, covariate statistics
    for key in ("levels", "seasonal_train", "theta_train"):  # a forecast may use the validation rows: known at its origin
        assert plain.extra["panel_series"][key] == rerun.extra["panel_series"][key]
    np.testing.assert_array_equal(rerun.history, plain.history)


@pytest.mark.parametrize("signed", [False, True])
def test_the_forecast_follows_the_series_units_however_small_or_large(signed):
    # a series in other units (tonnes or gigatonnes) is the same series: its season, partner and intervals too
    t = np.arange(72)
    noise = np.random.default_rng(1).normal(0, 0.05, len(t))
    values = (-1 + 0.03 * t if signed else 5 + 0.01 * t) + np.sin(2 * np.pi * t / 12) + noise
    forecasts = {}
    for units in (1e-12, 1.0, 1e12):
        run = js.train_series(monthly(values * units), horizon=6, validation=12, **FAST)
        forecasts[units] = js.forecast(run, level=0.8).to_numpy() / units
    for units in (1e-12, 1e12):
        np.testing.assert_allclose(forecasts[units], forecasts[1.0], rtol=2e-3, atol=2e-3)
    assert np.ptp(forecasts[1.0][:, 0]) > 0.5  # the season is forecast, at every scale (checked above)


def test_constant_series_does_not_blow_up():
    run = js.train_series(monthly(np.full(60, 7.0)), horizon=3, holdout=3, **FAST)
    values = js.forecast(run)["forecast"].to_numpy()
    assert np.isfinite(values).all() and np.abs(values - 7.0).max() < 1.0


def test_early_stopping_keeps_the_best_step():
    run = js.train_series(seasonal_series(), horizon=6, holdout=6, steps=400, patience=3, eval_every=10,
                          hidden_dim=8, learning_rate=3e-2, progress=False)
    losses = run.val_history[:, 1]
    assert len(run.history) < 400  # it stopped
    assert run.best_step == int(run.val_history[np.argmin(losses), 0])
    assert len(losses) - 1 - np.argmin(losses) == 3  # exactly `patience` evaluations without improvement
    assert run.params is run.state.best_params  # the weights that predict are the best, not the last


def test_the_recursive_rollout_equals_step_by_step_prediction():
    series = seasonal_series()
    run = js.train_series(series, horizon=5, holdout=5, strategy="recursive", context=12, transform="log",
                          calendar=False, deseasonalize=False, combine=None, **FAST)
    spec = forecasting.panel_spec(run)
    assert run.model_config.head == "sequence"
    forecast = js.forecast(run, horizon=8)["forecast"].to_numpy()  # past the trained horizon: it rolls on
    values = list(np.log(series.to_numpy()[:-5]))
    scale = run.extra["panel_series"]["levels"][0] * spec.factor
    alpha = run.extra["panel_series"]["smoothing"][0]  # the window's smoothed level is its last column
    weights = (1 - alpha) ** np.arange(11, -1, -1)
    for _ in range(8):
        window = np.array(values[-12:])
        level = window[-spec.reference:].mean()
        x = np.zeros((1, 12, run.model_config.input_dim), np.float32)
        x[0, :, 0], x[0, :, 1] = (window - level) / scale, 1.0
        x[0, :, -1] = (np.sum(weights * window) / np.sum(weights) - level) / scale
        values.append(level + scale * js.predict(run, x)[0, -1, 0])
    np.testing.assert_allclose(forecast, np.exp(values[-8:]), rtol=1e-4)


def test_metrics_and_baselines_against_hand_computed_values():
    got = metrics.errors(np.array([[100.0, 200.0]]), np.array([[110.0, 180.0]]), scale=np.array([10.0]))
    assert got["MAE"].item() == pytest.approx(15.0)
    assert got["RMSE"].item() == pytest.approx(np.sqrt((100 + 400) / 2))
    assert got["MAPE%"].item() == pytest.approx(100 * (0.1 + 0.1) / 2)
    assert got["sMAPE"].item() == pytest.approx(100 * (10 / 210 + 20 / 380))
    assert got["MASE"].item() == pytest.approx(1.5)
    panel = load_panel(np.arange(1.0, 9.0))  # 1..8
    base = metrics.baselines(panel, panel.lengths, 6, 4)
    np.testing.assert_array_equal(base["seasonal_naive"][0], [5, 6, 7, 8, 5, 6])
    np.testing.assert_array_equal(base["naive"][0], [8] * 6)


def test_airline_baselines_match_the_reference_figures():
    overall = js.evaluate(js.train_series(js.datasets.airline(), horizon=12, holdout=12, **FAST))["overall"]
    assert overall.loc["seasonal_naive", "MAPE%"] == pytest.approx(9.99, abs=0.01)
    assert overall.loc["naive", "MAPE%"] == pytest.approx(14.25, abs=0.01)


def test_several_targets_covariates_and_timestamps():
    n = 80
    t = np.arange(n)
    frame = pd.DataFrame({
        "when": pd.date_range("2010-01-01", periods=n, freq="D").astype(str),
        "sales": 50 + 10 * np.sin(2 * np.pi * t / 7) + t * 0.1,
        "returns": 5 + np.cos(2 * np.pi * t / 7),
        "price": np.linspace(1, 2, n),
        "promo": (t % 10 == 0).astype(float),
    })
    run = js.train_series(frame, target=["sales", "returns"], time="when", horizon=4, holdout=4,
                          covariates=["price"], future_covariates=["promo"], **FAST)
    out = js.forecast(run)
    assert list(out.columns) == ["forecast_sales", "forecast_returns"]
    assert out.index[0] == pd.Timestamp("2010-03-18") and len(out) == 4  # the holdout's first day
    assert np.isfinite(out.to_numpy()).all()
    report = js.evaluate(run)
    assert report["series"] == 2 and set(report["per_series"].loc["jaxseries"].index) == {"sales", "returns"}
    truth = frame.sales.to_numpy()[-4:]
    mae = np.abs(out["forecast_sales"].to_numpy() - truth).mean()
    assert report["per_series"].loc[("jaxseries", "sales"), "MAE"] == pytest.approx(mae, rel=1e-6)


def test_a_short_history_gets_a_forecast_and_a_too_short_one_names_its_rows():
    series = seasonal_series(78)  # six and a half years of months, two-year horizon and holdout
    frame = js.forecast(js.train_series(series, horizon=24, holdout=24, **FAST))
    assert len(frame) == 24 and np.isfinite(frame["forecast"]).all()
    with pytest.raises(ValueError, match=r"has 30 rows, but holdout 6 \+ validation 24 \+ 1 needs 31"):
        js.train_series(series.iloc[:30], horizon=24, holdout=6, **FAST)


def test_load_restores_a_series_run(tmp_path):
    run = js.train_series(seasonal_series(), horizon=6, holdout=6, checkpoint_dir=tmp_path / "run", **FAST)
    pd.testing.assert_frame_equal(js.forecast(js.load(tmp_path / "run")), js.forecast(run))


def test_runs_saved_by_0_1_panel_path_forecast_as_before_and_its_single_path_is_refused():
    panel_run = js.load(os.path.join(FIXTURES, "panel-run-0.1"))
    expected = pd.read_csv(os.path.join(FIXTURES, "panel-run-0.1-forecast.csv"), parse_dates=["ds"])
    expected["ds"] = expected["ds"].astype("datetime64[ns]")
    pd.testing.assert_frame_equal(js.forecast(panel_run), expected, rtol=1e-6)
    for name in ("series-run-0.1", "series-run-last-head"):
        single = js.load(os.path.join(FIXTURES, name))  # the weights still load
        with pytest.raises(ValueError, match=r"saved by jaxseries 0.1's single-series forecaster"):
            js.forecast(single)


def test_irregular_timestamps_are_refused_unless_filled():
    series = seasonal_series(48).drop(pd.Timestamp("2001-03-01"))
    with pytest.raises(ValueError, match="irregularly spaced.*fill=True"):
        js.train_series(series, horizon=3, **FAST)
    frame, freq = data_lib.check_time_index(series.to_frame(), fill=True)
    assert freq == "MS" and len(frame) == 48 and np.isnan(frame["y"]).sum() == 1  # inserted as a missing value
    assert np.isnan(frame.loc["2001-03-01", "y"])
    assert len(js.forecast(js.train_series(series, horizon=3, fill=True, **FAST))) == 3


def test_options_of_0_1_and_unknown_options_are_named():
    with pytest.raises(TypeError, match="normalize= was the single-series forecaster's option"):
        js.train_series(seasonal_series(), horizon=3, normalize="season", **FAST)
    with pytest.raises(TypeError, match=r"unknown option\(s\) \['hiden_dim'\]"):
        js.train_series(seasonal_series(), horizon=3, hiden_dim=8)
    options = js.SeriesOptions(horizon=3)
    assert dataclasses.replace(options, context=12).context == 12


def test_day_first_dates_and_rows_without_an_id_are_named():
    months = [f"01/{m:02d}/{2000 + y}" for y in range(3) for m in range(1, 13)]  # day-first: the 1st of each month
    frame = pd.DataFrame({"date": months, "y": np.arange(36.0)})
    with pytest.raises(ValueError, match=r"day-first dates .* dayfirst=True"):
        js.train_series(frame, time="date", horizon=3, **FAST)
    long = pd.DataFrame({"unique_id": ["a"] * 30 + [None] * 2, "y": np.arange(32.0)})
    with pytest.raises(ValueError, match=r"row 30 has no id \(NaN in id column 'unique_id'; 2 such rows\)"):
        js.train_series(long, id="unique_id", horizon=3, **FAST)


def test_options_that_do_not_fit_the_input_are_named_before_training(tmp_path):
    frame = pd.DataFrame({"a": np.arange(40.0), "b": np.arange(40.0) + 1})
    cases = [(dict(data=frame), ValueError, r"name the target column\(s\): target=.*\['a', 'b'\]"),
             (dict(data=seasonal_series(), static=["group"]), ValueError, "static= names per-series columns of a panel"),
             (dict(data=[np.arange(40.0), np.arange(30.0)], fill=True), ValueError,
              "fill=True puts timestamps on their grid, and this panel has none"),
             (dict(data=frame, target="a", covariates=["b"], strategy="recursive"), ValueError,
              "strategy='recursive' cannot roll past covariates forward")]
    for kwargs, error, message in cases:
        with pytest.raises(error, match=message):
            js.train_series(horizon=3, checkpoint_dir=tmp_path / "run", **FAST, **kwargs)
        assert not (tmp_path / "run").exists()
    run = js.train_series(seasonal_series(), horizon=3, **FAST)
    with pytest.raises(ValueError, match="horizon=6 exceeds the trained horizon 3"):
        js.forecast(run, horizon=6)


@pytest.mark.parametrize("freq, season", [("MS", 12), ("QS-OCT", 4), ("YS-JAN", 1), ("W-SUN", 52), ("D", 7),
                                          ("B", 5), ("h", 24), ("2h", 12), ("30min", 48), ("5min", 288),
                                          ("min", 60), ("10s", 6), ("7min", 1), (None, 1)])
def test_the_season_each_frequency_implies(freq, season):
    assert data_lib.default_season(freq) == season


def test_business_days_forecast_on_their_calendar():
    index = pd.bdate_range("2024-01-01", periods=120)  # ends on a Friday
    assert index[-1].day_name() == "Friday"
    week = np.tile([1.0, 1.2, 1.1, 1.3, 0.8], 24)
    series = pd.Series(100 * week + np.random.default_rng(0).normal(0, 1, 120), index=index)
    run = js.train_series(series, horizon=5, **FAST)
    assert run.extra["panel"]["season"] == 5 and run.extra["panel"]["freq"] == "B"
    ahead = js.forecast(run).index
    assert [d.day_name() for d in ahead] == ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]
    half_hours = pd.Series(np.sin(np.arange(400) * 2 * np.pi / 48) + 5,
                           index=pd.date_range("2024-01-01", periods=400, freq="30min"))
    run = js.train_series(half_hours, horizon=4, steps=1, progress=False)
    assert run.extra["panel"]["season"] == 48 and js.forecast(run).index[0] == half_hours.index[-1] + pd.Timedelta("30min")
