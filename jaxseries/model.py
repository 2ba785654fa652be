"""The forward pass only: stacked LSTM layers scanned over time, then a Dense head.

Each layer keeps its weights fused: `w_input` [D, 4H], `w_recurrent` [H, 4H], `bias` [4H], gates in the
order (input, forget, cell, output). The input projection of all time steps is one matmul outside the
recurrence; only `h @ w_recurrent` runs inside the time loop. On CPU that loop is one call of the C++ kernel
(`kernel.py`) where it is built; elsewhere, and as its oracle, a `lax.scan`. The result equals Flax's `nn.LSTMCell` (same
initialisers, biases zero) with `forget_bias` added to the forget gate, as TF's BasicLSTMCell does; the
oracle test checks this against a Python loop over the Flax cell.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from flax import linen as nn

from jaxseries import kernel
from jaxseries.config import ModelConfig


def stacked_orthogonal(key, shape, dtype=jnp.float32):
    """Recurrent init as Flax's cell: an orthogonal [H, H] matrix per gate, side by side."""
    hidden, four_hidden = shape
    keys = jax.random.split(key, four_hidden // hidden)
    return jnp.concatenate([nn.initializers.orthogonal()(k, (hidden, hidden), dtype) for k in keys], axis=1)


def _lstm_step(w_recurrent, carry, gates_in):
    h, c = carry
    z = gates_in + h @ w_recurrent
    i, f, g, o = jnp.split(z, 4, axis=-1)
    i, f, g, o = jax.nn.sigmoid(i), jax.nn.sigmoid(f), jnp.tanh(g), jax.nn.sigmoid(o)
    c = f * c + i * g
    return (o * jnp.tanh(c), c), (i, f, g, o)


def lstm_recurrence_reference(gates_in_TxNx4H, w_recurrent_Hx4H, unroll: int = 1):
    """The recurrence differentiated by plain autodiff: the oracle for the fast path below."""
    batch, hidden = gates_in_TxNx4H.shape[1], w_recurrent_Hx4H.shape[0]
    zeros = jnp.zeros((batch, hidden), gates_in_TxNx4H.dtype)

    def step(carry, gates_in):
        carry, _ = _lstm_step(w_recurrent_Hx4H, carry, gates_in)
        return carry, carry[0]

    return jax.lax.scan(step, (zeros, zeros), gates_in_TxNx4H, unroll=unroll)[1]


def _scan_forward(gates_in_TxNx4H, w_recurrent_Hx4H, unroll):
    batch, hidden = gates_in_TxNx4H.shape[1], w_recurrent_Hx4H.shape[0]
    zeros = jnp.zeros((batch, hidden), gates_in_TxNx4H.dtype)

    def step(carry, gates_in):
        carry, activations = _lstm_step(w_recurrent_Hx4H, carry, gates_in)
        return carry, (carry, activations)

    _, ((h, c), activations) = jax.lax.scan(step, (zeros, zeros), gates_in_TxNx4H, unroll=unroll)
    return h, c, activations


def _kernel_forward(gates_in_TxNx4H, w_recurrent_Hx4H):
    h, c, *activations = kernel.forward(gates_in_TxNx4H, w_recurrent_Hx4H)
    return h, c, tuple(activations)


def _on_kernel_or_scan(on_kernel, on_scan, *arrays):
    """The CPU kernel where it is built, the data is float32 and it measured faster than the scan at the nearest
    shape (`kernel.chosen_for`), chosen when the program is lowered (so one traced function runs the kernel on
    CPU and the scan on GPU/TPU); the XLA scan everywhere else. arrays[0] is [..., T, N, .], arrays[-1] the
    recurrent weight [..., H, 4H].

    With several CPU devices (host devices, or processes) the scan runs: XLA knows how to split it over the
    batch's sharding, and not the kernel (it would gather the whole batch onto every device).
    """
    if (kernel.available() and len(jax.devices("cpu")) == 1 and all(a.dtype == jnp.float32 for a in arrays)
            and kernel.chosen_for(*arrays[0].shape[-3:-1], arrays[-1].shape[-2])):
        return jax.lax.platform_dependent(*arrays, cpu=on_kernel, default=on_scan)
    return on_scan(*arrays)


def _forward(gates_in_TxNx4H, w_recurrent_Hx4H, unroll):
    return _on_kernel_or_scan(_kernel_forward, functools.partial(_scan_forward, unroll=unroll),
                              gates_in_TxNx4H, w_recurrent_Hx4H)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def lstm_recurrence(gates_in_TxNx4H, w_recurrent_Hx4H, unroll: int = 1):
    """Runs the recurrence given every step's input-side gate pre-activations. Returns h for all steps [T, N, H].

    The backward pass is written out: the reverse recurrence carries only dh and dc. On the XLA path the recurrent
    weight's gradient is one [T*N, H] x [T*N, 4H] matmul after the scan; the CPU kernel sums it as it goes.
    """
    return _forward(gates_in_TxNx4H, w_recurrent_Hx4H, unroll)[0]


def _recurrence_fwd(gates_in_TxNx4H, w_recurrent_Hx4H, unroll):
    h, c, activations = _forward(gates_in_TxNx4H, w_recurrent_Hx4H, unroll)
    return h, (h, c, activations, w_recurrent_Hx4H)


def _scan_backward(dh_TxNxH, c, i, f, g, o, w_recurrent, unroll):
    c_prev = jnp.concatenate([jnp.zeros_like(c[:1]), c[:-1]])

    def step(carry, inputs):
        dh_next, dc_next = carry
        dh_out, c_t, c_before, i_t, f_t, g_t, o_t = inputs
        dh = dh_out + dh_next
        tanh_c = jnp.tanh(c_t)
        dc = dc_next + dh * o_t * (1.0 - tanh_c**2)
        dz = jnp.concatenate([
            dc * g_t * i_t * (1.0 - i_t),
            dc * c_before * f_t * (1.0 - f_t),
            dc * i_t * (1.0 - g_t**2),
            dh * tanh_c * o_t * (1.0 - o_t),
        ], axis=-1)
        return (dz @ w_recurrent.T, dc * f_t), dz

    zeros = jnp.zeros_like(dh_TxNxH[0])
    return jax.lax.scan(step, (zeros, zeros), (dh_TxNxH, c, c_prev, i, f, g, o), reverse=True, unroll=unroll)[1]


def _scan_gradients(dh_TxNxH, h, c, i, f, g, o, w_recurrent, unroll):
    """(dz, dw): the reverse scan, then the recurrent weight's gradient as one [H, T*N] x [T*N, 4H] matmul."""
    dz_TxNx4H = _scan_backward(dh_TxNxH, c, i, f, g, o, w_recurrent, unroll)
    h_prev = jnp.concatenate([jnp.zeros_like(h[:1]), h[:-1]])
    hidden = h.shape[-1]
    return dz_TxNx4H, h_prev.reshape(-1, hidden).T @ dz_TxNx4H.reshape(-1, 4 * hidden)


def _recurrence_bwd(unroll, residuals, dh_TxNxH):
    h, c, activations, w_recurrent = residuals
    return _on_kernel_or_scan(kernel.backward, functools.partial(_scan_gradients, unroll=unroll),
                              dh_TxNxH, h, c, *activations, w_recurrent)


lstm_recurrence.defvjp(_recurrence_fwd, _recurrence_bwd)


@jax.custom_vjp
def one_feature_gates(x_TxN, w_4H, bias_4H):
    """The input side's pre-activations [T, N, 4H] for one input feature: a product, not a matmul (a contraction
    of size 1). Its backward is written out, the weight's and the bias's gradients in one pass over dz: against
    autodiff of the product, steps faster in one-process A/B runs (best of 9, alternated, 2026-11-28) L 10%, W 7%,
    M 2-4%, a 32-member population 1-3%; as one pass, not a product and a sum, the population 4-6% more
    (2026-12-07, benchmarks/RESULTS.md)."""
    return x_TxN[..., None] * w_4H + bias_4H


def _one_feature_fwd(x_TxN, w_4H, bias_4H):
    return one_feature_gates(x_TxN, w_4H, bias_4H), (x_TxN, w_4H)


def _one_feature_bwd(residuals, dz_TxNx4H):
    x_TxN, w_4H = residuals
    # The weight's and the bias's gradients in one pass over dz: a reduction of dz times [x, 1]. As a product
    # x @ dz (and a second pass for the bias), XLA copied dz transposed in a population, whose members share x
    # (it folds the members into the product's columns), and read dz twice everywhere (benchmarks/RESULTS.md).
    dz_rows = dz_TxNx4H.reshape(-1, dz_TxNx4H.shape[-1])
    x_rows = x_TxN.reshape(-1)
    x_and_one = jnp.stack([x_rows, jnp.ones_like(x_rows)], axis=1)
    weight_and_bias = jnp.sum(x_and_one[:, :, None] * dz_rows[:, None, :], axis=0)
    return dz_TxNx4H @ w_4H, weight_and_bias[0], weight_and_bias[1]


one_feature_gates.defvjp(_one_feature_fwd, _one_feature_bwd)


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
        if x_TxNxD.shape[-1] == 1:
            gates_in = one_feature_gates(x_TxNxD[..., 0], w_input[0], bias + forget_shift)
        else:
            gates_in = x_TxNxD @ w_input + (bias + forget_shift)
        return lstm_recurrence(gates_in, w_recurrent)


# The linear path's weights start at zero and Adam moves each by about the learning rate per step: scaled by
# `linear_rate`, the path learns that much faster than the network, before early stopping ends the run. Chosen by
# the pre-holdout backtests (benchmarks/RESULTS.md): 10 (the default) improved all four single series over 1; 30
# helped airline, hurt two. A panel model (one network for many series) trains longer and uses 1: better on all
# three seeds on M3 monthly's training parts.


class LSTMRegressor(nn.Module):
    """x [N, T, input_dim] -> [N, T, output_dim] (head="sequence"), [N, output_dim] (head="last") or
    [N, horizon * output_dim] (head="horizon")."""

    config: ModelConfig

    @nn.compact
    def __call__(self, x_NxTxD):
        h = jnp.swapaxes(x_NxTxD, 0, 1)  # time-major for the scan
        for layer in range(self.config.num_layers):
            h = LSTMLayer(self.config.hidden_dim, self.config.forget_bias, name=f"lstm_{layer}")(h)
        if self.config.head == "last":
            return nn.Dense(self.config.output_dim, name="head")(h[-1])
        if self.config.head == "horizon":
            # Each forecast row's output reads its state and its own inputs (the step's known features), plus a linear
            # path from the whole context window (lagged drivers reach the first steps without being memorised).
            steps, n = self.config.horizon, x_NxTxD.shape[0]
            rows = jnp.concatenate([h[-steps:], jnp.swapaxes(x_NxTxD, 0, 1)[-steps:]], -1)
            out = jnp.swapaxes(nn.Dense(self.config.output_dim, name="head")(rows), 0, 1).reshape(n, -1)
            context = x_NxTxD[:, :-steps].reshape(n, -1)
            linear = nn.Dense(steps * self.config.output_dim, use_bias=False, name="linear",
                              kernel_init=nn.initializers.zeros_init())(context)
            return out + self.config.linear_rate * linear  # [N, horizon * output_dim]
        # The head runs time-major and only its small output is transposed (not the [T, N, H] states).
        return jnp.swapaxes(nn.Dense(self.config.output_dim, name="head")(h), 0, 1)


def _truncated_normal(rng: np.random.Generator, shape, fan_in: int) -> np.ndarray:
    """Flax's lecun_normal: a normal truncated at two standard deviations, variance 1 / fan_in."""
    z = rng.standard_normal(shape)
    while (outside := np.abs(z) > 2).any():
        z[outside] = rng.standard_normal(int(outside.sum()))
    return z / np.sqrt(fan_in) / 0.87962566103423978  # the std of a unit normal truncated at ±2


def _orthogonal(rng: np.random.Generator, size: int) -> np.ndarray:
    q, r = np.linalg.qr(rng.standard_normal((size, size)))
    return q * np.sign(np.diag(r))


def init_params(config: ModelConfig, seed: int) -> dict:
    """Initial weights drawn on the host with NumPy: the distributions of the Flax initialisers above, with
    no compilation (a jitted Flax `init` costs a second or more of XLA compile on a CPU), the same on every machine.
    """
    rng = np.random.default_rng(seed)
    hidden, params, features = config.hidden_dim, {}, config.input_dim
    for layer in range(config.num_layers):
        params[f"lstm_{layer}"] = {
            "w_input": _truncated_normal(rng, (features, 4 * hidden), features).astype(np.float32),
            "w_recurrent": np.concatenate([_orthogonal(rng, hidden) for _ in range(4)], axis=1).astype(np.float32),
            "bias": np.zeros(4 * hidden, np.float32),
        }
        features = hidden
    head_in = hidden + (config.input_dim if config.head == "horizon" else 0)
    params["head"] = {
        "kernel": _truncated_normal(rng, (head_in, config.output_dim), head_in).astype(np.float32),
        "bias": np.zeros(config.output_dim, np.float32),
    }
    if config.head == "horizon":  # the linear path from the context starts at zero: the network alone at first
        params["linear"] = {"kernel": np.zeros((config.context * config.input_dim, config.horizon * config.output_dim),
                                               np.float32)}
    return {"params": params}
