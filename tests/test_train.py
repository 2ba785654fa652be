import jax
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jaxseries as js
from jaxseries import loop, state as state_lib, steps as steps_lib
from jaxseries.config import ModelConfig
from conftest import tree_equal


def test_every_parameter_changes_after_one_step(seed_data):
    x, y = seed_data
    before = js.train(x, y, steps=0, progress=False)
    after = js.train(x, y, steps=1, progress=False)
    changed = jax.tree.map(lambda a, b: bool((np.asarray(a) != np.asarray(b)).all()), before.params, after.params)
    assert all(jax.tree.leaves(changed)), changed


def test_loss_falls_on_the_seed_data(seed_data):
    trained = js.train(*seed_data, steps=300, progress=False)
    assert trained.history.shape == (300,)
    assert trained.history[-1] < 0.8 * trained.history[0]


def test_same_seed_gives_bitwise_identical_parameters(seed_data):
    a = js.train(*seed_data, steps=50, batch_size=2, progress=False, seed=3)
    b = js.train(*seed_data, steps=50, batch_size=2, progress=False, seed=3)
    c = js.train(*seed_data, steps=50, batch_size=2, progress=False, seed=4)
    assert tree_equal(a.state, b.state)
    assert not tree_equal(a.params, c.params)


def test_scanned_steps_equal_python_looped_steps(seed_data):
    x, y = seed_data
    config = ModelConfig(input_dim=1, hidden_dim=10)
    trained = js.train(x, y, steps=20, batch_size=2, log_every=7, progress=False)
    state = state_lib.create_train_state(config, 1e-3, 0)
    step = jax.jit(steps_lib.make_train_step(config))
    losses = []
    for _ in range(20):
        state, loss = step(state, steps_lib.select_batch(state, x, y[..., None], 2))
        losses.append(float(loss))
    np.testing.assert_allclose(trained.history, losses, rtol=1e-6)
    for ours, looped in zip(jax.tree.leaves(trained.state), jax.tree.leaves(state)):
        np.testing.assert_allclose(np.asarray(ours), np.asarray(looped), rtol=1e-5, atol=1e-6)


def test_minibatches_cover_each_epoch_once():
    x = np.arange(10, dtype=np.float32).reshape(10, 1, 1)
    state = state_lib.create_train_state(ModelConfig(input_dim=1), 1e-3, 0)
    seen = []
    for step in range(5):
        batch_x, _ = steps_lib.select_batch(state.replace(step=np.int32(step)), x, x, 2)
        seen.extend(np.asarray(batch_x).ravel().tolist())
    assert sorted(seen) == list(range(10))


def test_second_train_call_does_not_compile_again(seed_data):
    # hidden_dim=7 is used by no other test, so the compiled chunk's cache holds this test's programs only
    js.train(*seed_data, steps=30, log_every=10, hidden_dim=7, progress=False)
    run = steps_lib.compiled_chunk(ModelConfig(input_dim=1, hidden_dim=7), None, 10, False, None, None, None)
    compiled_before = run._cache_size()
    compiles = []
    jax.monitoring.register_event_duration_secs_listener(
        lambda event, _, **__: compiles.append(event) if event == "/jax/compilation_cache/compile_requests_use_cache" or "backend_compile" in event else None
    )
    js.train(*seed_data, steps=30, log_every=10, hidden_dim=7, progress=False, seed=1, learning_rate=5e-3)
    assert run._cache_size() == compiled_before == 1
    assert not [e for e in compiles if "backend_compile" in e]


def test_y_with_output_axis_and_several_outputs():
    x = np.random.default_rng(0).normal(size=(4, 3, 2))
    y = np.random.default_rng(1).normal(size=(4, 3, 2))
    trained = js.train(x, y, steps=3, progress=False)
    assert js.predict(trained, x).shape == (4, 3, 2)
    assert js.predict(trained, x[:1, :2]).shape == (1, 2, 2)  # any N and T at predict time


def test_divergence_stops_with_the_step_named(seed_data):
    x, y = seed_data
    with pytest.raises(js.DivergenceError, match="step"):
        loop.fit(x, y[..., None], ModelConfig(input_dim=1), js.TrainConfig(steps=50, learning_rate=1e30),
                      progress=False)


def test_resuming_a_finished_run_trains_nothing_more(seed_data, tmp_path):
    x, y = seed_data
    options = dict(validation_data=(x, y[::-1]), patience=1, eval_every=5, log_every=5, learning_rate=0.1, progress=False)
    stopped = js.train(x, y, steps=400, checkpoint_dir=tmp_path / "a", **options)
    assert len(stopped.history) < 400  # early stopping ended it
    again = js.train(x, y, steps=400, checkpoint_dir=tmp_path / "a", resume=True, **options)
    assert tree_equal(again.state, stopped.state) and len(again.history) == len(stopped.history)
    js.train(x, y, steps=20, checkpoint_dir=tmp_path / "b", log_every=10, progress=False)
    shorter = js.train(x, y, steps=10, checkpoint_dir=tmp_path / "b", log_every=10, progress=False, resume=True)
    assert int(shorter.state.step) == 20 and len(shorter.history) == 20  # more steps than asked: kept, not cut


@settings(max_examples=15, deadline=None)  # each size compiles its own shuffle
@given(size=st.integers(1, 3000), data=st.data())
def test_each_epochs_shuffle_is_a_permutation_of_the_real_rows(size, data):
    count = data.draw(st.integers(1, size))
    seed = data.draw(st.integers(0, 2**31 - 1))
    order = np.asarray(steps_lib.shuffled_positions(jax.random.PRNGKey(seed), size, count, np.arange(count)))
    assert sorted(order.tolist()) == list(range(count))


def test_padded_batches_draw_real_rows_only_and_mask_the_rest():
    x = np.arange(12, dtype=np.float32).reshape(12, 1, 1)
    state = state_lib.create_train_state(ModelConfig(input_dim=1), 1e-3, 0)
    seen = []
    for step in range(3):  # count 7, batch 2: three batches per epoch, row 6 left for the ragged tail
        batch_x, _, weights = steps_lib.select_batch(state.replace(step=np.int32(step)), x, x, 2, count=7)
        assert np.asarray(weights).tolist() == [1.0, 1.0]
        seen += np.asarray(batch_x).ravel().tolist()
    assert len(set(seen)) == 6 and max(seen) < 7
    batch_x, _, weights = steps_lib.select_batch(state, x, x, 5, count=3)  # fewer real rows than one batch
    assert sorted(np.asarray(batch_x).ravel()[np.asarray(weights) > 0].tolist()) == [0, 1, 2]
