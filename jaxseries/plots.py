"""Matplotlib figures: the forecast beside history, holdout truth and baselines; the loss curves; a panel's grid
of series and its per-series errors."""

from __future__ import annotations

import matplotlib.pyplot as plt  # without a display matplotlib picks Agg itself; notebooks keep inline
import numpy as np

from jaxseries import forecasting, forecasts, metrics
from jaxseries.runs import Trained


def plot_forecast(run, ax=None, *, forecast=None):
    """One series: history (the stored tail), holdout truth, the model's forecast (and interval) and both
    baselines, every target on one axes. A panel run draws a grid of its first series (`plot_panel`)."""
    spec = forecasting.panel_spec(run)
    if len(spec.targets) != 1:
        return plot_panel(run, forecast=None if spec.targets else forecast)  # a wide frame is redrawn long
    history, fit_lengths = forecasting.stored_panel(run)
    forecast = forecasts.forecast(run) if forecast is None else forecast
    steps = len(forecast)
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 4))
    start, fitted, n = history.starts[0], fit_lengths[0], history.lengths[0]
    stamps, values = history.stamps[start : start + n], history.y[start : start + n]
    target = spec.targets[0]
    ax.plot(stamps[:fitted], values[:fitted], color="black", lw=1.2, label=f"{target} (history)")
    if n > fitted:
        ax.plot(stamps[fitted:], values[fitted:], color="black", lw=1.2, ls="--", label=f"{target} (holdout)")
    ax.plot(forecast.index, forecast["forecast"], color="C0", lw=2, label="jaxseries forecast")
    if "lower" in forecast:  # a prediction interval (forecast(level=...))
        ax.fill_between(forecast.index, forecast["lower"], forecast["upper"], color="C0", alpha=0.2, lw=0,
                        label="interval")
    for k, (name, baseline) in enumerate(metrics.baselines(history, fit_lengths, steps, spec.season).items()):
        ax.plot(forecast.index, baseline[0], color=f"C{k + 1}", lw=1, alpha=0.8, label=name.replace("_", " "))
    ax.set_title(f"{target}: {steps}-step forecast")
    ax.legend(fontsize=8, loc="upper left")
    ax.figure.autofmt_xdate()
    return ax.figure


def plot_losses(run: Trained, ax=None):
    """Training loss at every step and validation loss at each evaluation, with the best step marked."""
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.5))
    distribution = run.model_config.distribution
    line = ax.semilogy if distribution is None else ax.plot  # a log-likelihood may fall below 0
    line(np.arange(len(run.history)), run.history, lw=1, color="C0", label="training")
    if run.validated:
        line(run.val_history[:, 0], run.val_history[:, 1:], lw=1.5, color="C1", label="validation")
        for best in np.atleast_1d(run.best_step):
            ax.axvline(best, color="gray", ls=":", lw=0.8)
    handles, labels = ax.get_legend_handles_labels()
    ax.legend(dict(zip(labels, handles)).values(), dict(zip(labels, handles)).keys())
    ax.set_xlabel("Adam step")
    name = {None: run.model_config.loss.upper(), "quantiles": "mean pinball loss over the grid"}.get(
        distribution, f"{distribution} negative log-likelihood")
    ax.set_ylabel(f"{name} (model units)")
    return ax.figure


def save(figure, path: str) -> str:
    figure.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(figure)
    return path


def plot_panel(run, ids=None, *, count: int = 9, forecast=None, columns: int = 3):
    """A grid of a panel run's series: stored history, holdout truth, forecast (and interval when it has one).
    `ids` picks the series (default: the first `count`)."""
    spec = forecasting.panel_spec(run)
    history, fit_lengths = forecasting.stored_panel(run)
    forecast = forecasts.forecast_long(run) if forecast is None else forecast
    chosen = list(history.ids[:count]) if ids is None else list(ids)
    rows = -(-len(chosen) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(4 * columns, 2.6 * rows), squeeze=False)
    where = {key: s for s, key in enumerate(forecasting.json_ids(history.ids))}
    time = spec.time or "step"
    for ax, key in zip(axes.flat, chosen):
        if key not in where:
            raise ValueError(f"id {key!r} is not in this run's panel")
        s = where[key]
        start, fitted, n = history.starts[s], fit_lengths[s], history.lengths[s]
        stamps, values = history.stamps[start : start + n], history.y[start : start + n]
        ax.plot(stamps[:fitted], values[:fitted], color="black", lw=1.1)
        if n > fitted:
            ax.plot(stamps[fitted - 1 :], values[fitted - 1 :], color="black", lw=1.1, ls="--")
        own = forecast[forecast[spec.id] == key]
        ax.plot(own[time], own["forecast"], color="C0", lw=1.8)
        if "lower" in own:
            ax.fill_between(own[time], own["lower"], own["upper"], color="C0", alpha=0.2, lw=0)
        ax.set_title(str(key), fontsize=9)
        ax.tick_params(labelsize=7)
        ax.xaxis.set_major_locator(plt.MaxNLocator(4))
    for ax in list(axes.flat)[len(chosen):]:
        ax.axis("off")
    figure.suptitle("history (solid), holdout (dashed), jaxseries forecast (blue)", fontsize=10)
    figure.tight_layout()
    return figure


def plot_errors(report: dict, metric: str = "sMAPE", ax=None):
    """The distribution of per-series errors of a panel evaluation (`js.evaluate` on a panel run), the model
    against seasonal naive."""
    table = report["per_series"][metric]
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.5))
    upper = float(np.nanquantile(table.to_numpy(), 0.98))
    bins = np.linspace(0, upper, 40)
    for name, color in (("seasonal_naive", "C1"), ("jaxseries", "C0")):
        values = table.xs(name, level="forecaster").to_numpy()
        ax.hist(np.clip(values, 0, upper), bins=bins, alpha=0.55, color=color,
                label=f"{name} (mean {np.nanmean(values):.2f})")
    ax.set_xlabel(f"per-series {metric} on the holdout (the last bin holds the worst 2%)")
    ax.set_ylabel("series")
    ax.legend()
    return ax.figure
