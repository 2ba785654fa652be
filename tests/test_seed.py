"""The seed tutorial's program runs by changing its imports only; the demo's claims hold."""

import subprocess
import sys
import textwrap

import numpy as np

from jaxseries import demo
from jaxseries.seed import SEED_EXPECTED, SEED_TEST_X

SEED_MAIN = textwrap.dedent(
    """
    from jaxseries import SeriesPredictor

    if __name__ == '__main__':
        predictor = SeriesPredictor(input_dim=1, seq_size=4, hidden_dim=10)
        train_x = [[[1], [2], [5], [6]],
                   [[5], [7], [7], [8]],
                   [[3], [4], [5], [7]]]
        train_y = [[1, 3, 7, 11],
                   [5, 12, 14, 15],
                   [3, 7, 9, 12]]
        predictor.train(train_x, train_y)
        test_x = [[[1], [2], [3], [4]],
                  [[4], [5], [6], [7]]]
        predictor.test(test_x)
    """
)


def test_the_seed_main_block_runs_unchanged(tmp_path):
    script = tmp_path / "simple_regression.py"
    script.write_text(SEED_MAIN)
    result = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    logged = [line.split() for line in lines if line.split() and line.split()[0].isdigit()]
    assert [int(step) for step, _ in logged] == list(range(0, 1000, 100))
    losses = [float(loss) for _, loss in logged]
    assert losses[-1] < losses[0] / 5  # it learns
    assert "Model saved to model.ckpt" in result.stdout
    assert (tmp_path / "model.ckpt").is_dir()
    printed = result.stdout[result.stdout.rindex("[[") :]
    predictions = np.array([row.split() for row in printed.replace("[", " ").split("]") if row.split()], float)
    assert predictions.shape == (2, 4)
    assert np.abs(predictions - np.asarray(SEED_EXPECTED)).max() < 3


def test_facade_train_then_test_restores_from_disk(tmp_path, seed_data):
    from jaxseries import SeriesPredictor

    predictor = SeriesPredictor(1, 4, 10, checkpoint_dir=tmp_path / "m", steps=20, verbose=False)
    predictor.train(*seed_data)
    in_memory = predictor.trained.predict(SEED_TEST_X)
    predictor.trained = None
    np.testing.assert_array_equal(predictor.test(SEED_TEST_X), in_memory)


def test_generated_data_learns_the_rule_to_a_tenth():
    figures = demo.generated_part(progress=False)
    assert figures["generated_worst_error"] <= 0.1
