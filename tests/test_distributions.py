"""Distribution heads (`distribution=`): their losses are the likelihoods they name, their quantiles are monotone,
and a trained run's forecasts, backtests and export read them."""

import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st
from scipy import stats

import jaxseries as js
from jaxseries import serving
from jaxseries import distributions

FAST = dict(steps=20, hidden_dim=8, eval_every=10, progress=False)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**31 - 1))
def test_quantile_grid_is_monotone_and_interpolation_meets_it(seed):
    out = np.random.default_rng(seed).normal(0, 3, (4, 5, len(distributions.GRID)))
    values = distributions.grid_values(out)
    assert (np.diff(values, axis=-1) > 0).all()
    base, scale = np.zeros(4), np.ones(4)
    for k, q in enumerate(distributions.GRID):
        np.testing.assert_allclose(distributions.quantile("quantiles", out, q, base, scale), values[..., k], atol=1e-9)
    between = [distributions.quantile("quantiles", out, q, base, scale) for q in (0.001, 0.01, 0.33, 0.5, 0.77, 0.999)]
    assert all((b > a).all() for a, b in zip(between, between[1:]))


def test_student_t_loss_is_its_negative_log_likelihood():
    rng = np.random.default_rng(0)
    out, y = rng.normal(0, 1, (3, 4, 3)).astype(np.float32), rng.normal(0, 2, (3, 4)).astype(np.float32)
    loc, scale, df = distributions._t_parameters(out.astype(np.float64))
    expected = -stats.t.logpdf(y, df, loc, scale)
    loss, _ = distributions.pointwise_loss("student_t", jnp.asarray(out), jnp.asarray(y))
    np.testing.assert_allclose(np.asarray(loss), expected, rtol=1e-4, atol=1e-4)
    assert (stats.t.ppf(0.9, df) * scale + loc == distributions.quantile(
        "student_t", out.astype(np.float64), 0.9, np.zeros(3), np.ones(3))).all()


def test_negative_binomial_loss_is_its_negative_log_likelihood_and_quantiles_are_counts():
    rng = np.random.default_rng(1)
    out = rng.normal(0, 1, (3, 4, 2)).astype(np.float32)
    level, scale = np.array([0.0, 2.0, 9.0]), np.array([1.0, 1.5, 4.0])
    counts = rng.poisson(3, (3, 4)).astype(np.float32)
    y = np.stack(np.broadcast_arrays(counts, level[:, None], scale[:, None]), -1).astype(np.float32)
    mean, dispersion = distributions._nb_parameters(out.astype(np.float64), level[:, None], scale[:, None])
    expected = -stats.nbinom.logpmf(counts, 1 / dispersion, 1 / (1 + dispersion * mean))
    loss, _ = distributions.pointwise_loss("negative_binomial", jnp.asarray(out), jnp.asarray(y))
    np.testing.assert_allclose(np.asarray(loss), expected, rtol=1e-3, atol=1e-3)
    for q in (0.1, 0.5, 0.95):  # model units back to counts: non-negative integers
        back = distributions.quantile("negative_binomial", out, q, level, scale) * scale[:, None] + level[:, None]
        np.testing.assert_allclose(back, np.round(back), atol=1e-6)
        assert (back >= 0).all()


def test_a_missing_target_costs_nothing():
    out = jnp.zeros((1, 2, len(distributions.GRID)))
    loss, _ = distributions.pointwise_loss("quantiles", out, jnp.array([[1.0, jnp.nan]]))
    assert float(loss[0, 1]) == 0.0 and float(loss[0, 0]) > 0


def panel(counts=False, n=72, series=5):
    rng = np.random.default_rng(2)
    frames = []
    for s in range(series):
        t = np.arange(n)
        if counts:
            y = rng.negative_binomial(1.0, 0.3, n) * (rng.random(n) < 0.4)
        else:
            y = 20 + 4 * np.sin(2 * np.pi * t / 12) + 0.1 * s * t + rng.normal(0, 0.5, n)
        frames.append(pd.DataFrame({"unique_id": f"s{s}", "ds": pd.date_range("2001-01", periods=n, freq="MS"),
                                    "y": y.astype(float)}))
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="module")
def quantile_run():
    return js.train_series(panel(), id="unique_id", time="ds", target="y", horizon=6, distribution="quantiles", **FAST)


