import dataclasses

import numpy as np
import pandas as pd
import pytest

import jaxseries as js
from jaxseries import data as data_lib
from jaxseries import encoding as E
from jaxseries import forecasting as F
from jaxseries import metrics

FAST = dict(steps=60, eval_every=10, hidden_dim=8, progress=False)


def monthly(values, start="2000-01"):
    return pd.Series(np.asarray(values, float), index=pd.date_range(start, periods=len(values), freq="MS"), name="y")


def seasonal_series(n=96, seed=0):
    t = np.arange(n)
    noise = np.random.default_rng(seed).normal(0, 0.02, n)
    return monthly(100 * np.exp(0.01 * t + 0.2 * np.sin(2 * np.pi * t / 12) + noise))


def spec(**overrides):
    base = dict(targets=["y"], covariates=[], future_covariates=[], time=None, freq=None, season=4, context=3,
                horizon=2, holdout=0, validation=2, strategy="direct", transforms=["none"], normalize="window",
                calendar=False, target_center=[0.0], target_scale=[2.0], covariate_center=[], covariate_scale=[],
                future_center=[], future_scale=[], mase_scale=[1.0])
    return E.SeriesSpec(**{**base, **overrides})


def encoded(spec_, values, known=None):
    values = np.asarray(values, float)[:, None]
    known = np.zeros((len(values), 0)) if known is None else known
    return E.Encoded(spec_, values, np.zeros((len(values), 0)), known)


def test_direct_window_alignment_by_exact_values():
    values = np.arange(10.0) ** 2  # 0 1 4 9 16 25 36 49 64 81
    x, y = encoded(spec(), values).direct(np.array([5]))
    # origin 5 (value 25): inputs rows 3..5 measured from 25, scaled by 2; targets rows 6, 7.
    np.testing.assert_allclose(x[0, :, 0], [(9 - 25) / 2, (16 - 25) / 2, 0.0])
    np.testing.assert_allclose(y[0], [(36 - 25) / 2, (49 - 25) / 2])


def test_seasonal_reference_is_the_value_one_season_earlier():
    values = np.arange(20.0)
    enc = encoded(spec(normalize="season", season=4, horizon=6, context=2), values)
    x, y = enc.direct(np.array([9]))
    np.testing.assert_allclose(x[0, :, 0], [(8 - 4) / 2, (9 - 5) / 2])  # seasonal differences
    # targets rows 10..15 against rows 6,7,8,9 then 6,7 again (the seasonal-naive forecast from origin 9)
    np.testing.assert_allclose(y[0] * 2, np.arange(10, 16) - np.array([6, 7, 8, 9, 6, 7]))


def test_known_future_rows_are_appended_with_a_flag():
    values = np.arange(10.0)
    known = np.arange(10.0)[:, None] * 10
    x, _ = encoded(spec(), values, known).direct(np.array([5]))
    assert x.shape == (1, 3 + 2, 1 + 1 + 1)  # target channel, known feature, future flag
    np.testing.assert_allclose(x[0, :, 1], [30, 40, 50, 60, 70])
    np.testing.assert_allclose(x[0, :, 2], [0, 0, 0, 1, 1])
    np.testing.assert_allclose(x[0, 3:, 0], [0, 0])  # future targets are never inputs


def test_recursive_windows_shift_by_one():
    values = np.arange(10.0)
    x, y = encoded(spec(strategy="recursive"), values).recursive(np.array([4]))
    np.testing.assert_allclose(x[0, :, 0] * 2, [2 - 4, 3 - 4, 0])
    np.testing.assert_allclose(y[0, :, 0] * 2, [3 - 4, 0, 5 - 4])


@pytest.mark.parametrize("transform, apply", [("none", np.asarray), ("log", np.log)])
def test_scaling_uses_the_training_part_only(transform, apply):
    series = seasonal_series()
    run = F.train_series(series, horizon=6, holdout=12, validation=12, transform=transform, **FAST)
    assert F.series_spec(run).transforms == [transform]
    train_part = apply(series.to_numpy()[: 96 - 12 - 12])
    saved = F.series_spec(run)
    np.testing.assert_allclose(saved.target_center, [train_part.mean()], rtol=1e-6)
    np.testing.assert_allclose(saved.target_scale, [np.std(train_part[12:] - train_part[:-12])], rtol=1e-6)
    # Changing the validation and holdout parts changes neither the statistics nor the training data.
    wild = series.copy()
    wild.iloc[-24:] *= 50
    rerun = F.train_series(wild, horizon=6, holdout=12, validation=12, patience=None, **FAST)
    plain = F.train_series(series, horizon=6, holdout=12, validation=12, patience=None, **FAST)
    assert dataclasses.asdict(F.series_spec(rerun)) == dataclasses.asdict(F.series_spec(plain))
    np.testing.assert_array_equal(rerun.history, plain.history)


