"""Exponential smoothing with its own season and form (ets.py): its recursion equals the textbook equations of each
form written as a plain loop, its coefficients stay in their bounds, it is right on constants and pure seasons, a
positive series gets a positive forecast, and a run that mixes it in stores it and forecasts with it."""

import dataclasses

import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

import jaxseries as js
from jaxseries import ets, theta

FAST = dict(steps=40, eval_every=10, hidden_dim=8, progress=False)


def textbook(form, alpha, beta, gamma, phi, level, slope, season, y):
    """Hyndman et al. (2008, table 2.3) one row at a time, each form in its own equations (multiplicative errors
    as relative ones): the final (level, slope, season by phase) and the one-step means."""
    error, trend, kind = form
    season, means = list(season), []
    for t, value in enumerate(y):
        s = season[t % len(season)]
        base = level + phi * slope
        mean = base * s if kind == "M" else base + s if kind == "A" else base
        e = (value - mean) / mean if error == "M" else value - mean
        means.append(mean)
        if kind == "M":  # multiplicative season: corrections relative to the season
            new_level = base + alpha * (mean * e if error == "M" else e) / s
            slope = phi * slope + beta * (mean * e if error == "M" else e) / s
            season[t % len(season)] = s + gamma * (mean * e if error == "M" else e) / base
        else:
            correction = mean * e if error == "M" else e
            new_level = base + alpha * correction
            slope = phi * slope + beta * correction
            if kind == "A":
                season[t % len(season)] = s + gamma * correction
        level = new_level
    return level, slope, season, np.array(means)


@pytest.mark.parametrize("form", [("A", "N", "N"), ("M", "Ad", "N"), ("A", "A", "A"), ("M", "Ad", "A"),
                                  ("M", "A", "M"), ("M", "N", "M")])
def test_the_recursion_equals_each_forms_own_equations(form):
    rng = np.random.default_rng(3)
    season = 4
    y = 20 + np.arange(22) * 0.3 + np.tile([2.0, -1.0, 0.5, -1.5], 6)[:22] + rng.normal(0, 0.5, 22)
    free = {"alpha": 0.3, "beta": -0.5, "gamma": 0.2, "phi": 0.4, "level": 19.0, "slope": 0.25,
            "season": [0.1, -0.05, 0.02, -0.07] if form[2] == "M" else [1.5, -0.8, 0.6, -1.3]}
    params = {k: jnp.asarray(v, jnp.float32).reshape((1, 1, -1) if k == "season" else (1, 1)) for k, v in free.items()}
    forms = ets.forms_of([form])
    alpha, beta, gamma, phi, start = (np.asarray(c, np.float64).reshape(-1) for c in ets.coefficients(params, forms))
    lengths = 18  # the last 4 columns are padding: the states stop at the series' end
    observed = (np.arange(22) < lengths).astype(np.float32)[None]
    (level, slope, _, states), likelihood = ets.recursion(params, forms, jnp.asarray(y, jnp.float32)[None],
                                                          jnp.asarray(observed), jnp.asarray([lengths]))
    want_level, want_slope, want_season, means = textbook(
        form, alpha[0], beta[0], gamma[0], phi[0], 19.0, 0.25 if form[1] != "N" else 0.0,
        start if form[2] != "N" else np.zeros(season), y[:lengths])
    np.testing.assert_allclose(float(level[0, 0]), want_level, rtol=1e-4)
    np.testing.assert_allclose(float(slope[0, 0]), want_slope, rtol=1e-4, atol=1e-5)
    if form[2] != "N":
        np.testing.assert_allclose(np.asarray(states)[0, 0], want_season, rtol=1e-4, atol=1e-5)
    r = y[:lengths] - means
    n = lengths
    want = n * np.log(np.mean((r / means) ** 2)) + 2 * np.log(np.abs(means)).sum() if form[0] == "M" \
        else n * np.log(np.mean(r**2))
    np.testing.assert_allclose(float(likelihood[0, 0]), want, rtol=1e-4)


