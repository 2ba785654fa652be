"""Covariates that move the forecast: the horizon decoder sees each step's known features, and its reference row's."""

import os
import sys

import numpy as np
import pandas as pd
import pytest

import jaxseries as js
from jaxseries import encoding

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "benchmarks"))
from decoder import leading, price, promotion  # noqa: E402  (the benchmark's generated series)

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")


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
    without, _, _ = backtest_errors(frame)
    # noise std 3: its MAE is 2.4; the driver's effect alone is several times that
    assert with_driver < 2.2 * 2.4, (effect, with_driver)
    assert with_driver < 0.6 * naive and with_driver < 0.6 * without, (effect, with_driver, naive, without)


def test_a_past_driver_leading_by_three_steps_improves_the_first_steps():
    frame = leading()
    _, first_with, _ = backtest_errors(frame, covariates=["driver"])
    _, first_without, _ = backtest_errors(frame)
    assert first_with < 0.9 * first_without, (first_with, first_without)


def test_decoder_rows_carry_the_step_and_its_reference_rows_known_features():
    frame = promotion(120)
    series = encoding.load_series(frame, "sales", None, False, [], ["promo"], "direct")
    args = encoding.check_series_args(14, None, None, None, "direct", "none", "auto", None)
    plan = encoding.plan_windows(series, args, "direct", "auto", None, 100)
    spec, encoded = encoding.fit_scaling(series, plan, 100, "none", True, 0)
    assert spec.decoder == "horizon" and spec.normalize == "season" and spec.season == 7
    origin = 60
    x = encoded.direct(np.array([origin]), with_targets=False)[0]
    q = encoded.known.shape[1]
    assert x.shape == (spec.context + 14, 1 + 2 * q + 2)
    decoder = x[spec.context:]
    for k in range(1, 15):
        reference = origin + k - 7 * int(np.ceil(k / 7))
        np.testing.assert_allclose(decoder[k - 1, 1 : 1 + q], encoded.known[origin + k])
        np.testing.assert_allclose(decoder[k - 1, 1 + q : 1 + 2 * q], encoded.known[reference])
        assert decoder[k - 1, -2] == pytest.approx(k / 14) and decoder[k - 1, -1] == 1
    assert not x[: spec.context, 1 + q :].any()  # context rows leave the decoder's columns empty
    assert not decoder[:, 0].any()  # no target value is read after the origin


def test_a_run_saved_before_the_decoder_still_loads_and_forecasts_the_same():
    run = js.load(os.path.join(FIXTURES, "series-run-last-head"))
    assert run.model_config.head == "last" and encoding.SeriesSpec(**run.extra["series"]).decoder == "last"
    expected = pd.read_csv(os.path.join(FIXTURES, "series-run-last-head-forecast.csv"), index_col=0, parse_dates=True)
    np.testing.assert_allclose(js.forecast(run)["forecast"].to_numpy(), expected["forecast"].to_numpy(), rtol=1e-5)
