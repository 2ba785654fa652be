import dataclasses

import numpy as np
import pytest

import jaxseries as js
from conftest import tree_equal


def data(n=8, t=5, seed=0):
    x = np.random.default_rng(seed).normal(size=(n, t, 1)).astype(np.float32)
    return x, np.cumsum(x[..., 0], axis=1)


def test_member_equals_single_training_and_members_differ():
    x, y = data()
    pop = js.train_many(x, y, seeds=[0, 1, 2], learning_rates=[1e-3, 3e-3, 1e-2], steps=30, log_every=10,
                        batch_size=4, progress=False)
    assert pop.predict(x).shape == (3, 8, 5)
    for i, (seed, rate) in enumerate([(0, 1e-3), (1, 3e-3), (2, 1e-2)]):
        single = js.train(x, y, seed=seed, learning_rate=rate, steps=30, log_every=10, batch_size=4, progress=False)
        np.testing.assert_allclose(pop.predict(x)[i], js.predict(single, x), rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(pop.history[:, i], single.history, rtol=1e-4)
        np.testing.assert_allclose(js.predict(pop.member(i), x), js.predict(single, x), rtol=1e-4, atol=1e-5)
    predictions = pop.predict(x)
    assert not np.allclose(predictions[0], predictions[1])


def test_ranking_by_validation_loss():
    x, y = data()
    x_val, y_val = data(seed=1)
    pop = js.train_many(x, y, seeds=range(4), learning_rates=[1e-4, 1e-3, 1e-2, 3e-2], steps=60, log_every=10,
                        validation_data=(x_val, y_val), progress=False)
    best = np.asarray(pop.state.best_loss)
    order = pop.ranked()
    assert sorted(order) == [0, 1, 2, 3] and list(best[order]) == sorted(best)


def test_population_checkpoint_round_trip(tmp_path):
    x, y = data()
    pop = js.train_many(x, y, seeds=[3, 4], steps=20, log_every=10, progress=False, checkpoint_dir=tmp_path)
    loaded = js.load(tmp_path)
    assert isinstance(loaded, js.Population) and loaded.size == 2
    assert tree_equal(loaded.state, pop.state)
    np.testing.assert_array_equal(loaded.predict(x), pop.predict(x))
    np.testing.assert_array_equal(loaded.history, pop.history)


@pytest.mark.parametrize("kwargs, words", [
    ({"seeds": []}, "seeds is empty"),
    ({"seeds": [0, 1], "learning_rates": [1e-3]}, "learning_rates has 1 values but seeds has 2"),
    ({"seeds": [0], "learning_rates": [-1.0]}, "member 0 (seed 0): learning_rate must be"),
    ({"seeds": [0, 1], "weight_decays": [0.1, -1.0]}, "member 1 (seed 1): weight_decay must be"),
    ({"seeds": [0, 1], "hidden_dims": [4]}, "hidden_dims has 1 values but seeds has 2"),
    ({"seeds": [0, 1], "forget_biases": [0.0, float("nan")]}, "member 1 (seed 1): forget_bias must be finite"),
])
def test_bad_population_arguments(tmp_path, kwargs, words):
    x, y = data()
    with pytest.raises(ValueError) as caught:
        js.train_many(x, y, steps=5, progress=False, checkpoint_dir=tmp_path / "c", **kwargs)
    assert words in str(caught.value)
    assert not (tmp_path / "c").exists()


def test_weight_decay_and_forget_bias_vary_per_member_in_one_program():
    x, y = data()
    decays, biases = [None, 0.1, 0.0], [1.0, 0.0, 2.0]
    pop = js.train_many(x, y, seeds=[0, 1, 2], weight_decays=decays, forget_biases=biases, steps=30, log_every=10,
                        batch_size=4, progress=False)
    assert isinstance(pop, js.Population) and pop.size == 3
    for i, (decay, bias) in enumerate(zip(decays, biases)):
        single = js.train(x, y, seed=i, weight_decay=decay, forget_bias=bias, steps=30, log_every=10, batch_size=4,
                          progress=False)
        np.testing.assert_allclose(pop.predict(x)[i], js.predict(single, x), rtol=1e-4, atol=1e-5)
    plain = js.train(x, y, seed=1, forget_bias=0.0, steps=30, log_every=10, batch_size=4, progress=False)
    assert not np.allclose(pop.predict(x)[1], js.predict(plain, x))  # the decay did something


def test_hidden_sizes_are_grouped_one_call_per_size(tmp_path):
    x, y = data()
    sizes = [4, 6, 4]
    x_val, y_val = data(seed=1)
    groups = js.train_many(x, y, seeds=[0, 1, 2], hidden_dims=sizes, steps=20, log_every=10,
                           validation_data=(x_val, y_val), progress=False, checkpoint_dir=tmp_path)
    assert sorted(groups.groups) == [4, 6] and groups.groups[4].size == 2 and groups.size == 3
    predictions = groups.predict(x)
    for i, size in enumerate(sizes):
        single = js.train(x, y, seed=i, hidden_dim=size, steps=20, log_every=10, progress=False)
        assert groups.member(i).model_config.hidden_dim == size
        np.testing.assert_allclose(predictions[i], js.predict(single, x), rtol=1e-4, atol=1e-5)
    assert sorted(groups.ranked()) == [0, 1, 2]
    np.testing.assert_array_equal(js.load(tmp_path / "hidden_6").predict(x)[0], predictions[1])


def test_shared_values_take_the_singular_name_and_lists_the_plural():
    x, y = data()
    pop = js.train_many(x, y, seeds=(s for s in range(3)), learning_rate=1e-2, steps=20, log_every=10, progress=False)
    counted = js.train_many(x, y, members=3, seed=4, learning_rate=1e-2, steps=20, log_every=10, progress=False)
    assert [c.seed for c in counted.train_configs] == [4, 5, 6]  # members=N: consecutive seeds, as train_series
    for i in range(3):
        single = js.train(x, y, seed=i, learning_rate=1e-2, steps=20, log_every=10, progress=False)
        np.testing.assert_allclose(pop.predict(x)[i], js.predict(single, x), rtol=1e-4, atol=1e-5)
    assert {c.learning_rate for c in pop.train_configs} == {1e-2}
    with pytest.raises(ValueError, match="learning_rate= .* or learning_rates= .* not both"):
        js.train_many(x, y, seeds=[0, 1], learning_rate=1e-2, learning_rates=[1e-3, 1e-2], steps=5, progress=False)
    with pytest.raises(ValueError, match="seeds has 3 values but members=2"):
        js.train_many(x, y, members=2, seeds=[0, 1, 2], steps=5, progress=False)
    with pytest.raises(ValueError, match="how many members"):
        js.train_many(x, y, learning_rate=1e-2, steps=5, progress=False)


def test_one_member_population_equals_train_and_train_validates_like_train_many():
    x, y = data()
    x_val, y_val = data(seed=1)
    options = dict(steps=60, log_every=10, validation_data=(x_val, y_val), patience=2, learning_rate=3e-2,
                   progress=False)
    single = js.train(x, y, seed=5, **options)
    pop = js.train_many(x, y, seeds=[5], **options)
    assert isinstance(single, js.Trained) and isinstance(pop, js.Population)
    assert tree_equal(pop.member(0).state, single.state)  # the same program: bit for bit
    np.testing.assert_array_equal(pop.member(0).history, single.history)
    np.testing.assert_array_equal(pop.member(0).val_history, single.val_history)
    assert single.best_step == pop.best_step[0] and len(single.history) <= 60


def test_every_entry_point_takes_the_same_names():
    import inspect

    from jaxseries import cli

    shared = {"hidden_dim", "num_layers", "steps", "learning_rate", "batch_size", "seed", "weight_decay", "patience",
              "eval_every", "progress"}
    saving = {"checkpoint_dir", "checkpoint_every", "resume", "overwrite"}
    entry_points = {"train": (js.train, shared | saving), "train_many": (js.train_many, shared | saving | {"members"}),
                    "train_series": (js.train_series, shared | saving | {"members"}),
                    "backtest": (js.backtest, shared | {"members"})}
    options = {f.name for f in dataclasses.fields(js.SeriesOptions)}  # the series calls' keyword options
    for name, (function, expected) in entry_points.items():
        accepted = set(inspect.signature(function).parameters) | (options if name in ("train_series", "backtest") else set())
        missing = expected - accepted
        assert not missing, (name, missing)
    parser = cli.build_parser()
    for argv in (["train", "d.csv", "--target", "y", "--horizon", "3", "--out", "o"],
                 ["backtest", "d.csv", "--target", "y", "--horizon", "3", "--folds", "2"]):
        missing = (shared | {"members"}) - {"progress"} - set(vars(parser.parse_args(argv)))
        assert not missing, (argv[0], missing)


def test_resume_refuses_a_single_run_as_a_population_and_back(tmp_path):
    x, y = data()
    js.train(x, y, steps=10, log_every=10, progress=False, checkpoint_dir=tmp_path / "one")
    with pytest.raises(js.CheckpointError, match="it holds one model, this call trains a population of 1 member;"):
        js.train_many(x, y, seeds=[0], steps=20, log_every=10, progress=False, checkpoint_dir=tmp_path / "one",
                      resume=True)
    js.train_many(x, y, seeds=[0, 1], steps=10, log_every=10, progress=False, checkpoint_dir=tmp_path / "two")
    with pytest.raises(js.CheckpointError, match="it holds a population of 2 members, this call trains one model"):
        js.train(x, y, steps=20, log_every=10, progress=False, checkpoint_dir=tmp_path / "two", resume=True)
