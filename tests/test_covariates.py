"""Covariates that move the forecast: the horizon decoder sees each step's known features."""

import os
import sys

import numpy as np
import pytest

import jaxseries as js
import jax.numpy as jnp

from jaxseries import encoding
from jaxseries.config import SeriesOptions
from jaxseries.panel import load_panel

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "benchmarks"))
from decoder import leading, price, promotion  # noqa: E402  (the benchmark's generated series)


def backtest_errors(frame, **options):
    """MAE over every step, and over steps 1-3, of a 24-origin backtest; seasonal naive's MAE."""
    table = js.backtest(frame, target="sales", horizon=14, folds=24, stride=3, level=None, progress=False,
                        **options).forecasts
    error = (table["actual"] - table["forecast"]).abs()
    first = table["step"] <= 3
    return error.mean(), error[first].mean(), (table["actual"] - table["seasonal_naive"]).abs().mean()


@pytest.mark.parametrize("make, column, effect", [(promotion, "promo", "+30 on promotion days"),
                                                 (price, "price", "-6 per unit of price")])
def test_a_known_future_driver_moves_the_forecast(make, column, effect):
    frame = make()
    with_driver, _, naive = backtest_errors(frame, future_covariates=[column])
    without, _, _ = backtest_errors(frame, combine=None)  # the same network without it (a driver's run has no
    # classical partner, which cannot see the driver)
    # noise std 3: its MAE is 2.4; the driver's effect alone is several times that
    assert with_driver < 2.2 * 2.4, (effect, with_driver)
    assert with_driver < 0.6 * naive and with_driver < 0.6 * without, (effect, with_driver, naive, without)


def test_a_past_driver_leading_by_three_steps_improves_the_first_steps():
    frame = leading()
    _, first_with, _ = backtest_errors(frame, covariates=["driver"])
    _, first_without, _ = backtest_errors(frame, combine=None)
    assert first_with < 0.9 * first_without, (first_with, first_without)


def test_decoder_rows_carry_each_steps_known_features_and_no_value_after_the_origin():
    frame = promotion(120)
    panel = load_panel(frame, target="sales", future_covariates=["promo"])
    options = SeriesOptions(horizon=14, calendar=False, smoothed_level=False)  # the columns read here only
    spec, levels, _ = encoding.fit_spec(panel, panel.lengths, options, 14)
    arrays, width = encoding.build_arrays(panel, spec, levels, np.zeros((1, spec.season)), panel.lengths)
    origin = 60
    x = np.asarray(spec.layout().gather(arrays, jnp.array([[0, origin]]), with_targets=False)[0][0])
    promo = (frame["promo"].to_numpy() - spec.future_center[0]) / spec.future_scale[0]
    column = origin - (width - len(frame))  # the origin's row of the series
    assert x.shape == (spec.context + 14, 2 + 1 + 2) and spec.season == 7
    decoder = x[spec.context:]
    for k in range(1, 15):
        assert decoder[k - 1, 2] == pytest.approx(promo[column + k])  # the step's own known feature
        assert decoder[k - 1, -2] == pytest.approx(k / 14) and decoder[k - 1, -1] == 1
    np.testing.assert_allclose(x[: spec.context, 2], promo[column - spec.context + 1 : column + 1], rtol=1e-6)
    assert not x[: spec.context, 3:].any()  # context rows leave the decoder's columns empty
    assert not decoder[:, :2].any()  # no target value (nor its observed flag) is read after the origin


def test_a_covariate_in_tiny_units_is_standardized_like_the_same_one_in_large_units():
    frame = promotion(120)
    windows = {}
    for units in (1e-13, 1.0, 1e13):
        scaled = frame.assign(price=np.linspace(1, 2, len(frame)) * units, flat=np.full(len(frame), 5 * units))
        panel = load_panel(scaled, target="sales", future_covariates=["price", "flat"])
        options = SeriesOptions(horizon=14, calendar=False, smoothed_level=False)
        spec, levels, _ = encoding.fit_spec(panel, panel.lengths, options, 14)
        arrays, _ = encoding.build_arrays(panel, spec, levels, np.zeros((1, spec.season)), panel.lengths)
        windows[units] = np.asarray(spec.layout().gather(arrays, jnp.array([[0, 60]]), with_targets=False)[0][0])
    for units in (1e-13, 1e13):
        np.testing.assert_allclose(windows[units], windows[1.0], rtol=1e-5, atol=1e-6)
    assert np.ptp(windows[1.0][:, 2]) > 0.5  # a varying column keeps its spread, in any units
    assert not windows[1e13][:, 3].any()  # a constant one is centred, not blown up from its rounding
