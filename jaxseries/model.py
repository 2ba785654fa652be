"""The forward pass only: stacked LSTM layers scanned over time, then a Dense head.

Each layer keeps its weights fused: `w_input` [D, 4H], `w_recurrent` [H, 4H], `bias` [4H], gates in the
order (input, forget, cell, output). The input projection of all time steps is one matmul outside the
recurrence; only `h @ w_recurrent` runs inside `lax.scan`. The result equals Flax's `nn.LSTMCell` (same
initialisers, biases zero) with `forget_bias` added to the forget gate, as TF's BasicLSTMCell does; the
oracle test checks this against a Python loop over the Flax cell.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import linen as nn

from jaxseries.config import ModelConfig


def stacked_orthogonal(key, shape, dtype=jnp.float32):
    """Recurrent init as Flax's cell: an orthogonal [H, H] matrix per gate, side by side."""
    hidden, four_hidden = shape
    keys = jax.random.split(key, four_hidden // hidden)
    return jnp.concatenate([nn.initializers.orthogonal()(k, (hidden, hidden), dtype) for k in keys], axis=1)


def lstm_recurrence(gates_in_TxNx4H, w_recurrent_Hx4H):
    """Runs the recurrence given every step's input-side gate pre-activations. Returns h for all steps."""
    hidden = w_recurrent_Hx4H.shape[0]
    batch = gates_in_TxNx4H.shape[1]

    def step(carry, gates_in_Nx4H):
        h, c = carry
        z = gates_in_Nx4H + h @ w_recurrent_Hx4H
        i, f, g, o = jnp.split(z, 4, axis=-1)
        c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
        h = jax.nn.sigmoid(o) * jnp.tanh(c)
        return (h, c), h

    zeros = jnp.zeros((batch, hidden), gates_in_TxNx4H.dtype)
    _, h_TxNxH = jax.lax.scan(step, (zeros, zeros), gates_in_TxNx4H)
    return h_TxNxH


class LSTMLayer(nn.Module):
    hidden_dim: int
    forget_bias: float = 1.0

    @nn.compact
    def __call__(self, x_TxNxD):
        four_hidden = 4 * self.hidden_dim
        w_input = self.param("w_input", nn.initializers.lecun_normal(), (x_TxNxD.shape[-1], four_hidden))
        w_recurrent = self.param("w_recurrent", stacked_orthogonal, (self.hidden_dim, four_hidden))
        bias = self.param("bias", nn.initializers.zeros_init(), (four_hidden,))
        # TF's BasicLSTMCell adds a constant to the forget gate so early training remembers by default.
        forget_shift = jnp.zeros(four_hidden).at[self.hidden_dim : 2 * self.hidden_dim].set(self.forget_bias)
        gates_in = x_TxNxD @ w_input + (bias + forget_shift)
        return lstm_recurrence(gates_in, w_recurrent)


class LSTMRegressor(nn.Module):
    """x [N, T, input_dim] -> [N, T, output_dim] (head="sequence") or [N, output_dim] (head="last")."""

    config: ModelConfig

    @nn.compact
    def __call__(self, x_NxTxD):
        h = jnp.swapaxes(x_NxTxD, 0, 1)  # time-major for the scan
        for layer in range(self.config.num_layers):
            h = LSTMLayer(self.config.hidden_dim, self.config.forget_bias, name=f"lstm_{layer}")(h)
        if self.config.head == "last":
            return nn.Dense(self.config.output_dim, name="head")(h[-1])
        return nn.Dense(self.config.output_dim, name="head")(jnp.swapaxes(h, 0, 1))