def test_scaler_round_trip_in_series_units():
    series = seasonal_series()
    run = F.train_series(series, horizon=6, holdout=6, **FAST)
    spec_ = F.series_spec(run)
    enc = E.Encoded(spec_, series.to_numpy()[:, None], np.zeros((96, 0)), np.zeros((96 + 6, 2)))
    origin = np.array([80])
    _, y = enc.direct(origin)
    back = E.untransform_values(enc.target_reference(origin, 6)[0] + np.asarray(spec_.target_scale) * y.reshape(6, 1), spec_.transforms)
    np.testing.assert_allclose(back[:, 0], series.to_numpy()[81:87], rtol=1e-5)


def test_constant_series_does_not_blow_up():
    run = F.train_series(monthly(np.full(60, 7.0)), horizon=3, holdout=3, **FAST)
    values = F.forecast(run)["forecast"].to_numpy()
    assert np.isfinite(values).all() and np.abs(values - 7.0).max() < 1.0


def test_early_stopping_keeps_the_best_step():
    run = F.train_series(seasonal_series(), horizon=6, holdout=6, steps=400, patience=3, eval_every=10,
                         hidden_dim=8, learning_rate=3e-2, progress=False)
    losses = run.val_history[:, 1]
    assert len(run.history) < 400  # it stopped
    assert run.best_step == int(run.val_history[np.argmin(losses), 0])
    assert len(losses) - 1 - np.argmin(losses) == 3  # exactly `patience` evaluations without improvement
    # The weights used to predict give the best validation loss, not the last.
    assert run.params is run.state.best_params


def test_rollout_equals_step_by_step_prediction():
    series = seasonal_series()
    run = F.train_series(series, horizon=5, holdout=5, strategy="recursive", context=12, transform="log", **FAST)
    spec_ = F.series_spec(run)
    forecast = F.forecast(run, horizon=5)["forecast"].to_numpy()
    history, _ = F.history_frames(run)
    log_values = list(np.log(history["y"].to_numpy()))
    index = history.index.append(data_lib.future_index(history.index, spec_.freq, 5))
    calendar = data_lib.calendar_features(index, spec_.freq)
    scale = spec_.target_scale[0]
    for step in range(5):
        end = len(history) + step  # rows [end - context, end) are the window
        window = np.array(log_values[end - 12 : end])
        x = np.concatenate([((window - window[-1]) / scale)[:, None], calendar[end - 12 + 1 : end + 1]], axis=1)
        out = js.predict(run, x[None].astype(np.float32))[0, -1, 0]
        log_values.append(window[-1] + scale * out)
    np.testing.assert_allclose(forecast, np.exp(log_values[-5:]), rtol=1e-5)


def test_metrics_against_hand_computed_values():
    actual = np.array([[100.0], [200.0]])
    predicted = np.array([[110.0], [180.0]])
    got = metrics.errors(actual, predicted, scale=np.array([10.0]))
    assert got["MAE"] == pytest.approx(15.0)
    assert got["RMSE"] == pytest.approx(np.sqrt((100 + 400) / 2))
    assert got["MAPE%"] == pytest.approx(100 * (0.1 + 0.1) / 2)
    assert got["sMAPE%"] == pytest.approx(100 * (20 / 210 + 40 / 380) / 2)
    assert got["MASE"] == pytest.approx(1.5)
    history = np.arange(1.0, 9.0)[:, None]  # 1..8, season 4
    np.testing.assert_array_equal(metrics.seasonal_naive(history, 6, 4)[:, 0], [5, 6, 7, 8, 5, 6])
    np.testing.assert_array_equal(metrics.persistence(history, 2)[:, 0], [8, 8])
    np.testing.assert_allclose(metrics.mase_scale(history, 4), [4.0])


def test_airline_baselines_match_the_reference_figures():
    run = F.train_series(js.datasets.airline(), horizon=12, holdout=12, **FAST)
    overall = F.evaluate(run)["overall"]
    assert overall.loc["seasonal_naive", "MAPE%"] == pytest.approx(9.99, abs=0.01)
    assert overall.loc["persistence", "MAPE%"] == pytest.approx(14.25, abs=0.01)


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
    run = F.train_series(frame, target=["sales", "returns"], time="when", horizon=4, holdout=4,
                         covariates=["price"], future_covariates=["promo"], **FAST)
    out = F.forecast(run)
    assert list(out.columns) == ["forecast_sales", "forecast_returns"]
    assert out.index[0] == pd.Timestamp("2010-03-18") and len(out) == 4  # the holdout's first day
    assert np.isfinite(out.to_numpy()).all()


def test_load_restores_a_series_run(tmp_path):
    run = F.train_series(seasonal_series(), horizon=6, holdout=6, checkpoint_dir=tmp_path / "run", **FAST)
    loaded = js.load(tmp_path / "run")
    pd.testing.assert_frame_equal(F.forecast(loaded), F.forecast(run))


def test_irregular_timestamps_are_refused_unless_filled():
    series = seasonal_series(48).drop(pd.Timestamp("2001-03-01"))
    with pytest.raises(ValueError, match="irregularly spaced.*fill=True"):
        F.train_series(series, horizon=3, **FAST)
    frame, freq = data_lib.check_time_index(series.to_frame(), fill=True)
    assert freq == "MS" and len(frame) == 48 and np.isfinite(frame["y"]).all()
