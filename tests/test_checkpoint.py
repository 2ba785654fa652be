import os

import numpy as np
import pytest

import jaxseries as js
from conftest import tree_equal


def test_round_trip_is_exact_and_needs_no_config(seed_data, tmp_path):
    trained = js.train(*seed_data, steps=30, hidden_dim=7, num_layers=2, progress=False, checkpoint_dir=tmp_path)
    adam_moments = trained.state.opt_state.inner_state[0]
    assert np.abs(np.asarray(adam_moments.mu["params"]["head"]["kernel"])).min() > 0  # not a fresh init
    loaded = js.load(tmp_path)
    assert loaded.model_config == trained.model_config
    assert tree_equal(loaded.state, trained.state)
    np.testing.assert_array_equal(loaded.history, trained.history)
    np.testing.assert_array_equal(js.predict(loaded, seed_data[0]), js.predict(trained, seed_data[0]))


def test_resume_continues_to_the_total_and_equals_an_uninterrupted_run(seed_data, tmp_path):
    whole = js.train(*seed_data, steps=40, batch_size=2, progress=False)
    js.train(*seed_data, steps=20, batch_size=2, progress=False, checkpoint_dir=tmp_path, checkpoint_every=10)
    resumed = js.train(*seed_data, steps=40, batch_size=2, progress=False, checkpoint_dir=tmp_path, resume=True)
    assert int(resumed.state.step) == 40
    assert tree_equal(resumed.state, whole.state)
    np.testing.assert_array_equal(resumed.history, whole.history)
    assert int(js.load(tmp_path).state.step) == 40


def test_resume_refuses_a_different_model(seed_data, tmp_path):
    js.train(*seed_data, steps=5, progress=False, checkpoint_dir=tmp_path)
    with pytest.raises(js.CheckpointError, match="hidden_dim"):
        js.train(*seed_data, steps=10, hidden_dim=3, progress=False, checkpoint_dir=tmp_path, resume=True)
    with pytest.raises(js.CheckpointError, match="learning_rate"):
        js.train(*seed_data, steps=10, learning_rate=0.1, progress=False, checkpoint_dir=tmp_path, resume=True)


def test_existing_checkpoint_is_not_replaced_without_overwrite(seed_data, tmp_path):
    first = js.train(*seed_data, steps=5, progress=False, checkpoint_dir=tmp_path)
    with pytest.raises(ValueError, match="already holds a checkpoint"):
        js.train(*seed_data, steps=5, seed=1, progress=False, checkpoint_dir=tmp_path)
    assert tree_equal(js.load(tmp_path).state, first.state)
    second = js.train(*seed_data, steps=5, seed=1, progress=False, checkpoint_dir=tmp_path, overwrite=True)
    assert tree_equal(js.load(tmp_path).state, second.state)


def test_load_of_missing_or_foreign_directory(tmp_path):
    with pytest.raises(js.CheckpointNotFoundError, match="no checkpoint directory"):
        js.load(tmp_path / "missing")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(js.CheckpointNotFoundError, match="holds no jaxseries checkpoint"):
        js.load(tmp_path)
    with pytest.raises(ValueError, match="is a file"):
        js.load(tmp_path / "notes.txt")


def test_retention_keeps_the_latest_steps(seed_data, tmp_path):
    js.train(*seed_data, steps=50, log_every=10, progress=False, checkpoint_dir=tmp_path, checkpoint_every=10)
    steps = sorted(int(n) for n in os.listdir(tmp_path) if n.isdigit())
    assert steps[-1] == 50 and len(steps) <= 3
