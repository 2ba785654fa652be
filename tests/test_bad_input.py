"""Every rejected input raises a clear ValueError/TypeError before compiling, and writes nothing."""

import numpy as np
import pytest

import jaxseries as js

X = [[[1.0], [2.0]], [[3.0], [4.0]]]
Y = [[1.0, 3.0], [3.0, 7.0]]
NAN_X = [[[1.0], [np.nan]], [[3.0], [4.0]]]

CASES = [
    # (x, y, kwargs, error, words the message must contain)
    (NAN_X, Y, {}, ValueError, ["x", "NaN", "(0, 1, 0)"]),
    (X, [[1.0, np.inf], [3.0, 7.0]], {}, ValueError, ["y", "inf"]),
    (X, [[1.0, 3.0]], {}, ValueError, ["N=2", "N=1"]),
    (X, [[1.0], [3.0]], {}, ValueError, ["T=2", "T=1"]),
    ([[1.0, 2.0], [3.0, 4.0]], Y, {}, ValueError, ["x must be [N, T, input_dim]", "rank 2"]),
    (X, [1.0, 2.0], {}, ValueError, ["y must be", "rank 1"]),
    ([], Y, {}, ValueError, ["x is empty"]),
    (np.zeros((2, 0, 1)), np.zeros((2, 0)), {}, ValueError, ["x is empty"]),
    ([[["a"], ["b"]], [["c"], ["d"]]], Y, {}, TypeError, ["x must hold real numbers"]),
    ([[[1.0], [2.0]], [[3.0]]], Y, {}, ValueError, ["x is ragged"]),
    (None, Y, {}, TypeError, ["x is None"]),
    (X, Y, {"hidden_dim": 0}, ValueError, ["hidden_dim", ">= 1"]),
    (X, Y, {"hidden_dim": 2.5}, TypeError, ["hidden_dim must be an int"]),
    (X, Y, {"num_layers": -1}, ValueError, ["num_layers"]),
    (X, Y, {"steps": -5}, ValueError, ["steps", ">= 0"]),
    (X, Y, {"batch_size": 0}, ValueError, ["batch_size"]),
    (X, Y, {"learning_rate": 0.0}, ValueError, ["learning_rate", "> 0"]),
    (X, Y, {"learning_rate": -1e-3}, ValueError, ["learning_rate"]),
    (X, Y, {"learning_rate": float("nan")}, ValueError, ["learning_rate", "finite"]),
    (X, Y, {"learning_rate": "fast"}, TypeError, ["learning_rate must be a number"]),
    (X, Y, {"seed": -1}, ValueError, ["seed"]),
    (X, Y, {"checkpoint_every": 0}, ValueError, ["checkpoint_every"]),
    (X, Y, {"resume": True, "checkpoint_dir": None}, ValueError, ["resume=True needs the checkpoint_dir"]),
]


@pytest.mark.parametrize("x, y, kwargs, error, words", CASES)
def test_rejected_before_anything_is_written(tmp_path, x, y, kwargs, error, words):
    target = tmp_path / "ckpt"
    kwargs = {"checkpoint_dir": target, **kwargs}
    with pytest.raises(error) as caught:
        js.train(x, y, steps=kwargs.pop("steps", 3), progress=False, **kwargs)
    for word in words:
        assert word in str(caught.value)
    assert not target.exists()


def test_checkpoint_path_that_is_a_file(tmp_path):
    path = tmp_path / "model.ckpt"
    path.write_text("not a directory")
    with pytest.raises(ValueError, match="is a file"):
        js.train(X, Y, steps=1, progress=False, checkpoint_dir=path)
    assert path.read_text() == "not a directory"


def test_predict_checks_input_dim_and_values():
    trained = js.train(X, Y, steps=1, progress=False)
    with pytest.raises(ValueError, match="input_dim=2 but the model was trained with input_dim=1"):
        js.predict(trained, np.ones((1, 2, 2)))
    with pytest.raises(ValueError, match="NaN"):
        js.predict(trained, NAN_X)
    with pytest.raises(ValueError, match="rank 2"):
        js.predict(trained, [[1.0, 2.0]])


def test_seed_facade_checks_sequence_shape(tmp_path):
    predictor = js.SeriesPredictor(input_dim=1, seq_size=4, checkpoint_dir=tmp_path / "m")
    with pytest.raises(ValueError, match="seq_size=4"):
        predictor.train(X, Y)
    assert not (tmp_path / "m").exists()


# ---- raw series (forecasting) ----
import pandas as pd  # noqa: E402



def month_frame(n=60):
    t = np.arange(n)
    return pd.DataFrame({"month": pd.date_range("2001-01", periods=n, freq="MS"), "y": 10 + np.sin(t), "label": "a"})


SERIES_CASES = [
    (lambda f: f.assign(y=f.y.where(f.index != 3, np.inf)), {}, ["'y'", "±inf", "row 3"]),
    (lambda f: f.iloc[:6], {}, ["has 6 rows", "holdout 3 + validation 3 + 1 needs 7"]),
    (lambda f: f.iloc[::-1], {}, ["not sorted"]),
    (lambda f: pd.concat([f.iloc[:5], f.iloc[4:]]), {}, ["appears more than once"]),
    (lambda f: f.drop(index=10), {}, ["irregularly spaced", "fill=True"]),
    (lambda f: f, {"target": "nope"}, ["target column 'nope'"]),
    (lambda f: f, {"target": "label"}, ["'label' is not numeric"]),
    (lambda f: f, {"covariates": ["ghost"]}, ["covariate column 'ghost'"]),
    (lambda f: f, {"horizon": 0}, ["horizon must be >= 1"]),
    (lambda f: f, {"holdout": -2}, ["holdout must be >= 1"]),
    (lambda f: f.assign(month=["not a date"] * 60), {}, ["time column 'month'", "not timestamps"]),
]


@pytest.mark.parametrize("change, kwargs, words", SERIES_CASES)
def test_series_rejected_before_anything_is_written(tmp_path, change, kwargs, words):
    kwargs = {"target": "y", "time": "month", "horizon": 3, "holdout": 3, **kwargs}
    with pytest.raises(ValueError) as caught:
        js.train_series(change(month_frame()), checkpoint_dir=tmp_path / "run", steps=5, progress=False,
                                 **kwargs)
    for word in words:
        assert word in str(caught.value), (word, str(caught.value))
    assert not (tmp_path / "run").exists()


def test_missing_csv_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        js.train_series(tmp_path / "none.csv", horizon=3)
