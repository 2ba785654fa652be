"""Exponential smoothing with its own season and form (Hyndman et al., 2002, 2008), the third piece of the classical
partner (`combine="theta+damped+ets"`): each series' errors additive or multiplicative, its trend none, additive or
damped, its season none, additive or multiplicative, every coefficient and starting state fitted, and the forecast
the mean of a series' best forms by AICc with Akaike weights (Kolassa, 2011), where AutoETS takes the best alone.

Theta and the damped trend read the values the network reads (transformed, our seasonal indices removed), so their
errors follow the network's decomposition. This one reads the raw values and fits its own season: on M1, M3 and
Tourism training parts that independence is what made it help where Theta did not (benchmarks/RESULTS.md). Every
form shares one recursion (error correction form; the error type changes only the likelihood):

    base_t = level_{t-1} + phi * slope_{t-1},   mean_t = base_t * s or base_t + s (s: the season's state m rows ago)
    r_t = y_t - mean_t,   level_t = base_t + alpha * r_t / s*,   slope_t = phi * slope_{t-1} + beta * r_t / s*,
    season_t = s + gamma * r_t (additive) or s + gamma * r_t / base_t (multiplicative),

s* the multiplicative season (1 otherwise). All series and forms run at once, fitted by Adam on the negative
log-likelihood inside one compiled call (no grid: the starting states are fitted too, which short series need).
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxseries import theta

# (error, trend, season); additive errors with a multiplicative season are left out, as AutoETS leaves them
FORMS = tuple((e, t, s) for e in "AM" for t in ("N", "A", "Ad") for s in "NAM" if not (e == "A" and s == "M"))
STEPS, LEARNING_RATE = 100, 0.1  # 300 at 0.05 scored the same on M3 monthly (benchmarks/RESULTS.md) at 3x the time
# Adam steps each parameter by about LEARNING_RATE in its own units; the starting states move in steps of their own
# size instead (series scaled to about 1: a level near 1, a slope about a hundredth of it a row, season deviations
# about a tenth). At 0.1 a slope overshot for all 100 steps and trend forms fitted badly (co2: a trend and a season
# far less likely than a season alone, which it nests). Alone this gained on MASE (13 of 18 training-part pairs),
# not on sMAPE (9); with the forms mixed (KEPT), better than before on both in 14 of 18 (benchmarks/RESULTS.md).
STATE_STEPS = {"level": 0.1, "slope": 0.01, "season": 0.1}
KEPT = 4  # the forms a series' forecast mixes: its best by AICc (the rest carry almost no Akaike weight)
CHUNK = 1024  # series fitted at once (bounds the [rows, series, forms, season] work of large panels)
SMALLEST = 1e-3  # a mean or base below this (series scaled to about 1) is held there in divisions and logs


def fitted(values: np.ndarray, observed: np.ndarray, lengths: np.ndarray, season: int, horizon: int) -> np.ndarray:
    """[S, KEPT, 5 + season] each series' best forms after its last row: (Akaike weight, level, slope, phi, season
    kind 0/1/2, then the season's states for 1, 2, .. steps ahead), in the values' units. `values` [S, P] each
    series left-aligned (row 0 its first), `observed` 1 on its real rows (0: missing, or padding past its
    `lengths`). A positive series gets forms whose forecasts of `horizon` steps stay positive."""
    out = np.zeros((len(values), KEPT, 5 + season))
    for part in theta.alike_chunks(lengths, CHUNK):  # each chunk over its own longest series' rows
        rows = max(int(lengths[part].max()), 1)
        out[part] = _fitted(values[part, :rows], observed[part, :rows] > 0, lengths[part], season, horizon)
    return out


def first_rows(y: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """[S, max(lengths)] each series' first `lengths` values of the flat rows `y` (series s from row starts[s]),
    left-aligned, and 1 where a value is observed (0: missing, or past its length)."""
    column = np.arange(int(lengths.max()))[None]
    inside = column < lengths[:, None]
    values = np.where(inside, y[np.where(inside, starts[:, None] + column, 0)], np.nan)
    observed = np.isfinite(values)
    return np.where(observed, values, 0.0), observed


def forecast(states: np.ndarray, horizon: int, offset=0) -> np.ndarray:
    """[S, horizon] the forecasts of `fitted`'s rows at steps offset + 1 .. offset + horizon: each series' forms'
    mean with their weights. States of one form a series ([S, 4 + season], runs saved before forms were mixed) are
    read as that form alone."""
    states = np.asarray(states, np.float64)
    if states.ndim == 2:
        states = np.concatenate([np.ones((len(states), 1)), states], 1)[:, None]
    count, kept = states.shape[:2]
    weight = states[..., 0, None]
    offsets = np.repeat(np.broadcast_to(np.reshape(offset, -1), (count,)), kept)
    each = _form_forecast(states[..., 1:].reshape(count * kept, -1), horizon, offsets).reshape(count, kept, horizon)
    return np.sum(np.where(weight > 0, weight * each, 0.0), 1)


def _form_forecast(states: np.ndarray, horizon: int, offset) -> np.ndarray:
    """[S, horizon] one form's forecasts from its states (level, slope, phi, kind, season ahead) [S, 4 + season]."""
    season, kind = states.shape[1] - 4, states[:, 3, None]
    steps = np.reshape(offset, (-1, 1)) + np.arange(1, horizon + 1)[None]
    base = theta.damped_forecast(states, horizon, offset)  # (level, slope, phi) lead the row, as a damped trend's
    ahead = np.take_along_axis(states[:, 4:], np.broadcast_to((steps - 1) % season, (len(states), horizon)), 1)
    return np.where(kind == 1, base + ahead, np.where(kind == 2, base * ahead, base))


