"""Auto: the context of a series (or a whole panel) chosen by a rolling-origin backtest inside its training part.

`train_series(..., auto=True)` calls `choose` before it trains. Every candidate of a small grid is backtested on the
rows before the holdout (the holdout is never read): one model per candidate, trained on the rows before the first
origin (its validation = the last rows before it; all of a candidate's members in one compiled call), forecasting
from the folds' origins; the candidate with the lowest mean MASE (scale-free, in the series' units) wins and is
trained as an ordinary run, the record of every candidate in its metadata (`run.extra["auto"]`, printed by
`evaluate`).

    rows:  0 ............ origin_0 .. origin_K-1 | H |<- holdout (never read) ->|
           one model per candidate trained here  ^ scored on the K forecasts from these origins
"""

from __future__ import annotations

import dataclasses
import math
from time import perf_counter as now

from tqdm.auto import tqdm

from jaxseries import backtesting
from jaxseries.config import SeriesOptions
from jaxseries.encoding import window_settings
from jaxseries.panel import Panel

# The grid: context length in seasons; the first candidate is the fixed default, kept on ties (RESULTS.md).
CONTEXT_SEASONS = (2, 1, 3)
# The data decides how a candidate is scored: a few series get several origins and a seed ensemble each (one
# origin's and one seed's noise mislead the choice), a panel one origin, which already scores every series.
FEW_SERIES = 4
FOLDS = {"few": 4, "many": 1}
MEMBERS = {"few": 3, "many": 1}
STRIDE_PER_HORIZON = 0.5  # origins half a horizon apart
MIN_BUDGET_S = 10.0  # about one airline candidate plus the final training on 2 cores


def check_budget(budget_s) -> float | None:
    if budget_s is None:
        return None
    if isinstance(budget_s, bool) or not isinstance(budget_s, (int, float)) or not math.isfinite(budget_s):
        raise TypeError(f"budget_s must be a number of seconds or None, got {budget_s!r}")
    if budget_s < MIN_BUDGET_S:
        raise ValueError(f"budget_s={budget_s} is too small for even one candidate (about {MIN_BUDGET_S:.0f} s each "
                         f"with the final training, on 2 cores): give budget_s >= {MIN_BUDGET_S:.0f}, or None")
    return float(budget_s)


def candidates(season: int, context=None) -> list[dict]:
    """The grid; a context the caller fixed is not searched."""
    unit = season if season > 1 else 12
    return [{"context": c} for c in ([context] if context else [k * unit for k in CONTEXT_SEASONS])]


def choose(panel: Panel, options: SeriesOptions, *, budget_s, progress: bool) -> tuple[dict, dict]:
    """The winning candidate's settings and the record of the search."""
    budget_s = check_budget(budget_s)
    if options.mode != "global" or options.strategy != "direct":
        raise ValueError("auto=True chooses the settings of the global direct model: drop mode='local' and "
                         "strategy='recursive', or auto")
    season = window_settings(panel, options)["season"]
    kind = "few" if len(panel.ids) < FEW_SERIES else "many"
    folds, stride = FOLDS[kind], max(1, round(options.horizon * STRIDE_PER_HORIZON))
    base = dataclasses.replace(options, members=MEMBERS[kind], refit=False, season=season)
    grid = candidates(season, options.context)
    fits = lambda c: backtesting.shortfall(panel, dataclasses.replace(base, **c), folds, stride)  # noqa: E731
    too_long = {i: why for i, c in enumerate(grid) if (why := fits(c))}
    if len(too_long) == len(grid):
        raise ValueError(f"no candidate of the auto grid fits before the holdout: {too_long[0]}")
    started, scored, not_run = now(), [], []
    bar = tqdm(total=len(grid), disable=not progress, desc="auto", unit="candidate")
    for i, candidate in enumerate(grid):
        elapsed = now() - started
        if i in too_long:
            bar.update()
            continue
        if budget_s is not None and scored and elapsed + 2 * elapsed / len(scored) > budget_s:
            not_run.append(candidate)  # it and the final training would not fit the budget
            bar.update()
            continue
        result = backtesting.backtest(panel, dataclasses.replace(base, **candidate), folds=folds, stride=stride,
                                      level=None, progress=False)
        score = float(result.overall.loc["jaxseries", "MASE"])
        scored.append({**candidate, "MASE": score if math.isfinite(score) else None,
                       "seconds": round(now() - started - elapsed, 2)})
        bar.update()
        bar.set_postfix(best=min((c["MASE"] for c in scored if c["MASE"] is not None), default=float("nan")))
    bar.close()
    finite = [c for c in scored if c["MASE"] is not None]
    best = min(finite, key=lambda c: c["MASE"]) if finite else scored[0]
    chosen = {k: best[k] for k in grid[0]}
    record = {"metric": "MASE", "folds": folds, "stride": stride, "budget_s": budget_s, "candidates": scored,
              "not_run": not_run, "too_long": [grid[i] for i in sorted(too_long)], "chosen": chosen}
    return chosen, record
