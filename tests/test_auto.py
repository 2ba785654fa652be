"""auto=True: settings chosen by a backtest before the holdout, recorded, and trained as an ordinary run."""

import numpy as np
import pytest

import jaxseries as js
from jaxseries import auto
from test_cli import small_csv
from test_forecast import FAST, seasonal_series
from test_panel import FAST as PANEL_FAST, make_panel


def test_auto_scores_every_candidate_before_the_holdout_and_trains_the_best():
    series = seasonal_series(n=96)
    run = js.train_series(series, horizon=6, holdout=6, auto=True, **FAST)
    record = run.extra["auto"]
    scores = {c["context"]: c["MASE"] for c in record["candidates"]}
    assert sorted(scores) == [12, 24, 36] and all(np.isfinite(list(scores.values())))
    assert record["chosen"]["context"] == min(scores, key=scores.get)
    assert run.extra["panel"]["context"] == record["chosen"]["context"]  # the run is the chosen one
    table = js.evaluate(run)["auto"]
    assert table["chosen"].sum() == 1 and table.loc[table.chosen, "context"].item() == record["chosen"]["context"]
    # the holdout is never read: wildly different holdout rows leave every candidate's score as it was
    changed = series.copy()
    changed.iloc[-6:] *= 10
    again = js.train_series(changed, horizon=6, holdout=6, auto=True, **FAST).extra["auto"]
    assert again["candidates"] == record["candidates"] or \
        [c["MASE"] for c in again["candidates"]] == pytest.approx([c["MASE"] for c in record["candidates"]])
    # a setting passed explicitly is not searched
    assert auto.candidates(12, context=12) == [{"context": 12}]


def test_the_budget_skips_the_candidates_that_would_not_fit(monkeypatch):
    ticks = iter(range(0, 700, 7))  # each reading of auto's clock 7 s later: the first candidate "takes" 7 s
    monkeypatch.setattr(auto, "now", lambda: float(next(ticks)))
    run = js.train_series(seasonal_series(n=96), horizon=6, holdout=6, auto=True, budget_s=30, **FAST)
    record = run.extra["auto"]
    assert [c["context"] for c in record["candidates"]] == [24] and record["chosen"] == {"context": 24}
    assert [c["context"] for c in record["not_run"]] == [12, 36] and record["budget_s"] == 30


def test_auto_on_a_panel_chooses_one_context_for_every_series():
    run = js.train_series(make_panel(lengths=(60, 52, 56)), id="unique_id", holdout=4, auto=True, **PANEL_FAST)
    record = run.extra["auto"]
    assert len(record["candidates"]) == 3 and record["folds"] == auto.FOLDS["few"]  # 3 series: a few, 4 origins
    assert run.extra["panel"]["context"] == record["chosen"]["context"]
    assert "auto" in js.evaluate(run)


def test_auto_refuses_a_tiny_budget_and_a_grid_no_series_fits(tmp_path):
    with pytest.raises(ValueError, match=r"budget_s=1 is too small for even one candidate"):
        js.train_series(seasonal_series(), horizon=6, auto=True, budget_s=1, checkpoint_dir=tmp_path / "run", **FAST)
    assert not (tmp_path / "run").exists()
    with pytest.raises(ValueError, match=r"budget_s= caps the auto search: pass auto=True too"):
        js.train_series(seasonal_series(), horizon=6, budget_s=60, **FAST)
    with pytest.raises(ValueError, match=r"no candidate of the auto grid fits before the holdout: series 'y' has 20 rows"):
        js.train_series(seasonal_series(n=20), horizon=6, holdout=6, auto=True, **FAST)
    assert auto.candidates(12) == [{"context": 24}, {"context": 12}, {"context": 36}]


def test_cli_auto_prints_and_stores_the_candidates(tmp_path, capsys):
    from jaxseries import cli

    data = tmp_path / "sales.csv"
    small_csv(data, n=96)
    code = cli.main(["train", str(data), "--target", "sales", "--time", "month", "--horizon", "6", "--holdout", "6",
                     "--auto", "--budget", "600", "--steps", "60", "--hidden-dim", "8", "--out", str(tmp_path / "run"),
                     "--no-progress"])  # in this process: the shapes compiled above are reused
    assert code == 0
    assert "auto: candidates scored by a backtest before the holdout" in capsys.readouterr().out
    assert len(js.load(tmp_path / "run").extra["auto"]["candidates"]) == 3  # saved with the run (evaluate --json)
