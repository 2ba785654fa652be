"""The classical partner: Theta's smoothing (and the coefficient the windows' smoothed level uses) and the damped
trend's equal plain loops, both are right on constants (Theta on lines), and a combined forecast is the mean of the
network's and the partner's in transformed units."""

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


def plain_damped(z: np.ndarray, horizon: int) -> np.ndarray:
    """The damped trend as written in theta.py's doc, one series and one (alpha, beta, phi) at a time; NaN: missing."""
    best = None
    for alpha, beta, phi in zip(*theta.DAMPED_GRID):
        level, trend, squared = z[0], 0.0, 0.0
        for value in z[1:]:
            ahead = level + phi * trend
            error = 0.0 if np.isnan(value) else value - ahead
            squared += error**2
            level, trend = ahead + alpha * error, phi * trend + alpha * beta * error
        if best is None or squared < best[0] - 1e-12:
            best = (squared, level, trend, phi)
    _, level, trend, phi = best
    return np.array([level + trend * sum(phi**k for k in range(1, h + 1)) for h in range(1, horizon + 1)])


def test_the_damped_trend_over_padded_series_with_a_gap_equals_a_plain_loop():
    rng = np.random.default_rng(2)
    lengths = [1, 3, 12, 30]
    width = max(lengths) + 2
    values, observed = np.full((len(lengths), width), 55.0), np.zeros((len(lengths), width))  # padding: never read
    series = [np.cumsum(rng.normal(0.2, 1.0, n)) for n in lengths]
    series[3][[7, 20]] = np.nan  # missing rows move the state on without a correction
    for row, z in enumerate(series):
        values[row, width - len(z):], observed[row, width - len(z):] = np.nan_to_num(z), np.isfinite(z)
    smoothed = theta.smoothed(values, observed, damped=True)
    got = theta.damped_forecast(smoothed.damped, 5)
    for row, z in enumerate(series):
        np.testing.assert_allclose(got[row], plain_damped(z, 5), rtol=1e-9, atol=1e-9)
    assert ((smoothed.damped[:, 2] > 0) & (smoothed.damped[:, 2] < 1)).all()  # phi damps
    # the offset form (validation windows forecast from an earlier origin): steps offset + 1 ..
    np.testing.assert_allclose(theta.damped_forecast(smoothed.damped, 3, offset=2), got[:, 2:5], rtol=1e-12)
    assert theta.smoothed(values, observed).damped is None  # fitted only when asked


def test_a_constant_forecasts_itself_and_a_line_its_half_slope_drift():
    t = np.arange(30, dtype=float)
    values = np.stack([np.full(30, 4.0), 2.0 + 0.5 * t])
    line = theta.smoothed(values, np.ones_like(values)).lines
    np.testing.assert_allclose(theta.forecast(line, 3)[0], 4.0)
    # on an exact line the one-step errors are smallest at alpha 1: the level is the last value, drift half the slope
    np.testing.assert_allclose(theta.forecast(line, 3)[1], values[1, -1] + 0.25 * np.arange(1, 4))
    damped = theta.smoothed(values, np.ones_like(values), damped=True)
    np.testing.assert_allclose(theta.damped_forecast(damped.damped, 3)[0], 4.0)
    np.testing.assert_allclose(theta.partner(damped, 3)[0], 4.0)
    rising = theta.damped_forecast(damped.damped, 3)[1]  # a line: rising, each step less than the one before
    assert (np.diff(np.r_[values[1, -1], rising]) > 0).all() and (np.diff(rising, 2) < 0).all()
    noise = 4.0 + np.random.default_rng(3).normal(0, 0.1, (1, 60))
    joined = theta.smoothed(np.concatenate([values, noise[:, :30]]), np.ones((3, 30)), damped=True).damped[:, 3]
    assert joined.tolist() == [0.0, 1.0, 0.0]  # by Akaike's criterion: no trend to damp in a constant or in noise


def monthly(values):
    return pd.Series(np.asarray(values, float), index=pd.date_range("2000-01", periods=len(values), freq="MS"))


def test_mix_gives_theta_its_share():
    rng = np.random.default_rng(0)
    out, partner = rng.normal(size=(3, 4, 6)), rng.normal(size=(4, 6))
    np.testing.assert_allclose(theta.mix(out, partner, 0.25), 0.75 * out + 0.25 * partner[None])
    np.testing.assert_allclose(theta.mix(out, partner), (out + partner[None]) / 2)