def test_forecast_reads_the_distribution(quantile_run, tmp_path):
    frame = js.forecast(quantile_run, level=[80, 95], quantiles=[0.1, 0.5, 0.9])
    order = ["jaxseries-lo-95", "jaxseries-lo-80", "jaxseries", "jaxseries-hi-80", "jaxseries-hi-95"]
    assert (np.diff(frame[order].to_numpy(), axis=1) > 0).all()
    np.testing.assert_allclose(frame["jaxseries_ql0.5"], frame["jaxseries"])
    np.testing.assert_allclose(frame["jaxseries_ql0.1"], frame["jaxseries-lo-80"])
    served = serving.load(js.export(quantile_run, tmp_path / "served"))
    pd.testing.assert_frame_equal(served.forecast(level=[80, 95]), js.forecast(quantile_run, level=[80, 95]),
                                  rtol=1e-4)
    own = js.forecast(quantile_run, level=0.8)
    widened = js.forecast(quantile_run, level=0.8, calibration={"level": 0.8, "horizon": 6, "widening": [0.5] * 6})
    np.testing.assert_allclose(widened.forecast, own.forecast)  # a calibration widens the interval, not the point
    assert (widened.lower < own.lower).all() and (widened.upper > own.upper).all()


def test_counts_forecast_counts_in_a_backtest():
    data = panel(counts=True)
    result = js.backtest(data, id="unique_id", time="ds", target="y", horizon=4, folds=2, level=0.8,
                         distribution="negative_binomial", **FAST)
    table = result.forecasts
    assert np.allclose(table[["lower", "upper"]], np.round(table[["lower", "upper"]])) and (table.lower >= 0).all()
    assert (table.lower <= table.upper).all() and np.isfinite(table.forecast).all() and (table.forecast > 0).all()
    assert 0 <= result.coverage <= 1 and len(result.calibration["widening"]) == 4
    run = js.train_series(data, id="unique_id", time="ds", target="y", horizon=4, distribution="negative_binomial",
                          **FAST)
    calibrated = js.forecast(run, calibration=result.calibration)  # widened, still whole counts
    assert np.allclose(calibrated[["lower", "upper"]], np.round(calibrated[["lower", "upper"]]))


@pytest.mark.parametrize("change, options, words", [
    (lambda f: f.assign(y=f.y - 1), {"distribution": "negative_binomial"}, ["negative or not integers"]),
    (lambda f: f.assign(y=f.y + 0.5), {"distribution": "negative_binomial"}, ["negative or not integers"]),
    (lambda f: f, {"distribution": "gamma"}, ["distribution must be one of"]),
    (lambda f: f, {"distribution": "student_t", "loss": "mse"}, ["drop loss="]),
    (lambda f: f, {"distribution": "student_t", "strategy": "recursive"}, ["global direct model"]),
    (lambda f: f, {"distribution": "negative_binomial", "transform": "log"}, ["drop transform='log'"]),
])
def test_bad_distribution_options_are_refused_before_anything_is_written(tmp_path, change, options, words):
    with pytest.raises(ValueError) as caught:
        js.train_series(change(panel(counts=True)), id="unique_id", time="ds", target="y", horizon=4,
                        checkpoint_dir=tmp_path / "run", **FAST, **options)
    assert all(word in str(caught.value) for word in words), str(caught.value)
    assert not (tmp_path / "run").exists()


def test_the_cli_trains_evaluates_and_forecasts_a_distribution(tmp_path, capsys):
    from jaxseries import cli

    panel().to_csv(tmp_path / "panel.csv", index=False)
    common = ["--id", "unique_id", "--time", "ds", "--target", "y", "--horizon", "4", "--steps", "20",
              "--hidden-dim", "8", "--no-progress", "--members", "2"]
    assert cli.main(["train", str(tmp_path / "panel.csv"), *common, "--holdout", "4", "--distribution", "student_t",
                     "--out", str(tmp_path / "run")]) == 0
    assert "holdout, 4-step forecast of 5 series" in capsys.readouterr().out
    assert cli.main(["forecast", str(tmp_path / "run"), "--level", "80", "95", "--csv", str(tmp_path / "f.csv")]) == 0
    frame = pd.read_csv(tmp_path / "f.csv")
    assert len(frame) == 20 and (frame["jaxseries-lo-80"] < frame["jaxseries-hi-80"]).all()
    report = js.evaluate(js.load(tmp_path / "run"), level=[80, 95])
    assert set(report["intervals"].columns) >= {"coverage%", "MSIS"} and np.isfinite(report["probabilistic"]).all().all()
