"""The Theta partner: its smoothing (and the coefficient the windows' smoothed level uses) equals a plain loop, its
lines are right on lines and constants, and a combined forecast is the mean of the network's and Theta's in
transformed units."""

import dataclasses

import numpy as np
import pandas as pd
import pytest

import jaxseries as js
from jaxseries import theta

FAST = dict(steps=60, eval_every=10, hidden_dim=8, progress=False)


def plain_smoothing(z: np.ndarray) -> tuple[float, float]:
    """Simple exponential smoothing's alpha (the grid's, by one-step squared error) and final level, one alpha at a
    time."""
    best = None
    for alpha in theta.ALPHAS:
        level, squared = z[0], 0.0
        for value in z:
            squared += (value - level) ** 2
            level += alpha * (value - level)
        if best is None or squared < best[0] - 1e-12:
            best = (squared, alpha, level)
    return best[1], best[2]


def plain_theta(z: np.ndarray, horizon: int) -> np.ndarray:
    """Theta as Hyndman & Billah write it, one series at a time."""
    n, t = len(z), np.arange(len(z))
    slope = np.polyfit(t, z, 1)[0] if n > 1 else 0.0
    alpha, level = plain_smoothing(z)
    return np.array([level + slope / 2 * (h - 1 + (1 - (1 - alpha) ** n) / alpha) for h in range(1, horizon + 1)])


def test_the_smoothing_over_padded_series_equals_a_plain_loop():
    rng = np.random.default_rng(0)
    lengths = [1, 2, 5, 17, 40]
    width = max(lengths) + 3
    values, observed = np.zeros((len(lengths), width)), np.zeros((len(lengths), width))
    series = [np.cumsum(rng.normal(0.1, 1.0, n)) + 5 for n in lengths]
    for row, z in enumerate(series):
        values[row, width - len(z):], observed[row, width - len(z):] = z, 1.0
    values[:, :3] = 123.0  # padding is never read
    smoothed = theta.smoothed(values, observed)
    got = theta.forecast(smoothed.lines, 7)
    for row, z in enumerate(series):
        np.testing.assert_allclose(got[row], plain_theta(z, 7), rtol=1e-9, atol=1e-9)
        assert smoothed.alphas[row] == pytest.approx(plain_smoothing(z)[0])  # the windows' smoothed level's too
    assert ((smoothed.alphas > 0) & (smoothed.alphas <= 1)).all()


def test_a_constant_forecasts_itself_and_a_line_its_half_slope_drift():
    t = np.arange(30, dtype=float)
    values = np.stack([np.full(30, 4.0), 2.0 + 0.5 * t])
    line = theta.smoothed(values, np.ones_like(values)).lines
    np.testing.assert_allclose(theta.forecast(line, 3)[0], 4.0)
    # on an exact line the one-step errors are smallest at alpha 1: the level is the last value, drift half the slope
    np.testing.assert_allclose(theta.forecast(line, 3)[1], values[1, -1] + 0.25 * np.arange(1, 4))


def monthly(values):
    return pd.Series(np.asarray(values, float), index=pd.date_range("2000-01", periods=len(values), freq="MS"))


def test_mix_gives_theta_its_share():
    rng = np.random.default_rng(0)
    out, partner = rng.normal(size=(3, 4, 6)), rng.normal(size=(4, 6))
    np.testing.assert_allclose(theta.mix(out, partner, 0.25), 0.75 * out + 0.25 * partner[None])
    np.testing.assert_allclose(theta.mix(out, partner), (out + partner[None]) / 2)


def test_a_combined_forecast_mixes_the_networks_and_thetas_in_log_units():
    t = np.arange(84)
    series = monthly(100 * np.exp(0.01 * t + 0.2 * np.sin(2 * np.pi * t / 12)
                                  + np.random.default_rng(1).normal(0, 0.03, 84)))
    run = js.train_series(series, horizon=6, holdout=6, **FAST)
    assert run.extra["panel"]["combine"] == "theta"  # "auto": no covariates
    with_driver = js.train_series(pd.DataFrame({"y": series, "promo": (np.arange(84) % 7 == 0).astype(float)}), target="y",
                                  future_covariates=["promo"], horizon=6, holdout=6, steps=1, progress=False)
    assert with_driver.extra["panel"]["combine"] is None  # Theta would halve the driver's effect
    combined = js.forecast(run)["forecast"].to_numpy()
    alone = dataclasses.replace(run, extra={**run.extra, "panel": {**run.extra["panel"], "combine": None}})
    network = js.forecast(alone)["forecast"].to_numpy()
    seasonal = np.asarray(run.extra["panel_series"]["seasonal"])[0]
    partner = np.exp(theta.forecast(np.asarray(run.extra["panel_series"]["theta"]), 6)[0]
                     + seasonal[np.arange(1, 7) % 12])
    np.testing.assert_allclose(combined, np.sqrt(network * partner), rtol=1e-5)
    # from the data as from the stored rows
    np.testing.assert_allclose(js.forecast(run, data=series[:-6])["forecast"].to_numpy(), combined, rtol=1e-5)


def test_constant_and_purely_seasonal_series_keep_their_shape():
    constant = js.train_series(monthly(np.full(72, 7.0)), horizon=6, holdout=6, **FAST)
    np.testing.assert_allclose(js.forecast(constant)["forecast"].to_numpy(), 7.0, rtol=0.02)
    season = 50 + 10 * np.sin(2 * np.pi * np.arange(12) / 12)
    seasonal = js.train_series(monthly(np.tile(season, 7)), horizon=6, holdout=6, **FAST)
    np.testing.assert_allclose(js.forecast(seasonal)["forecast"].to_numpy(), season[6:], rtol=0.03)  # rows 78-83


def test_an_unknown_partner_is_refused_before_anything_is_written(tmp_path):
    with pytest.raises(ValueError, match=r"combine must be 'theta' .*, None .* or 'auto'"):
        js.train_series(monthly(np.arange(1.0, 61.0)), horizon=3, combine="ets", checkpoint_dir=tmp_path / "run",
                        **FAST)
    assert not (tmp_path / "run").exists()

