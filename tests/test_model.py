import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import linen as nn

from jaxseries.config import ModelConfig
from jaxseries.model import LSTMRegressor


def flax_cell_params(layer, hidden):
    """Our fused layer weights, as the per-gate Dense params of Flax's nn.LSTMCell (forget bias folded in)."""
    names = ["i", "f", "g", "o"]
    w_in = np.split(np.asarray(layer["w_input"]), 4, axis=1)
    w_rec = np.split(np.asarray(layer["w_recurrent"]), 4, axis=1)
    bias = np.split(np.asarray(layer["bias"]), 4)
    params = {}
    for k, name in enumerate(names):
        params["i" + name] = {"kernel": w_in[k]}
        params["h" + name] = {"kernel": w_rec[k], "bias": bias[k] + (1.0 if name == "f" else 0.0)}
    return params


@pytest.mark.parametrize("num_layers", [1, 2])
def test_scan_equals_python_loop_over_flax_cell(num_layers):
    hidden, batch, steps, features = 5, 3, 6, 2
    config = ModelConfig(input_dim=features, output_dim=2, hidden_dim=hidden, num_layers=num_layers)
    x = jax.random.normal(jax.random.PRNGKey(1), (batch, steps, features))
    params = LSTMRegressor(config).init(jax.random.PRNGKey(0), x)
    # Make every bias non-zero so their handling is tested too.
    params = jax.tree.map(lambda p: p + 0.1, params)
    ours = LSTMRegressor(config).apply(params, x)

    cell = nn.LSTMCell(hidden)
    h = x
    for layer in range(num_layers):
        cell_params = {"params": flax_cell_params(params["params"][f"lstm_{layer}"], hidden)}
        carry = (jnp.zeros((batch, hidden)), jnp.zeros((batch, hidden)))
        outputs = []
        for t in range(steps):
            carry, out = cell.apply(cell_params, carry, h[:, t])
            outputs.append(out)
        h = jnp.stack(outputs, axis=1)
    head = params["params"]["head"]
    reference = h @ head["kernel"] + head["bias"]
    np.testing.assert_allclose(ours, reference, rtol=1e-5, atol=1e-5)


def test_initialisers_match_flax_cell_statistics():
    config = ModelConfig(input_dim=3, hidden_dim=8)
    params = LSTMRegressor(config).init(jax.random.PRNGKey(0), jnp.zeros((1, 1, 3)))["params"]["lstm_0"]
    for gate in np.split(np.asarray(params["w_recurrent"]), 4, axis=1):
        np.testing.assert_allclose(gate.T @ gate, np.eye(8), atol=1e-5)  # orthogonal per gate, as Flax
    assert not np.asarray(params["bias"]).any()


def test_output_at_t_does_not_depend_on_later_inputs():
    config = ModelConfig(input_dim=1, hidden_dim=4, num_layers=2)
    x = jax.random.normal(jax.random.PRNGKey(2), (2, 5, 1))
    model = LSTMRegressor(config)
    params = model.init(jax.random.PRNGKey(0), x)
    for t in range(5):
        grad = jax.grad(lambda inputs: model.apply(params, inputs)[:, t].sum())(x)
        assert not np.asarray(grad[:, t + 1 :]).any()
        assert np.asarray(grad[:, : t + 1]).any()


def test_last_head_returns_one_vector_per_sequence():
    config = ModelConfig(input_dim=2, output_dim=3, hidden_dim=4, head="last")
    x = jnp.ones((5, 7, 2))
    model = LSTMRegressor(config)
    assert model.apply(model.init(jax.random.PRNGKey(0), x), x).shape == (5, 3)


@pytest.mark.parametrize("unroll", [1, 3])
def test_fast_backward_equals_autodiff_of_the_reference(unroll):
    from jaxseries.model import lstm_recurrence, lstm_recurrence_reference

    keys = jax.random.split(jax.random.PRNGKey(0), 3)
    gates_in = jax.random.normal(keys[0], (7, 3, 4 * 5))
    w_recurrent = 0.5 * jax.random.normal(keys[1], (5, 20))
    cotangent = jax.random.normal(keys[2], (7, 3, 5))

    def loss(fn):
        return lambda g, w: jnp.sum(fn(g, w, unroll) * cotangent)

    np.testing.assert_allclose(lstm_recurrence(gates_in, w_recurrent, unroll),
                               lstm_recurrence_reference(gates_in, w_recurrent), rtol=1e-6, atol=1e-6)
    fast = jax.grad(loss(lstm_recurrence), argnums=(0, 1))(gates_in, w_recurrent)
    reference = jax.grad(loss(lstm_recurrence_reference), argnums=(0, 1))(gates_in, w_recurrent)
    for ours, theirs in zip(fast, reference):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5)


def test_one_feature_gates_backward_equals_autodiff_of_the_product():
    # The written-out backward of the one-feature input side, alone and as a population shares x (vmap over the
    # weights only), against autodiff of the plain product.
    from jaxseries.model import one_feature_gates

    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.normal(size=(6, 5)), jnp.float32)
    w, bias = (jnp.asarray(rng.normal(size=(3, 8)), jnp.float32) for _ in range(2))
    cotangent = jnp.asarray(rng.normal(size=(6, 5, 8)), jnp.float32)

    def loss(gates):
        return lambda x, w, bias: jnp.sum(gates(x, w, bias) * cotangent)

    written = jax.vmap(jax.grad(loss(one_feature_gates), argnums=(0, 1, 2)), in_axes=(None, 0, 0))(x, w, bias)
    autodiff = jax.vmap(jax.grad(loss(lambda x, w, bias: x[..., None] * w + bias), argnums=(0, 1, 2)),
                        in_axes=(None, 0, 0))(x, w, bias)
    for got, expected in zip(written, autodiff):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