def test_a_network_trained_on_few_windows_gets_less_than_half():
    cap = theta.SERIES_WINDOWS
    alone = [theta.share_for([w]) for w in (0, 1, 10, cap - 1, cap, 10 * cap, 10**6)]
    assert alone[0] == 1.0 and all(a > b for a, b in zip(alone[:4], alone[1:5]))  # the partner's, falling
    assert alone[4] == alone[5] == alone[6] == pytest.approx(1 - (1 - theta.SHARE) * cap / theta.FULL_WINDOWS)
    assert theta.SHARE < alone[-1] < 1.0
    many = -(-theta.FULL_WINDOWS // cap)  # series enough to fill FULL_WINDOWS at their cap each
    assert theta.share_for([10**6] * many) == theta.share_for([cap] * 10**3) == theta.SHARE  # the even mean
    assert theta.share_for([10**6] * (many - 1)) > theta.SHARE
    assert theta.share_for([1] * theta.FULL_WINDOWS) == theta.SHARE  # many short series count as much as few long


def test_a_combined_forecast_mixes_the_networks_and_the_partners_in_log_units():
    t = np.arange(84)
    series = monthly(100 * np.exp(0.01 * t + 0.2 * np.sin(2 * np.pi * t / 12)
                                  + np.random.default_rng(1).normal(0, 0.03, 84)))
    run = js.train_series(series, horizon=6, holdout=6, combine="theta+damped", **FAST)
    promo = (np.arange(84) % 7 == 0).astype(float)
    with_driver = js.train_series(pd.DataFrame({"y": series, "promo": promo}), target="y", future_covariates=["promo"],
                                  horizon=6, holdout=6, steps=1, progress=False)
    assert with_driver.extra["panel"]["combine"] is None  # Theta would halve the driver's effect
    combined = js.forecast(run)["forecast"].to_numpy()
    alone = dataclasses.replace(run, extra={**run.extra, "panel": {**run.extra["panel"], "combine": None}})
    network = js.forecast(alone)["forecast"].to_numpy()
    seasonal = np.asarray(run.extra["panel_series"]["seasonal"])[0]
    stored = run.extra["panel_series"]
    damped = np.asarray(stored["damped"])
    assert damped[0, 3] == 1.0  # a trend: the damped trend joins
    classical = (theta.forecast(np.asarray(stored["theta"]), 6) + theta.damped_forecast(damped, 6)) / 2
    partner = np.exp(classical[0] + seasonal[np.arange(1, 7) % 12])
    share = run.extra["panel"]["partner_share"]
    assert share == theta.share_for([84 - 3 * 6])  # rows less holdout, validation and one horizon of targets
    np.testing.assert_allclose(combined, network ** (1 - share) * partner**share, rtol=1e-5)
    older = {key: value for key, value in run.extra["panel"].items() if key != "partner_share"}  # saved before it
    np.testing.assert_allclose(js.forecast(dataclasses.replace(run, extra={**run.extra, "panel": older}))["forecast"],
                               np.sqrt(network * partner), rtol=1e-5)  # the even mean, as it was made
    # from the data as from the stored rows
    np.testing.assert_allclose(js.forecast(run, data=series[:-6])["forecast"].to_numpy(), combined, rtol=1e-5)
    theta_only = js.train_series(series, horizon=6, holdout=6, combine="theta", **FAST)
    assert "damped" not in theta_only.extra["panel_series"]
    partner = np.exp(theta.forecast(np.asarray(theta_only.extra["panel_series"]["theta"]), 6)[0]
                     + seasonal[np.arange(1, 7) % 12])
    alone = dataclasses.replace(theta_only, extra={**theta_only.extra, "panel": {**theta_only.extra["panel"],
                                                                                 "combine": None}})
    np.testing.assert_allclose(js.forecast(theta_only)["forecast"].to_numpy(),
                               js.forecast(alone)["forecast"].to_numpy() ** (1 - share) * partner**share, rtol=1e-5)


def test_constant_and_purely_seasonal_series_keep_their_shape():
    constant = js.train_series(monthly(np.full(72, 7.0)), horizon=6, holdout=6, **FAST)
    np.testing.assert_allclose(js.forecast(constant)["forecast"].to_numpy(), 7.0, rtol=0.02)
    season = 50 + 10 * np.sin(2 * np.pi * np.arange(12) / 12)
    seasonal = js.train_series(monthly(np.tile(season, 7)), horizon=6, holdout=6, **FAST)
    np.testing.assert_allclose(js.forecast(seasonal)["forecast"].to_numpy(), season[6:], rtol=0.03)  # rows 78-83


def test_an_unknown_partner_is_refused_before_anything_is_written(tmp_path):
    with pytest.raises(ValueError, match=r"combine must be 'theta' .*'theta\+damped' .*, None .* or 'auto'"):
        js.train_series(monthly(np.arange(1.0, 61.0)), horizon=3, combine="ets", checkpoint_dir=tmp_path / "run",
                        **FAST)
    assert not (tmp_path / "run").exists()

