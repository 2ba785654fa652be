"""Missing values: NaN inside a target or a past covariate is masked (left out of the loss and of every statistic,
seen by the model as an unobserved row), leading NaN are trimmed, and forecasts stay finite."""

import dataclasses

import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

import jaxseries as js
from jaxseries import encoding, forecasting, intervals, metrics, model, steps
from jaxseries.config import ModelConfig, SeriesOptions
from jaxseries.panel import load_panel
from jaxseries.windows import WindowLayout

FAST = dict(horizon=3, steps=30, eval_every=10, hidden_dim=8, batch_size=16, progress=False)


def panel_frame(lengths=(40, 30, 52), seed=0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frames = []
    for i, n in enumerate(lengths):
        stamps = pd.date_range("2001-01-01", periods=n, freq="MS")
        y = 50 * (i + 1) * (1 + 0.2 * np.sin(2 * np.pi * stamps.month / 12)) * np.exp(0.02 * rng.normal(size=n))
        frames.append(pd.DataFrame({"unique_id": f"s{i}", "ds": stamps, "y": y}))
    return pd.concat(frames, ignore_index=True)


def with_gaps(frame: pd.DataFrame, share=0.1, seed=1) -> pd.DataFrame:
    """NaN at random rows, never a series' first or last rows (those would be trimmed or be the origin)."""
    rng = np.random.default_rng(seed)
    position = frame.groupby("unique_id").cumcount()
    inner = (position > 0) & (position < frame.groupby("unique_id").y.transform("size") - 4)
    return frame.assign(y=frame.y.where(~(inner & (rng.random(len(frame)) < share))))


def test_a_nan_target_is_left_out_of_its_examples_loss():
    config = ModelConfig(input_dim=2, hidden_dim=4, loss="mae")
    params = model.init_params(config, seed=0)
    x = jnp.asarray(np.random.default_rng(0).normal(size=(2, 5, 2)).astype(np.float32))
    y = jnp.array([[1.0, np.nan, 3.0, 4.0, 5.0], [1.0, 2.0, 3.0, 4.0, 5.0]])[..., None]
    pred = np.asarray(model.LSTMRegressor(config).apply(params, x))
    losses = np.asarray(steps.example_losses(params, config, x, y))
    np.testing.assert_allclose(losses[0], np.mean(np.abs(pred[0] - y[0])[[0, 2, 3, 4]]), rtol=1e-6)
    np.testing.assert_allclose(losses[1], np.mean(np.abs(pred[1] - y[1])), rtol=1e-6)


def test_statistics_leave_missing_values_out():
    frame = panel_frame()
    gappy = with_gaps(frame, share=0.2)
    panel = load_panel(gappy, id="unique_id", time="ds", target="y")
    lengths = panel.lengths
    for s in range(len(panel.ids)):
        rows = panel.y[panel.starts[s]: panel.starts[s] + lengths[s]]
        seen = rows[~np.isnan(rows)]
        level = encoding.series_levels(panel, lengths, np.zeros(len(panel.ids), bool))[s]
        assert level == pytest.approx(np.mean(np.abs(seen)))
        pairs = np.abs(rows[12:] - rows[:-12])
        assert encoding.mase_scales(panel, lengths, 12)[s] == pytest.approx(np.nanmean(pairs))
    spec, _, _ = encoding.fit_spec(panel, lengths, SeriesOptions(horizon=3), 3)
    assert spec.transform == "log" and np.isfinite(spec.factor) and spec.factor > 0
    values, observed, _, _ = encoding.target_matrix(panel, spec, np.zeros((3, 12)), lengths, int(lengths.max()))
    assert np.isfinite(values).all() and observed.sum() == np.isfinite(panel.y).sum()


def test_leading_nan_are_trimmed_a_series_that_starts_later():
    frame = panel_frame()
    late = frame.copy()
    late.loc[(late.unique_id == "s1") & (late.ds < "2001-07-01"), "y"] = np.nan  # s1 starts six months later
    panel = load_panel(late, id="unique_id", time="ds", target="y")
    reference = load_panel(frame[~((frame.unique_id == "s1") & (frame.ds < "2001-07-01"))], id="unique_id",
                           time="ds", target="y")
    np.testing.assert_array_equal(panel.lengths, reference.lengths)
    np.testing.assert_array_equal(panel.y, reference.y)
    assert panel.stamps[panel.starts[1]] == pd.Timestamp("2001-07-01")


def test_a_panel_with_missing_values_trains_forecasts_and_evaluates_finite(tmp_path):
    gappy = with_gaps(panel_frame(), share=0.15)
    gappy.loc[gappy.index[gappy.unique_id == "s2"][-2], "y"] = np.nan  # a missing truth inside the holdout
    run = js.train_series(gappy, id="unique_id", holdout=3, members=2, checkpoint_dir=str(tmp_path / "run"), **FAST)
    frame = js.forecast(run)
    assert np.isfinite(frame.forecast).all() and (frame.forecast > 0).all()
    report = js.evaluate(run)
    assert np.isfinite(report["overall"].loc["jaxseries", ["sMAPE", "MASE", "MAE"]]).all()
    truth = gappy.groupby("unique_id").tail(3)
    s2 = truth[truth.unique_id == "s2"].y.to_numpy()
    predicted = frame[frame.unique_id == "s2"].forecast.to_numpy()
    assert report["per_series"].loc[("jaxseries", "s2"), "MAE"] == pytest.approx(np.nanmean(np.abs(predicted - s2)))
    np.testing.assert_allclose(js.forecast(js.load(tmp_path / "run")).forecast, frame.forecast, rtol=1e-6)
    assert np.isfinite(js.forecast(run, level=0.5)[["lower", "upper"]]).all().all()


def test_one_series_with_missing_values_and_a_missing_covariate_value():
    t = np.arange(60)
    series = pd.DataFrame({"y": 10 + np.sin(2 * np.pi * t / 12) + 0.05 * t, "x": np.cos(t / 3)},
                          index=pd.date_range("2001-01-01", periods=60, freq="MS"))
    series.iloc[[5, 17, 18, 30], 0] = np.nan
    series.iloc[[8, 40], 1] = np.nan
    series["complete"] = np.sin(t / 5)
    run = js.train_series(series, target="y", covariates=["x", "complete"], **FAST)
    assert np.isfinite(js.forecast(run)["forecast"]).all()
    # the covariate with gaps gets a column the model sees, 0 exactly where it is missing; the complete one none
    spec = forecasting.panel_spec(run)
    assert spec.observed_covariates == ["x"]
    panel = load_panel(series, target="y", covariates=["x", "complete"])
    arrays, width = encoding.build_arrays(panel, spec, np.ones(1), np.zeros((1, 12)), panel.lengths)
    assert arrays.past.shape == (1, width, 3) and run.model_config.input_dim == spec.layout().input_dim(arrays)
    np.testing.assert_array_equal(arrays.past[0, width - 60:, 2], np.isfinite(series["x"].to_numpy()))
    assert arrays.past[0, width - 60 + 8, 0] == 0  # its value: the training mean


def test_every_missing_value_or_inf_is_refused_by_name():
    frame = panel_frame()
    with pytest.raises(ValueError, match=r"series 's1' has no 'y' value \(all NaN"):
        load_panel(frame.assign(y=frame.y.where(frame.unique_id != "s1")), id="unique_id", time="ds", target="y")
    with pytest.raises(ValueError, match=r"holds ±inf for id 's0' at 2001-03-01"):
        load_panel(frame.assign(y=frame.y.where(frame.index != 2, np.inf)), id="unique_id", time="ds", target="y")


def test_metrics_and_intervals_leave_missing_truths_out():
    actual = np.array([[1.0, np.nan, 3.0]])
    predicted = np.array([[2.0, 100.0, 3.0]])
    row = metrics.errors(actual, predicted, np.array([1.0])).iloc[0]
    assert row["MAE"] == pytest.approx(0.5) and row["sMAPE"] == pytest.approx(100 * (2 / 3) / 2)

    scores = np.array([[0.1, np.nan], [0.2, 0.5], [0.3, 0.7], [0.4, 0.9]])
    np.testing.assert_allclose(intervals.widening(scores, 0.5), [intervals.widening(scores[:, 0], 0.5),
                                                                 intervals.widening(scores[1:, 1], 0.5)])



def test_a_windows_level_reads_its_last_observed_values_however_far_back():
    layout = WindowLayout(context=6, horizon=1, reference=2)
    values = jnp.array([[1.0, 2.0, 3.0, 4.0, 0.0, 0.0], [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]])
    observed = jnp.array([[1.0, 1.0, 1.0, 1.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0, 0.0, 1.0]])
    np.testing.assert_allclose(layout.level(values, observed), [3.5, 5.0])  # (3 + 4) / 2, (4 + 6) / 2


def test_an_origin_a_season_past_the_last_observed_value_takes_the_partners_forecast_alone():
    frame = panel_frame((60, 60))
    late = frame.groupby("unique_id").cumcount(ascending=False) < 13  # s1's last 13 rows (a season and one) missing
    frame = frame.assign(y=frame.y.where(~(late & (frame.unique_id == "s1"))))
    run = js.train_series(frame, id="unique_id", time="ds", target="y", **FAST)
    partner_alone = dataclasses.replace(run, extra={**run.extra, "panel": {**run.extra["panel"], "partner_share": 1.0}})
    ours, theirs = (js.forecast(r).set_index("unique_id")["forecast"] for r in (run, partner_alone))
    np.testing.assert_allclose(ours["s1"], theirs["s1"])
    assert np.abs(ours["s0"].to_numpy() - theirs["s0"].to_numpy()).max() > 1e-3  # s0 keeps the network's part
    assert ours["s1"].between(0.5 * 100, 1.5 * 100).all()  # near s1's own level (100), not near 0