def test_the_coefficients_stay_in_their_bounds_however_far_the_parameters_go():
    forms = ets.forms_of(ets.FORMS)
    for value in (-1e4, -3.0, 0.0, 3.0, 1e4):
        shape = (2, len(ets.FORMS))
        params = {k: jnp.full(shape, value) for k in ("alpha", "beta", "gamma", "phi")}
        params["season"] = jnp.full((*shape, 4), value)
        alpha, beta, gamma, phi, start = (np.asarray(c) for c in ets.coefficients(params, forms))
        assert np.all((alpha > 0) & (alpha < 1)) and np.all((beta >= 0) & (beta <= alpha))
        assert np.all((gamma >= 0) & (gamma <= 1 - alpha + 1e-7))
        damped = np.asarray(forms.damped)[0]
        assert np.all((phi[:, damped] >= 0.8) & (phi[:, damped] <= 0.98 + 1e-6)) and np.all(phi[:, ~damped] == 1)


def fit_one(values, season, horizon):
    values = np.asarray(values, float)[None]
    return ets.fitted(values, np.ones_like(values), np.array([values.shape[1]]), season, horizon)


def test_a_constant_forecasts_itself_and_a_pure_season_itself():
    np.testing.assert_allclose(ets.forecast(fit_one(np.full(40, 7.0), 4, 6), 6), 7.0, rtol=1e-3)
    season = np.array([10.0, 14.0, 9.0, 7.0])
    states = fit_one(np.tile(season, 10)[:38], 4, 6)  # ends two rows into a season
    np.testing.assert_allclose(ets.forecast(states, 6)[0], np.tile(season, 3)[2:8], rtol=0.01)
    # the stored states forecast from any offset: steps 3.. equal the forecast's third step on
    np.testing.assert_allclose(ets.forecast(states, 4, offset=2), ets.forecast(states, 6)[:, 2:], rtol=1e-9)


def test_a_series_forecast_is_its_best_forms_mean_with_akaike_weights():
    t = np.arange(300)  # long, a steady trend and a season, and a little noise: without any, every form fits to
    # rounding and which one Akaike's criterion ranks first depends on the host's arithmetic
    noise = np.random.default_rng(0).normal(0, 0.2, 300)
    states = fit_one(100 + 0.5 * t + 5 * np.sin(2 * np.pi * t / 12) + noise, 12, 12)
    weight = states[..., 0]
    assert states.shape == (1, ets.KEPT, 5 + 12) and np.all(weight >= 0) and np.isclose(weight.sum(), 1.0)
    assert np.all(np.diff(weight[0]) <= 1e-12)  # the best form first
    each = [ets.forecast(states[:, k, 1:], 12) for k in range(ets.KEPT)]  # a form alone: states saved before mixing
    np.testing.assert_allclose(ets.forecast(states, 12), sum(w * f for w, f in zip(weight[0], each)), rtol=1e-12)
    # the trend and season are found: with the starting states moved in steps of their own size the error is 7e-4
    # (5e-3 when they moved by the learning rate itself and the slope overshot)
    np.testing.assert_allclose(ets.forecast(states, 12)[0], 100 + 0.5 * (300 + np.arange(12))
                               + 5 * np.sin(2 * np.pi * (300 + np.arange(12)) / 12), rtol=2e-3)


def test_a_positive_series_gets_a_positive_forecast_and_a_missing_row_is_stepped_over():
    falling = 100 * 0.8 ** np.arange(30) + 0.5
    assert (ets.forecast(fit_one(falling, 1, 12), 12) > 0).all()
    late = np.r_[np.zeros(12), 100 + 5 * np.sin(np.arange(36) * np.pi / 6)]  # its first season all zero
    np.testing.assert_allclose(ets.forecast(fit_one(late, 12, 6), 6), 100, rtol=0.1)
    y = np.tile([10.0, 14.0, 9.0, 7.0], 8) + np.arange(32) * 0.1
    observed = np.ones((1, 32))
    observed[0, 13] = 0
    gap = ets.fitted(np.where(observed > 0, y, 0.0), observed, np.array([32]), 4, 4)
    assert np.isfinite(gap).all()
    np.testing.assert_allclose(ets.forecast(gap, 4)[0], y[-4:] + 0.4, rtol=0.05)


def monthly(values, start="2000-01-01"):
    return pd.Series(values, index=pd.date_range(start, periods=len(values), freq="MS"))


