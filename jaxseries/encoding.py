"""A panel in model units: per-series split, leak-free scaling, padded device arrays and the table of windows.

One series is a panel of one, so this is the only encoding. Each series (n rows; holdout N kept out first) is split:

    rows:  0 .................. n-N-V ......... n-N ......... n
           |<-- training part -->|<- validation ->|<- holdout ->|

with V = the validation rows (default: the horizon). Every statistic comes from training parts only: each
series' level (1 for log values, which are scale-free already; else the mean |value| of its training part), and
one panel-wide factor that brings the series' relative changes to unit spread; but the transform, which must hold
on every row the model reads ("auto": log for each series whose values before the holdout are all positive, so
one series with a zero leaves the others' logs alone). Windows are measured from their own level (see `windows`).
A missing value (NaN) is left out of every statistic and becomes an unobserved row (value 0, observed 0) in the
arrays; a missing past covariate value reads as its training mean, beside a column that says it was not observed
(for each covariate with a gap in training).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from jaxseries import data as data_lib, distributions, theta
from jaxseries.config import SeriesOptions
from jaxseries.panel import Panel
from jaxseries.transforms import logged, positive_series, transformed
from jaxseries.windows import PanelArrays, WindowLayout

YEARLY = ("A", "AS", "Y", "YS", "YE", "BA", "BAS", "BY", "BYS", "BYE")  # pandas' yearly frequency families
ETS_MOST = 10_000  # "auto" mixes in exponential smoothing up to this many series (`_partner`)


@dataclasses.dataclass(frozen=True, kw_only=True)
class PanelSpec:
    """Everything about a panel a forecast needs (saved in the run's metadata)."""

    id: str
    time: str | None
    target: str
    freq: str | None
    season: int
    context: int
    horizon: int
    holdout: int
    validation: int
    reference: int
    transform: str  # "log", "none", or "auto": a panel positive in some series only, logged per series (`logged`)
    factor: float  # the panel-wide spread of relative changes
    calendar: bool
    sampling: str
    deseasonalize: bool  # seasonal series lose their seasonal indices (classical decomposition) before windows
    min_observed: int  # a training window needs this many observed context rows
    covariates: list
    future_covariates: list
    static: list
    covariate_center: list
    covariate_scale: list
    future_center: list
    future_scale: list
    static_numbers: dict  # name -> [center, scale]
    static_categories: dict  # name -> the categories seen in training (one-hot)
    mode: str = "global"  # "global": one model for every series; "local": one model per series (a population)
    combine: str | None = None  # "theta" / "theta+damped": forecasts are the mean of the network's and that
    # partner's (theta.py; runs before it: None)
    strategy: str = "direct"  # "recursive": the seed's one-step-shift windows, rolled forward
    targets: list = dataclasses.field(default_factory=list)  # a single input's target columns ([]: a panel)
    smoothed_level: bool = False  # windows show their smoothed level too (runs before it: False)
    observed_covariates: list = dataclasses.field(default_factory=list)  # past covariates with a missing training
    # value: each also gets a column, 1 where it is observed (runs before it: none)
    distribution: str | None = None  # the network forecasts this distribution (distributions.py); None: a point
    recent_seasons: bool = False  # seasonal indices weight recent seasons as each series' departures ask
    # (`seasonal_indices`; runs before it: every season alike)
    partner_share: float = 0.5  # the partner's share of a combined forecast (`theta.share_for` of the training
    # windows; runs before it: the even mean)

    def outputs(self) -> int:
        """The network's outputs per step ahead."""
        return distributions.parameters(self.distribution)

    def layout(self) -> WindowLayout:
        return WindowLayout(self.context, self.horizon, self.reference, self.sampling, self.strategy,
                            self.smoothed_level, self.distribution == "negative_binomial")


def window_settings(panel: Panel, options: SeriesOptions) -> dict:
    """The defaults that depend on the data, in one place: the season from the frequency, the context (two
    seasons, at least the horizon; two horizons without a season) and the validation rows (the horizon)."""
    season = options.season or data_lib.default_season(panel.freq)
    context = options.context or (max(2 * season, options.horizon) if season > 1 else 2 * options.horizon)
    return {"season": season, "context": context, "validation": options.validation or options.horizon}


def _center_scale(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each column's mean and spread over its observed values (a column all missing: 0 and 1)."""
    observed = np.isfinite(values)
    count = np.maximum(observed.sum(0), 1)
    center = np.where(observed, values, 0).sum(0) / count
    scale = np.sqrt(np.where(observed, (values - center) ** 2, 0).sum(0) / count)
    # a constant column (spread at rounding's size against its values) is centred, not blown up; relative, so a
    # column in tiny units keeps its spread
    return center, np.where(scale > 1e-9 * np.abs(center), scale, 1.0)


def fit_spec(panel: Panel, fit_lengths: np.ndarray, options: SeriesOptions, validation: int
             ) -> tuple[PanelSpec, np.ndarray, np.ndarray]:
    """The spec, each series' level and which series are logged, from the training parts only (rows before
    fit_length - validation)."""
    settings = window_settings(panel, options)
    season, context, transform = settings["season"], settings["context"], options.transform
    train_rows = _rows_before(panel, fit_lengths - validation)
    y_train = panel.y[train_rows]
    positive = positive_series(panel, fit_lengths)  # every row the model reads: a log must hold on validation rows
    counts = options.distribution == "negative_binomial"  # its likelihood reads the counts as they are
    if transform == "auto":  # "log" or "none" where the whole panel is one way (as runs before per-series logs)
        transform = "none" if counts or not positive.any() else "log" if positive.all() else "auto"
    if transform == "log" and not positive.all():
        raise ValueError("transform='log' needs strictly positive values before the holdout: use transform='none' or "
                         "'auto'")
    logs = positive if transform == "auto" else np.full(len(panel.ids), transform == "log")
    levels = series_levels(panel, fit_lengths - validation, logs)
    z = transformed(y_train, logs[panel.series_of_rows()[train_rows]]) / np.repeat(
        levels, np.maximum(fit_lengths - validation, 0))
    same_series = np.diff(panel.series_of_rows()[train_rows]) == 0
    changes = np.diff(z)[same_series]
    changes = changes[np.isfinite(changes)]
    factor = float(changes.std()) if len(changes) > 1 and changes.std() > 1e-12 else 1.0
    c_center, c_scale = _center_scale(panel.past[train_rows])
    gaps = np.isnan(panel.past[train_rows]).any(0)
    f_center, f_scale = _center_scale(panel.future[train_rows])
    numbers, categories = {}, {}
    for name in panel.names["static"]:
        column = panel.static[name]
        if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
            center, scale = _center_scale(column.to_numpy(float)[:, None])
            numbers[name] = [float(center[0]), float(scale[0])]
        else:
            categories[name] = sorted(str(v) for v in column.unique())
    spec = PanelSpec(
        id=panel.id, time=panel.time, target=panel.target, freq=panel.freq, season=season, context=context,
        horizon=options.horizon, holdout=options.holdout or 0, validation=validation,
        reference=min(max(season, 1), context), transform=transform, factor=factor, calendar=options.calendar,
        sampling=options.sampling, min_observed=options.min_observed,
        deseasonalize=options.deseasonalize and season > 1 and not counts,
        smoothed_level=options.smoothed_level and season > 1,
        **{k: panel.names[k] for k in ("covariates", "future_covariates", "static")},
        covariate_center=c_center.tolist(), covariate_scale=c_scale.tolist(), future_center=f_center.tolist(),
        future_scale=f_scale.tolist(), static_numbers=numbers, static_categories=categories, mode=options.mode,
        strategy=options.strategy, targets=list(panel.targets), combine=_partner(panel, options),
        observed_covariates=[name for name, gap in zip(panel.names["covariates"], gaps) if gap],
        distribution=options.distribution, recent_seasons=True)
    return spec, levels, logs


def _partner(panel: Panel, options: SeriesOptions) -> str | None:
    """The classical forecast the network's is averaged with. "auto": "theta+damped+ets" (better than "theta+damped"
    on every monthly, quarterly and "other" training part of M1, M3 and Tourism: benchmarks/RESULTS.md), but
    "theta+damped" for yearly data (worse on all three) and over ETS_MOST series; none with covariates (the partner
    cannot see them: the mean would halve their effect) or counts (a smoothed line is no count)."""
    if options.combine == "auto":
        covariates = panel.names["covariates"] or panel.names["future_covariates"]
        if covariates or options.distribution == "negative_binomial":
            return None
        yearly = data_lib.freq_family(panel.freq) in YEARLY
        return "theta+damped" if yearly or len(panel.ids) > ETS_MOST else "theta+damped+ets"
    return options.combine


def series_levels(panel: Panel, lengths: np.ndarray, logs: np.ndarray) -> np.ndarray:
    """Each series' level from its first `lengths` rows: 1 for log values (`logs`), else the mean |value| of the
    observed ones (1 if all 0)."""
    if logs.all():
        return np.ones(len(panel.ids))
    rows = _rows_before(panel, np.maximum(lengths, 1))
    values, series = np.abs(panel.y[rows]), panel.series_of_rows()[rows]
    observed = np.isfinite(values)
    sums = np.bincount(series, weights=np.where(observed, values, 0), minlength=len(panel.ids))
    level = sums / np.maximum(np.bincount(series, weights=observed, minlength=len(panel.ids)), 1)
    return np.where(logs, 1.0, np.where(level > 0, level, 1.0))


def seasonal_indices(panel: Panel, lengths: np.ndarray, spec: PanelSpec) -> np.ndarray:
    """[S, season] additive seasonal indices of the transformed values, from each series' first `lengths` rows;
    index j applies to the rows j (mod season) after its last one. Zero for a series that fails the seasonality
    test or has under 3 seasons. The test reads the values as they are, before the transform, as the M3/M4 Theta
    benchmarks do: lag-season autocorrelation beyond 90% limits. On the M3 training parts that beat testing the
    log values on monthly panels and series alone at two origins of three and tied at the third; decomposing raw
    values too (ratios to the trend) gained nothing more (benchmarks/RESULTS.md).

    Classical decomposition: the centred moving average of one season is the trend; a position's index is the
    mean of the values' departures from it, centred to sum to zero; with `spec.recent_seasons` (every run since it
    came) a weighted mean that follows a season whose shape drifts (`_recent_indices`). Missing values are
    interpolated for it (the moving average needs every row)."""
    m = spec.season
    out = np.zeros((len(panel.ids), max(m, 1)))
    if not spec.deseasonalize:
        return out
    weights = np.r_[0.5, np.ones(m - 1), 0.5] / m if m % 2 == 0 else np.ones(m) / m
    lead = (len(weights) - 1) // 2
    for n in np.unique(lengths[lengths >= 3 * m]):  # series of one length at a time, as a [k, n] matrix
        which = np.flatnonzero(lengths == n)
        raw = interpolated(panel.y[panel.starts[which, None] + np.arange(n)])
        z = transformed(raw, logged(panel, spec)[which, None])
        centred = raw - raw.mean(1, keepdims=True)
        acf = np.stack([np.sum(centred[:, k:] * centred[:, : n - k], 1) for k in range(m + 1)], 1)
        spread = np.sum(centred**2, 1)[:, None]  # 0 for a constant series: no season (any units, however small)
        acf = np.divide(acf, spread, out=np.zeros_like(acf), where=spread > 0)
        limit = 1.645 * np.sqrt((1 + 2 * np.sum(acf[:, 1:m] ** 2, 1)) / n)
        seasonal = np.abs(acf[:, m]) > limit
        trend = np.lib.stride_tricks.sliding_window_view(z, len(weights), axis=1) @ weights  # symmetric weights
        departures = z[:, lead : lead + trend.shape[1]] - trend
        phase = (np.arange(lead, lead + trend.shape[1]) - (n - 1)) % m
        index = (_recent_indices(departures, phase, m) if spec.recent_seasons else
                 np.stack([departures[:, phase == j].mean(1) for j in range(m)], 1))
        out[which[seasonal]] = (index - index.mean(1, keepdims=True))[seasonal]
    return out


RECENCY = np.array([0.0, 0.1, 0.2, 0.3])  # the candidate weights of the latest season (`_recent_indices`); 0.5-1
# followed noise on M3 monthly's training parts (benchmarks/RESULTS.md)


def _recent_indices(departures: np.ndarray, phase: np.ndarray, m: int) -> np.ndarray:
    """[k, m] each position's departures [k, L] (oldest first) averaged with weights (1 - g)^age, age in seasons:
    g = 0 the plain mean, larger g follows the latest seasons. Each series takes the g in RECENCY whose weighted
    mean of the seasons so far best foresaw every next season's departure (squared errors, as exponential
    smoothing chooses its coefficients; a tie keeps the smaller g). A season whose amplitude grows or shrinks
    against the level (an additive season on log values) moves its indices toward the latest seasons; a steady one
    keeps the mean."""
    keep = 1 - RECENCY[None]
    squared = np.zeros((len(departures), len(RECENCY)))
    indices = np.zeros((len(departures), len(RECENCY), m))
    for j in range(m):
        total, weight = np.zeros_like(squared), np.zeros_like(keep)
        for departure in departures[:, phase == j].T:  # the position's seasons in time order
            if weight[0, 0] > 0:
                squared += (departure[:, None] - total / weight) ** 2
            total, weight = keep * total + departure[:, None], keep * weight + 1
        indices[:, :, j] = total / weight
    return indices[np.arange(len(departures)), np.argmin(squared, 1)]


def interpolated(z: np.ndarray) -> np.ndarray:
    """[k, n] rows with their missing values (NaN) interpolated linearly (held flat past the last observed one)."""
    out = z.copy()
    positions = np.arange(z.shape[1])
    for row in np.flatnonzero(np.isnan(z).any(1)):
        seen = ~np.isnan(z[row])
        out[row] = np.interp(positions, positions[seen], z[row, seen]) if seen.any() else 0.0
    return out


def mase_scales(panel: Panel, fit_lengths: np.ndarray, season: int) -> np.ndarray:
    """MASE's denominator per series: the in-sample seasonal-naive MAE of the rows before the holdout (lag 1 for a
    series no longer than a season; NaN when it is too short or the MAE is 0), as `metrics.mase_scale`."""
    lags = np.where(fit_lengths > season, season, 1)
    rows = _rows_before(panel, fit_lengths)
    series = panel.series_of_rows()[rows]
    position = rows - panel.starts[series]
    later = position >= lags[series]
    changes = np.abs(panel.y[rows[later]] - panel.y[rows[later] - lags[series[later]]])
    observed = np.isfinite(changes)  # both values observed
    total = np.bincount(series[later], weights=np.where(observed, changes, 0), minlength=len(panel.ids))
    count = np.bincount(series[later], weights=observed, minlength=len(panel.ids))
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = total / count
    return np.where((count > 0) & (scale > 0), scale, np.nan)


def build_arrays(panel: Panel, spec: PanelSpec, levels: np.ndarray, seasonal: np.ndarray, fit_lengths: np.ndarray,
                 future: Panel | None = None, extra_rows: int = 0, alphas: np.ndarray | None = None
                 ) -> tuple[PanelArrays, int]:
    """The padded arrays of the rows before each series' fit end (seasonal indices removed), known features
    `horizon` rows further, and each series' smoothing coefficient (`alphas`; default: chosen on these rows).

    Returns the arrays and P, the column of every series' last fitted row plus one. Known-future covariates after the
    fit end come from the panel's later rows (a holdout) or from `future` (a panel of the rows ahead)."""
    count, context, horizon = len(panel.ids), spec.context, max(spec.horizon, extra_rows)  # rows of known features
    width = context + int(fit_lengths.max())
    series = panel.series_of_rows()
    values, observed, column, fitted = target_matrix(panel, spec, seasonal, fit_lengths, width)
    scale = (levels * spec.factor).astype(np.float32)
    past = np.zeros((count, width, len(spec.covariates) + len(spec.observed_covariates)), np.float32)
    scaled = (panel.past[fitted] - spec.covariate_center) / spec.covariate_scale
    seen = np.isfinite(panel.past[fitted][:, [spec.covariates.index(name) for name in spec.observed_covariates]])
    past[series[fitted], column[fitted]] = np.concatenate(  # a missing value reads as the training mean, flagged
        [np.nan_to_num(scaled), seen], 1)
    known = np.concatenate([_calendar(panel, spec, fit_lengths, width, horizon),
                            _future_features(panel, spec, future, column, width + horizon)], -1)
    static = static_features(panel.static, spec)
    if alphas is None:  # only windows that show a smoothed level read them
        alphas = theta.smoothed(values, observed).alphas if spec.smoothed_level else np.ones(count)
    return PanelArrays(values, observed, past, known.astype(np.float32), static, scale, alphas.astype(np.float32),
                       np.zeros(0, np.int32), np.zeros(0, np.int32)), width


def target_matrix(panel: Panel, spec: PanelSpec, seasonal: np.ndarray, fit_lengths: np.ndarray, width: int):
    """[S, width] each series' rows before its fit end, transformed, seasonal indices removed, right-aligned (its
    last fitted row in the last column), and 1 where a row is observed (0: padding, or a missing value, which is
    stored as 0); with every row's column and whether it is fitted."""
    count, series = len(panel.ids), panel.series_of_rows()
    position = np.arange(len(panel.y)) - np.repeat(panel.starts, panel.lengths)  # row within its series
    column = position + np.repeat(width - fit_lengths, panel.lengths)
    fitted = position < np.repeat(fit_lengths, panel.lengths)
    values = np.zeros((count, width), np.float32)
    observed = np.zeros((count, width), np.float32)
    phase = (column - (width - 1)) % seasonal.shape[1]
    z = transformed(panel.y[fitted], logged(panel, spec)[series[fitted]]) - seasonal[series, phase][fitted]
    values[series[fitted], column[fitted]] = np.nan_to_num(z)
    observed[series[fitted], column[fitted]] = np.isfinite(z)
    return values, observed, column, fitted


def static_features(static: pd.DataFrame, spec: PanelSpec) -> np.ndarray:
    """Numbers standardized by the training panel's statistics, categories one-hot (an unseen one: all zeros)."""
    parts = [np.zeros((len(static), 0))]
    for name in spec.static:
        if name in spec.static_numbers:
            center, scale = spec.static_numbers[name]
            parts.append(((static[name].to_numpy(float) - center) / scale)[:, None])
        else:
            known = spec.static_categories[name]
            parts.append((static[name].astype(str).to_numpy()[:, None] == np.array(known)[None]).astype(float))
    return np.concatenate(parts, 1).astype(np.float32)


def training_pairs(arrays: PanelArrays, spec: PanelSpec, fit_lengths: np.ndarray, width: int
                   ) -> tuple[PanelArrays, np.ndarray]:
    """(series, origin) for every window whose targets lie in its training part and whose context holds at least
    `min_observed` real rows (recursive windows: all of it); the pairs go into the arrays' sampling table.
    Returns (arrays, pairs)."""
    first_real = width - fit_lengths
    needed = spec.context if spec.strategy == "recursive" else min(spec.min_observed, spec.context)
    first = first_real + needed - 1
    last = width - spec.validation - _ahead(spec) - 1  # targets end before the validation part
    counts = np.maximum(last - first + 1, 0)
    has = np.flatnonzero(counts > 0)
    series = np.repeat(has, counts[has])
    origins = np.concatenate([np.arange(first[s], last + 1) for s in has]) if len(has) else np.zeros(0, int)
    pairs = np.stack([series, origins], 1).astype(np.int32)
    starts = np.concatenate([[0], np.cumsum(counts[has])[:-1]]).astype(np.int32)
    return arrays._replace(pair_start=starts, pair_count=counts[has].astype(np.int32)), pairs


def _ahead(spec: PanelSpec) -> int:
    """How far a training window's targets reach past its origin."""
    return 1 if spec.strategy == "recursive" else spec.horizon


def validation_pairs(spec: PanelSpec, count: int, width: int) -> np.ndarray:
    """Each series' windows whose targets end in its validation part (one when validation = horizon)."""
    origins = np.arange(width - spec.validation - 1, width - _ahead(spec))
    return np.stack(np.broadcast_arrays(np.arange(count)[:, None], origins[None]), -1).reshape(-1, 2).astype(np.int32)


def forecast_pairs(count: int, width: int) -> np.ndarray:
    return np.stack([np.arange(count), np.full(count, width - 1)], 1).astype(np.int32)


def _rows_before(panel: Panel, lengths: np.ndarray) -> np.ndarray:
    lengths = np.maximum(lengths, 0)
    return np.repeat(panel.starts, lengths) + (np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths))


def _calendar(panel: Panel, spec: PanelSpec, fit_lengths: np.ndarray, width: int, ahead: int) -> np.ndarray:
    """Calendar features of every column [S, width + ahead, q]: the grid ending at each series' last fitted stamp,
    then `ahead` rows after it, built once per distinct last stamp."""
    count = len(panel.ids)
    if not spec.calendar or not isinstance(panel.stamps, pd.DatetimeIndex):
        return np.zeros((count, width + ahead, 0))
    last = panel.stamps.asi8[panel.starts + fit_lengths - 1]
    out = None
    for stamp in np.unique(last):
        grid = pd.date_range(end=pd.Timestamp(stamp), periods=width, freq=spec.freq)
        grid = grid.append(data_lib.future_index(grid, spec.freq, ahead))
        features = data_lib.calendar_features(grid, spec.freq)
        if out is None:
            out = np.zeros((count, width + ahead, features.shape[1]))
        out[last == stamp] = features
    return out


def _future_features(panel: Panel, spec: PanelSpec, future: Panel | None, column: np.ndarray,
                     columns: int) -> np.ndarray:
    """Scaled known-future covariates [S, columns, f] from the panel's rows (and `future`'s rows after them)."""
    out = np.zeros((len(panel.ids), columns, len(spec.future_covariates)))
    if not spec.future_covariates:
        return out
    inside = column < columns
    series = panel.series_of_rows()
    out[series[inside], column[inside]] = (panel.future[inside] - spec.future_center) / spec.future_scale
    if future is not None:  # rows ahead: the first future row of a series goes right after its last panel row
        own = {key: s for s, key in enumerate(panel.ids)}
        ends = column[panel.starts + panel.lengths - 1]
        for s_future, key in enumerate(future.ids):
            s, start = own[key], future.starts[s_future]
            rows = np.arange(start, start + future.lengths[s_future])[: columns - ends[own[key]] - 1]
            out[s, ends[s] + 1 : ends[s] + 1 + len(rows)] = (future.future[rows] - spec.future_center) / spec.future_scale
    return out
