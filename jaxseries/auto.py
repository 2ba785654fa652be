"""Auto: the settings of a series (or a whole panel) chosen by a rolling-origin backtest inside its training part.

`train_series(..., auto=True)` lands here first. Every candidate of a small grid is backtested on the rows before
the holdout (the holdout is never read): one model per candidate, trained on the rows before the first origin
(its validation = the last rows before it; all of a candidate's members in one compiled call), forecasting from
FOLDS origins; the candidate with the lowest mean MASE (scale-free, in the series' units) wins and is trained as
an ordinary run, the record of every candidate in its metadata (`run.extra["auto"]`, printed by `evaluate`).

    rows:  0 ............ origin_0 .. origin_K-1 | H |<- holdout (never read) ->|
           one model per candidate trained here  ^ scored on the K forecasts from these origins
"""

from __future__ import annotations

import math
from time import perf_counter as now

from tqdm.auto import tqdm

from jaxseries import data as data_lib

# The grid: context length in seasons, and (one series) modelling log values or not. Measured in RESULTS.md; the
# first candidate is the fixed default, kept on ties.
CONTEXT_SEASONS = (2, 1, 3)
TRANSFORMS = ("none",)
FOLDS = {"series": 4, "panel": 1}  # a panel's one origin already scores every series' last horizon
MEMBERS = {"series": 3, "panel": 1}  # a candidate's score is its seed ensemble's: one seed's noise misleads the choice
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


def candidates(season: int, panel: bool, context=None, transform=None) -> list[dict]:
    """The grid for a series or a panel; a setting the caller fixed (context=, transform=) is not searched."""
    unit = season if season > 1 else 12
    contexts = [context] if context else [k * unit for k in CONTEXT_SEASONS]
    transforms = [transform] if transform else ([None] if panel else list(TRANSFORMS))
    return [{"context": c, **({} if t is None else {"transform": t})} for c in contexts for t in transforms]


def choose(data, *, panel: bool, horizon: int, holdout: int, season, budget_s, progress: bool, fits,
           options: dict) -> tuple[dict, dict]:
    """The winning candidate's settings and the record of the search.

    `data` is the checked series or panel (`encoding.Series`, `panel.Panel`); `fits(candidate, folds, stride)` says
    whether a candidate's backtest fits the rows before the holdout (None: it fits), else why not; `options` are
    the backtest's other settings (a `context` or `transform` among them is fixed, not searched)."""
    from jaxseries import backtesting

    budget_s = check_budget(budget_s)
    season = season or data_lib.default_season(data.freq)
    kind = "panel" if panel else "series"
    folds, stride, members = FOLDS[kind], max(1, round(horizon * STRIDE_PER_HORIZON)), MEMBERS[kind]
    options = dict(options)
    grid = candidates(season, panel, options.pop("context", None), options.pop("transform", None))
    too_long = {i: why for i, c in enumerate(grid) if (why := fits(c, folds, stride))}
    if len(too_long) == len(grid):
        raise ValueError(f"no candidate of the auto grid fits before the holdout: {too_long[0]}; "
                         f"the longest context it allows is {_longest_context(grid, fits, folds, stride)}")
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
        result = backtesting.backtest(data, horizon=horizon, holdout=holdout or None, folds=folds, stride=stride,
                                      season=season, level=None, progress=False, members=members, **options,
                                      **candidate)
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
              "not_run": not_run,
              "too_long": [grid[i] for i in sorted(too_long)], "chosen": chosen}
    return chosen, record


def table(record: dict):
    """The record's candidates as a DataFrame (settings, backtest MASE, seconds), the chosen one marked."""
    import pandas as pd

    frame = pd.DataFrame(record["candidates"])
    frame["chosen"] = [all(row[k] == v for k, v in record["chosen"].items()) for _, row in frame.iterrows()]
    return frame


def _longest_context(grid, fits, folds, stride) -> int:
    """The longest context (in rows) whose backtest fits: 0 when none does."""
    base = {k: v for k, v in grid[0].items() if k != "context"}
    longest = max(c["context"] for c in grid)
    return next((n for n in range(longest, 0, -1) if not fits({**base, "context": n}, folds, stride)), 0)
