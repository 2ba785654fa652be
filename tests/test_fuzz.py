"""Fuzzing the data path: every input trains and predicts finite values, or raises a clear error. Never anything else."""

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import jaxseries as js

ALLOWED = (ValueError, TypeError)

floats = st.floats(width=32, min_value=-1e6, max_value=1e6) | st.sampled_from(
    [np.nan, np.inf, -np.inf, 0.0])
arrays = hnp.arrays(np.float32, hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=4), elements=floats)
odd = st.one_of(
    arrays,
    st.lists(st.lists(st.floats(allow_nan=False, width=32), max_size=3), max_size=3),  # ragged nested lists
    st.just("not an array"), st.none(), st.just([["a", "b"]]), st.integers(),
)

EXAMPLES = 60


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(x=odd, y=odd, batch_size=st.sampled_from([None, 1, 2, 0, -1]))
def test_train_either_works_or_raises_a_clear_error(x, y, batch_size):
    try:
        trained = js.train(x, y, steps=2, hidden_dim=2, batch_size=batch_size, progress=False)
    except ALLOWED as error:
        assert str(error)  # a message, naming something
        return
    predictions = js.predict(trained, x)
    assert np.isfinite(predictions).all()


@st.composite
def shaped_pairs(draw):
    n, t, d = draw(st.integers(0, 4)), draw(st.integers(0, 4)), draw(st.integers(1, 3))
    x = draw(hnp.arrays(np.float32, (n, t, d), elements=floats))
    y_shape = draw(st.sampled_from([(n, t), (n, t, 2), (n, max(t - 1, 0)), (max(n - 1, 0), t)]))
    return x, draw(hnp.arrays(np.float32, y_shape, elements=floats))


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(pair=shaped_pairs(), batch_size=st.sampled_from([None, 1, 3]))
def test_well_shaped_data_trains_to_finite_predictions_or_is_refused(pair, batch_size):
    x, y = pair
    try:
        trained = js.train(x, y, steps=2, hidden_dim=2, batch_size=batch_size, progress=False)
    except ALLOWED as error:
        assert str(error)
        return
    assert np.isfinite(x).all() and np.isfinite(y).all() and x.size and y.size  # only clean data gets here
    predictions = js.predict(trained, x)
    assert predictions.shape == y.shape and np.isfinite(predictions).all()
