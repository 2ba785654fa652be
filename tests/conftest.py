import os

# Tests compile in-process; keep the user's persistent compilation cache out of it.
os.environ.setdefault("JAXSERIES_COMPILATION_CACHE", "off")

import numpy as np
import pytest

from jaxseries.seed import SEED_TRAIN_X, SEED_TRAIN_Y


@pytest.fixture
def seed_data():
    return np.asarray(SEED_TRAIN_X, np.float32), np.asarray(SEED_TRAIN_Y, np.float32)


def tree_equal(a, b) -> bool:
    import jax

    leaves_a, tree_a = jax.tree.flatten(a)
    leaves_b, tree_b = jax.tree.flatten(b)
    return tree_a == tree_b and all(np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(leaves_a, leaves_b))
