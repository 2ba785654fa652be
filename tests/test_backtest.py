import json

import numpy as np
import pytest

import jaxseries as js
from jaxseries import intervals
from test_cli import small_csv
from test_forecast import FAST, seasonal_series

SMALL = dict(FAST, context=12, validation=6, horizon=3)


def fold_forecasts(result, fold):
    return result.forecasts.loc[result.forecasts["fold"] == fold, "forecast"].to_numpy()


@pytest.mark.parametrize("refit", [True, False])
def test_a_spike_after_an_origin_is_seen_by_no_fold_before_it(refit):
    series = seasonal_series(72)
    clean = js.backtest(series, folds=4, stride=2, refit=refit, members=2, level=None, **SMALL)
    origins = clean.forecasts.groupby("fold")["cutoff"].first()
    spike_at = series.index.get_loc(origins[2]) + 1  # the row right after fold 2's origin (its cutoff)
    spiked = series.copy()
    spiked.iloc[spike_at] *= 5
    result = js.backtest(spiked, folds=4, stride=2, refit=refit, members=2, level=None, **SMALL)
    for fold in range(3):  # folds 0-2 have their origins before the spike
        np.testing.assert_array_equal(fold_forecasts(result, fold), fold_forecasts(clean, fold))
    assert not np.allclose(fold_forecasts(result, 3), fold_forecasts(clean, 3))  # the spike is in fold 3's input
    if refit:
        np.testing.assert_array_equal(result.best_steps[:3], clean.best_steps[:3])


def test_a_refit_fold_equals_train_series_on_the_data_up_to_its_origin():
    series = seasonal_series(72)
    result = js.backtest(series, folds=3, stride=2, refit=True, level=None, **SMALL)
    for fold in (0, 2):
        cutoff = result.forecasts.loc[result.forecasts["fold"] == fold, "cutoff"].iloc[0]
        single = js.train_series(series.loc[:cutoff], **SMALL)
        np.testing.assert_allclose(fold_forecasts(result, fold), js.forecast(single)["forecast"], rtol=1e-4)
        assert result.best_steps[fold, 0] == single.best_step


def test_report_holds_folds_baselines_and_a_calibrated_interval():
    series = seasonal_series(84)
    result = js.backtest(series, folds=6, members=3, level=0.8, **SMALL)
    assert list(result.overall.index) == ["jaxseries", "naive", "seasonal_naive"]
    assert result.folds.shape[0] == 6 * 3 and len(result.forecasts) == 6 * 3
    table = result.forecasts
    assert list(table.columns[:4]) == ["fold", "time", "step", "cutoff"]
    last = table[table["fold"] == 5]
    np.testing.assert_allclose(last["actual"], series.iloc[-3:].to_numpy())  # the last fold ends at the last row
    np.testing.assert_allclose(last["seasonal_naive"], series.iloc[-15:-12].to_numpy())
    assert (last["cutoff"] == series.index[-4]).all()
    inside = (table["lower"] <= table["actual"]) & (table["actual"] <= table["upper"])
    assert result.coverage == pytest.approx(inside.mean())
    assert list(result.intervals.columns) == ["coverage%", "width", "MSIS"] and len(result.intervals) == 6
    assert result.intervals["coverage%"].mean() == pytest.approx(100 * result.coverage)  # one series, 3 steps a fold
    np.testing.assert_allclose(result.intervals["width"], (table.upper - table.lower).groupby(table.fold).mean())
    assert np.asarray(result.calibration["widening"]).shape == (3,)
    assert json.loads(json.dumps(result.to_json()))["coverage"] == pytest.approx(result.coverage)
    assert result.chosen_steps == int(np.median(result.best_steps))


def test_forecast_interval_uses_members_and_calibration():
    series = seasonal_series(84)
    run = js.train_series(series, holdout=3, members=3, **SMALL)
    result = js.backtest(series.iloc[:-3], folds=6, members=3, **SMALL)
    plain = js.forecast(run, level=0.8)  # the members' spread, calibrated on the 4 validation windows
    calibrated = js.forecast(run, calibration=result.calibration)
    np.testing.assert_allclose(plain["forecast"], calibrated["forecast"])
    assert (plain["lower"] <= plain["upper"]).all() and (calibrated["lower"] <= calibrated["upper"]).all()
    members = js.forecast(run, level=0.8, calibration=dict(result.calibration, widening=[0.0] * 3))
    widening = np.asarray(result.calibration["widening"])
    wider = (calibrated["upper"] - calibrated["lower"]) > (members["upper"] - members["lower"])
    np.testing.assert_array_equal(wider.to_numpy(), widening > 0)
    with pytest.raises(ValueError, match="calibration is for level 0.8"):
        js.forecast(run, level=0.9, calibration=result.calibration)
    one = js.train_series(series, holdout=3, **SMALL)
    with pytest.raises(ValueError, match="a 95% interval needs at least 19 validation windows"):
        js.forecast(one, level=0.95)


