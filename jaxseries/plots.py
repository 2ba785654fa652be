"""Matplotlib figures: the forecast beside history, holdout truth and baselines; the loss curves."""

from __future__ import annotations

import matplotlib.pyplot as plt  # without a display matplotlib picks Agg itself; notebooks keep inline
import numpy as np

from jaxseries import forecasting as forecast_lib
from jaxseries import metrics
from jaxseries.runs import Trained


def plot_forecast(run, ax=None, *, forecast=None):
    """History (the stored tail), holdout truth, the model's forecast (and interval) and both baselines, per target."""
    spec = forecast_lib.series_spec(run)
    history, holdout = forecast_lib.history_frames(run)
    forecast = forecast_lib.forecast(run) if forecast is None else forecast
    steps = len(forecast)
    past = history[spec.targets].to_numpy(float)
    baselines = {"persistence": metrics.persistence(past, steps),
                 "seasonal naive": metrics.seasonal_naive(past, steps, spec.season)}
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 4))
    for j, target in enumerate(spec.targets):
        ax.plot(history.index, history[target], color="black", lw=1.2, label=f"{target} (history)")
        if len(holdout):
            ax.plot(holdout.index, holdout[target], color="black", lw=1.2, ls="--", label=f"{target} (holdout)")
        suffix = "" if len(spec.targets) == 1 else f"_{target}"
        ax.plot(forecast.index, forecast[f"forecast{suffix}"], color="C0", lw=2, label="jaxseries forecast")
        if f"lower{suffix}" in forecast:  # a prediction interval (forecast(level=...))
            ax.fill_between(forecast.index, forecast[f"lower{suffix}"], forecast[f"upper{suffix}"], color="C0",
                            alpha=0.2, lw=0, label="interval")
        for k, (name, values) in enumerate(baselines.items()):
            ax.plot(forecast.index, values[:, j], color=f"C{k + 1}", lw=1, alpha=0.8, label=name)
    ax.set_title(f"{', '.join(spec.targets)}: {steps}-step forecast")
    ax.legend(fontsize=8, loc="upper left")
    ax.figure.autofmt_xdate()
    return ax.figure


def plot_losses(run: Trained, ax=None):
    """Training loss at every step and validation loss at each evaluation, with the best step marked."""
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.5))
    ax.semilogy(np.arange(len(run.history)), run.history, lw=1, color="C0", label="training")
    if run.validated:
        ax.semilogy(run.val_history[:, 0], run.val_history[:, 1:], lw=1.5, color="C1", label="validation")
        for best in np.atleast_1d(run.best_step):
            ax.axvline(best, color="gray", ls=":", lw=0.8)
    handles, labels = ax.get_legend_handles_labels()
    ax.legend(dict(zip(labels, handles)).values(), dict(zip(labels, handles)).keys())
    ax.set_xlabel("Adam step")
    ax.set_ylabel("MSE (model units)")
    return ax.figure


def save(figure, path: str) -> str:
    figure.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(figure)
    return path