def _fitted(values, observed, lengths, season, horizon):
    forms = FORMS if season > 1 else tuple(f for f in FORMS if f[2] == "N")
    count = len(values)
    positive = np.all(np.where(observed, values > 0, True), 1)
    scale = _first_scale(values, observed, season)
    y = np.where(observed, values / scale[:, None], 0.0)
    starts = _starting_states(y, observed, lengths, season)
    # pad series to a power of two and rows to one up to 128 (then a multiple of 64: long rows cost more than a
    # compile), so a new panel seldom compiles a new program
    padded = 1 << max(count - 1, 0).bit_length()
    width = max(32, 1 << (values.shape[1] - 1).bit_length())
    width = width if width <= 128 else -(-values.shape[1] // 64) * 64
    rows = lambda a, columns=0: jnp.asarray(  # noqa: E731
        np.pad(a, [(0, padded - count)] + [(0, columns)] + [(0, 0)] * (a.ndim - 2)), jnp.float32)
    states, likelihood = _compiled_fit(forms, season)(
        rows(y, width - y.shape[1]), rows(observed, width - y.shape[1]),
        jnp.asarray(np.pad(lengths, (0, padded - count)), jnp.int32), *(rows(s) for s in starts))
    states, likelihood = np.asarray(states, np.float64)[:count], np.asarray(likelihood, np.float64)[:count]
    kept = _weighted(forms, states, likelihood, lengths, positive, season, horizon)
    kept[..., 1:3] *= scale[:, None, None]  # back to the values' units: level, slope and an additive season's states
    kept[..., 5:] *= np.where(kept[..., 4:5] == 1, scale[:, None, None], 1.0)
    return kept


def _first_scale(values, observed, season):
    """Each series' mean absolute value over its first rows (a season, at least 4; where those are all 0, over every
    row; then 1): states start near 1. Scaling by the whole series instead scored worse on Tourism and M1 quarterly
    (benchmarks/RESULTS.md)."""
    first = np.cumsum(observed, 1) <= max(season, 4)
    mean = lambda weight: (np.abs(values) * weight).sum(1) / np.maximum(weight.sum(1), 1)  # noqa: E731
    head, whole = mean(observed & first), mean(observed)
    return np.where(head > 0, head, np.where(whole > 0, whole, 1.0))


def _starting_states(y, observed, lengths, season):
    """Level and slope from a line through the first rows (two seasons deseasonalized, or 10 rows); the season from
    the first two seasons' deviations from their means (additive) and ratios to them (multiplicative)."""
    count = len(y)
    span = 2 * season if season > 1 else 10
    head, seen = y[:, :span], observed[:, :span]
    if season > 1 and head.shape[1] == span:
        cycles, cycles_seen = head.reshape(count, 2, season), seen.reshape(count, 2, season)
        means = (cycles * cycles_seen).sum(2, keepdims=True) / np.maximum(cycles_seen.sum(2, keepdims=True), 1)
        additive = ((cycles - means) * cycles_seen).sum(1) / np.maximum(cycles_seen.sum(1), 1)
        ratio = np.clip(cycles / np.where(np.abs(means) > SMALLEST, means, 1), 0.2, 5)
        multiplicative = np.exp((np.log(ratio) * cycles_seen).sum(1) / np.maximum(cycles_seen.sum(1), 1))
        head = head - np.tile(additive, 2)
    else:
        additive, multiplicative = np.zeros((count, max(season, 1))), np.ones((count, max(season, 1)))
    slope, t_mean, y_mean = theta.least_squares(head, seen)
    level = y_mean - slope * (t_mean + 1)  # the line a row before the first: the state the first row is forecast from
    return level[:, None], slope[:, None], additive, np.log(multiplicative)


class Forms(NamedTuple):
    """Per form (a row of [1, forms] arrays): multiplicative errors, a trend, a damped one, the season's kind (0 none,
    1 additive, 2 multiplicative)."""

    error: jax.Array
    trend: jax.Array
    damped: jax.Array
    kind: jax.Array


def forms_of(forms) -> Forms:
    return Forms(jnp.array([f[0] == "M" for f in forms], jnp.float32)[None],
                 jnp.array([f[1] != "N" for f in forms], jnp.float32)[None],
                 jnp.array([f[1] == "Ad" for f in forms])[None], jnp.array(["NAM".index(f[2]) for f in forms])[None])


def coefficients(p: dict, forms: Forms):
    """(alpha, beta, gamma, phi, starting season [.., season]) from free parameters: AutoETS's bounds (alpha in
    (0, 1), beta < alpha, gamma < 1 - alpha, phi in [0.8, 0.98]); additive starting states sum to 0, log factors
    too."""
    alpha = 1e-4 + 0.9998 * jax.nn.sigmoid(p["alpha"])
    beta = alpha * jax.nn.sigmoid(p["beta"]) * forms.trend
    gamma = (1 - alpha) * jax.nn.sigmoid(p["gamma"])
    phi = jnp.where(forms.damped, 0.8 + 0.18 * jax.nn.sigmoid(p["phi"]), 1.0)
    centred = p["season"] - p["season"].mean(-1, keepdims=True)
    kind = forms.kind[..., None]
    return alpha, beta, gamma, phi, jnp.where(kind == 1, centred, jnp.where(kind == 2, jnp.exp(centred), 0.0))


def recursion(p: dict, forms: Forms, y, observed, lengths):
    """The smoothing over every row of y [S, P] (left-aligned, `observed` 1 on real rows) for every (series, form) of
    the parameters [S, forms]: the states after each series' last row (level, slope, phi, season [S, forms,
    season] by phase) and -2 log-likelihood (additive errors: n log(mean squared error); multiplicative: n
    log(mean squared relative error) + 2 sum log |mean|)."""
    alpha, beta, gamma, phi, start = coefficients(p, forms)
    season, kind = start.shape[-1], forms.kind

    def row(carry, inputs):
        level, slope, states, squared, relative, log_mean = carry
        t, y_t, seen = inputs
        phase = t % season  # series are left-aligned: row t of every one has this phase
        s = jax.lax.dynamic_index_in_dim(states, phase, 0, keepdims=False)
        base = level + phi * slope
        divisor = jnp.where(kind == 2, jnp.maximum(s, SMALLEST), 1.0)
        mean = jnp.where(kind == 2, base * s, jnp.where(kind == 1, base + s, base))
        counted = seen[:, None] > 0
        r = jnp.where(counted, y_t[:, None] - mean, 0.0)  # a missing row moves on uncorrected
        live = (t < lengths)[:, None]  # past its end a series keeps its last states
        updated = jnp.where(kind == 1, s + gamma * r,
                            jnp.where(kind == 2, s + gamma * r / jnp.maximum(base, SMALLEST), s))
        states = jax.lax.dynamic_update_index_in_dim(states, jnp.where(live, updated, s), phase, 0)
        level = jnp.where(live, base + alpha * r / divisor, level)
        slope = jnp.where(live, phi * slope + beta * r / divisor, slope)
        held = jnp.maximum(jnp.abs(mean), SMALLEST)
        return (level, slope, states, squared + r * r, relative + jnp.where(counted, (r / held) ** 2, 0.0),
                log_mean + jnp.where(counted, jnp.log(held), 0.0)), None

    zeros = jnp.zeros_like(alpha)
    # season-major states: the phase a row reads and writes is one contiguous slice
    carry = (p["level"] * jnp.ones_like(alpha), p["slope"] * forms.trend, jnp.moveaxis(start, -1, 0), zeros, zeros,
             zeros)
    (level, slope, states, squared, relative, log_mean), _ = jax.lax.scan(
        row, carry, (jnp.arange(y.shape[1]), y.T, observed.T))
    n = jnp.maximum(observed.sum(1), 1)[:, None]
    likelihood = jnp.where(forms.error > 0, n * jnp.log(relative / n + 1e-12) + 2 * log_mean,
                           n * jnp.log(squared / n + 1e-12))
    return (level, slope, phi, jnp.moveaxis(states, 0, -1)), likelihood


@functools.lru_cache(maxsize=16)
def _compiled_fit(forms: tuple, season: int):
    # jax's own Adam (the same update as optax's): a served forecaster (serving.py) fits this to new data with jax
    # alone, no training stack
    from jax.example_libraries.optimizers import adam

    table, (start, update_params, params_of) = forms_of(forms), adam(LEARNING_RATE)

    def fit(y, observed, lengths, level, slope, additive, log_multiplicative):
        shape = (len(y), len(forms))
        season_start = jnp.where(table.kind[..., None] == 2, log_multiplicative[:, None], additive[:, None])
        starts = {"level": jnp.broadcast_to(level, shape), "slope": jnp.broadcast_to(slope, shape),
                  "season": jnp.broadcast_to(season_start, (*shape, season))}
        params = {"alpha": jnp.full(shape, -1.0), "beta": jnp.full(shape, -2.0), "gamma": jnp.full(shape, -2.5),
                  "phi": jnp.full(shape, 1.5), **{k: jnp.zeros_like(v) for k, v in starts.items()}}
        # the starting states as moves from their first estimates, in steps of their own size (STATE_STEPS)
        states_at = lambda p: {**p, **{k: starts[k] + STATE_STEPS[k] * p[k] for k in starts}}  # noqa: E731
        n = jnp.maximum(observed.sum(1), 1)[:, None]
        # each (series, form) is its own problem: Adam scales every coordinate alone, so summing them solves each
        loss = lambda p: jnp.sum(recursion(states_at(p), table, y, observed, lengths)[1] / n)  # noqa: E731

        def update(step, state):
            grads = jax.tree.map(lambda g: jnp.where(jnp.isfinite(g), g, 0.0), jax.grad(loss)(params_of(state)))
            return update_params(step, grads, state)

        params = states_at(params_of(jax.lax.fori_loop(0, STEPS, update, start(params))))
        (level, slope, phi, states), likelihood = recursion(params, table, y, observed, lengths)
        # the season's states for 1, 2, .. steps ahead: row `length` falls on phase length % season
        index = ((lengths % season)[:, None] + jnp.arange(season)[None]) % season
        ahead = jnp.take_along_axis(states, index[:, None, :], -1)
        columns = [level, slope, jnp.broadcast_to(phi, shape), jnp.broadcast_to(table.kind, shape).astype(jnp.float32)]
        return jnp.concatenate([jnp.stack(columns, -1), ahead], -1), likelihood

    return jax.jit(fit)


def _weighted(forms, states, likelihood, lengths, positive, season, horizon):
    """[S, KEPT, 5 + season] each series' KEPT best forms by AICc among those it can take (a season needs two seasons
    of rows, multiplicative parts positive values, every form more rows than coefficients + 1), each with its Akaike
    weight among them first. Mixing the forms so scored better than the best alone on each measure in 16 of 18
    training-part pairs of M1, M3, Tourism and real series (benchmarks/RESULTS.md); a form a series cannot take
    gets weight 0."""
    error, trend, damped, kind = (np.asarray(column)[0] for column in forms_of(forms))
    k = (2 + 2 * trend + damped + (kind > 0) * season)[None].astype(np.float64)  # alpha, level, beta, slope, phi, ..
    n = lengths[:, None].astype(np.float64)
    aicc = likelihood + 2 * k + 2 * k * (k + 1) / np.maximum(n - k - 1, 1e-9)
    every = _form_forecast(states.reshape(-1, states.shape[-1]), horizon, 0).reshape(len(states), len(forms), horizon)
    allowed = ((kind[None] == 0) | (n >= 2 * season)) & ((error[None] == 0) | positive[:, None])
    allowed &= ((kind[None] < 2) | positive[:, None]) & (n > k + 1) & np.isfinite(aicc)
    allowed &= ~(positive[:, None] & (every <= 0).any(-1)) & np.isfinite(every).all(-1)
    allowed[:, 0] |= ~allowed.any(1)  # else simple exponential smoothing
    scored = np.where(allowed, aicc, np.inf)
    best = np.argsort(scored, 1, kind="stable")[:, :KEPT]
    best_scores = np.take_along_axis(scored, best, 1)
    gap = np.where(np.isfinite(best_scores), best_scores - best_scores[:, :1], np.inf)
    gap[:, 0] = 0.0  # the best (simple exponential smoothing where nothing else scored) has weight 1 at least
    weight = np.exp(-0.5 * gap)  # 0 where a form is not allowed
    weight /= weight.sum(1, keepdims=True)
    return np.concatenate([weight[..., None], states[np.arange(len(states))[:, None], best]], -1)