def test_conformal_quantile_rank_and_coverage_by_hand():
    scores = np.array([[0.5], [-1.0], [2.0], [0.0], [1.0]])  # sorted: -1, 0, 0.5, 1, 2
    assert intervals.widening(scores, 0.5)[0] == 0.5  # ceil(6 * 0.5) = 3rd smallest
    assert intervals.widening(scores, 0.8)[0] == 2.0  # ceil(6 * 0.8) = 5th
    assert np.isinf(intervals.widening(scores, 0.9)[0])  # ceil(6 * 0.9) = 6 > 5 folds
    loo = intervals.leave_one_out_widening(scores, 0.5)  # 4 others each: ceil(5 * 0.5) = 3rd smallest
    np.testing.assert_array_equal(loo[:, 0], [1.0, 1.0, 0.5, 1.0, 0.5])
    assert intervals.coverage(np.array([0, 0, 0, 0.]), np.array([1, 1, 1, 1.]), np.array([0.5, 1, 2, -1])) == 0.5
    np.testing.assert_array_equal(intervals.scores(np.array([1.0, 1.0]), np.array([3.0, 3.0]), np.array([4.0, 2.0]), 2.0),
                                  [0.5, -0.5])
    assert intervals.min_folds(0.8) == 5


@pytest.mark.parametrize("kwargs, message", [
    (dict(folds=0), "folds must be"),
    (dict(folds=2, stride=0), "stride must be"),
    (dict(folds=2, members=0), "members must be"),
    (dict(folds=2, level=1.5), "level must be a coverage"),
    (dict(folds=70), "allows at most 63 folds"),
    (dict(folds=2, horizon=0), "horizon must be"),
])
def test_bad_backtest_arguments_fail_before_training(kwargs, message):
    with pytest.raises(ValueError, match=message):
        js.backtest(seasonal_series(72), **{**SMALL, **kwargs})


def test_backtest_cli_table_json_and_csv(tmp_path, capsys):
    from jaxseries import cli  # in this process: the CLI's processes are tested in test_cli

    small_csv(tmp_path / "s.csv", n=60)
    common = ["backtest", str(tmp_path / "s.csv"), "--target", "sales", "--time", "month", "--horizon", "3",
              "--folds", "5", "--steps", "30", "--hidden-dim", "8", "--context", "12", "--no-progress"]
    assert cli.main([*common, "--refit", "--csv", str(tmp_path / "folds.csv")]) == 0
    table = capsys.readouterr().out
    assert "seasonal_naive" in table and "interval coverage" in table
    assert len((tmp_path / "folds.csv").read_text().splitlines()) == 1 + 5 * 3
    assert cli.main([*common, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report["overall"]) == {"jaxseries", "naive", "seasonal_naive"} and len(report["folds"]) == 15
    assert cli.main([*common[:-3], "--folds", "99"]) == 2
    assert "allows at most" in capsys.readouterr().err


def test_ensemble_members_stop_at_their_own_patience_like_single_runs():
    series = seasonal_series(72)
    options = dict(SMALL, steps=300, patience=2, holdout=3, learning_rate=3e-2)  # a rate at which these seeds part
    ensemble = js.train_series(series, members=3, **options)
    runs = [js.train_series(series, seed=i, **options) for i in range(3)]
    singles = [np.asarray(run.history) for run in runs]
    stops = [len(single) for single in singles]
    for i, single in enumerate(singles):
        member = np.asarray(ensemble.member(i).history)
        assert len(member) == len(single) and ensemble.member(i).best_step == runs[i].best_step
        np.testing.assert_allclose(member[0], single[0], rtol=1e-5)  # the same initial weights
        # Equal up to rounding, which a batched program orders differently. At this rate Adam's normalised steps
        # grew it on one CI host to a mean 1% apart (7% at worst) from step 10 on; 2e-7 on others. Any other
        # seed's run is 9-16% apart: the member must be far nearer its own run than any other.
        apart = [np.mean(np.abs(np.log(member[:len(other)] / other[:len(member)]))) for other in singles]
        assert apart[i] < 0.5 * min(a for j, a in enumerate(apart) if j != i), apart
    assert len(set(stops)) > 1  # the members really stopped at different steps
    assert np.isnan(ensemble.history[-1]).sum() == sum(s < len(ensemble.history) for s in stops)


def test_an_ensemble_resumed_from_its_checkpoint_matches_the_uninterrupted_run(tmp_path):
    series = seasonal_series(72)
    options = {**SMALL, "patience": 2, "holdout": 3, "learning_rate": 1e-2, "members": 3}
    options.pop("steps")
    whole = js.train_series(series, steps=300, **options)
    js.train_series(series, steps=60, checkpoint_dir=tmp_path, checkpoint_every=20, **options)  # cut short at 60
    resumed = js.train_series(series, steps=300, checkpoint_dir=tmp_path, checkpoint_every=20, resume=True, **options)
    assert [len(resumed.member(i).history) for i in range(3)] == [len(whole.member(i).history) for i in range(3)]
    np.testing.assert_array_equal(resumed.history, whole.history)  # bit for bit, NaN after each stop
    np.testing.assert_allclose(js.forecast(resumed)["forecast"], js.forecast(whole)["forecast"], rtol=1e-5)
    loaded = js.load(tmp_path)
    assert isinstance(loaded, js.Population) and np.asarray(loaded.state.step).tolist() == \
        np.asarray(whole.state.step).tolist()
    with pytest.raises(js.CheckpointError, match="cannot resume"):
        js.train_series(series, steps=300, checkpoint_dir=tmp_path, resume=True, **{**options, "seed": 5})