def test_a_run_that_mixes_it_in_stores_it_and_forecasts_with_it(tmp_path):
    t = np.arange(84)
    rng = np.random.default_rng(1)
    panel = pd.concat([pd.DataFrame({"id": key, "ds": monthly(t).index,
                                     "y": 100 * np.exp(0.01 * t * k + 0.2 * np.sin(2 * np.pi * t / 12)
                                                       + rng.normal(0, 0.03, 84))}) for k, key in enumerate("ab")])
    run = js.train_series(panel, id="id", time="ds", horizon=6, holdout=6, checkpoint_dir=tmp_path / "run", **FAST)
    assert run.extra["panel"]["combine"] == "theta+damped+ets"  # "auto" on monthly data
    stored = run.extra["panel_series"]
    assert np.asarray(stored["ets"]).shape == (2, ets.KEPT, 5 + 12) and "ets_train" not in stored
    combined = js.forecast(run)["forecast"].to_numpy()
    without = dataclasses.replace(run, extra={**run.extra, "panel": {**run.extra["panel"], "combine": "theta+damped"}})
    network_and_theta = js.forecast(without)["forecast"].to_numpy()
    seasonal = np.asarray(stored["seasonal"])
    own = np.log(ets.forecast(np.asarray(stored["ets"]), 6)) - seasonal[:, np.arange(1, 7) % 12]
    classical = theta.partner(theta.Smoothed(np.asarray(stored["theta"]), None, np.asarray(stored["damped"])), 6)
    share = run.extra["panel"]["partner_share"]
    # the partner is the mean of Theta's and the damped trend's, and the exponential smoothing's, in log units
    ratio = np.exp(share * ((classical + own) / 2 - classical)).reshape(-1)
    np.testing.assert_allclose(combined, network_and_theta * ratio, rtol=1e-5)
    np.testing.assert_allclose(js.forecast(js.load(tmp_path / "run"))["forecast"], combined, rtol=1e-6)
    data = panel.groupby("id").head(78)  # from the data in hand: fitted again on the same rows, the same forecast
    np.testing.assert_allclose(js.forecast(run, data=data)["forecast"].to_numpy(), combined, rtol=1e-4)
    unseen = data.assign(id=data.id + "2", y=data.y * 3)
    assert np.isfinite(js.forecast(run, data=unseen)["forecast"]).all()
    bounds = js.forecast(run, level=0.5)  # intervals: the validation windows mix in the partner too
    assert (bounds.lower < bounds.forecast).all() and (bounds.forecast < bounds.upper).all()


def test_yearly_data_and_covariates_keep_auto_without_it():
    years = pd.Series(100 + np.arange(30.0) ** 1.2, index=pd.date_range("1990-01-01", periods=30, freq="YS"))
    assert js.train_series(years, horizon=3, holdout=3, **FAST).extra["panel"]["combine"] == "theta+damped"
    explicit = js.train_series(years, horizon=3, holdout=3, combine="theta+damped+ets", **FAST)
    assert np.asarray(explicit.extra["panel_series"]["ets"]).shape == (1, ets.KEPT, 5 + 1)
    assert np.isfinite(js.forecast(explicit)["forecast"]).all()


def test_a_long_series_in_a_panel_of_short_ones_changes_none_of_theirs():
    # chunks of like lengths: the short series are smoothed and fitted over their own rows, as without the long one
    rng = np.random.default_rng(0)
    short = [50 + np.cumsum(rng.normal(0, 1, 40)) for _ in range(6)]
    long = 50 + np.cumsum(rng.normal(0, 1, 600))  # past SHORT (512): a class of its own

    def right_aligned(series, width):
        values = np.zeros((len(series), width))
        for row, y in enumerate(series):
            values[row, width - len(y):] = y
        return values, (values != 0).astype(float)

    alone, mixed = theta.smoothed(*right_aligned(short, 40), damped=True), \
        theta.smoothed(*right_aligned(short + [long], 600), damped=True)
    for part in ("lines", "alphas", "damped"):
        np.testing.assert_allclose(getattr(mixed, part)[:6], getattr(alone, part), rtol=1e-12, atol=1e-12)
    lengths = np.array([40] * 6 + [600])
    values, observed = ets.first_rows(np.concatenate(short + [long]), np.r_[0, np.cumsum(lengths)[:-1]], lengths)
    np.testing.assert_array_equal(ets.fitted(values, observed, lengths, 1, 4)[:6],
                                  ets.fitted(values[:6, :40], observed[:6, :40], lengths[:6], 1, 4))
