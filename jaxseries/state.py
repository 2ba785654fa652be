"""The train state and its optimizer: what one member of a run carries from step to step.

Rate, decay steps and weight decay live in the optimizer state (`optax.inject_hyperparams`), so one compiled
program serves every value, and a population's members can differ in them inside one program.
"""

from __future__ import annotations

import functools

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import struct

from jaxseries.config import ModelConfig, TrainConfig
from jaxseries.model import LSTMRegressor, init_params


class TrainState(struct.PyTreeNode):
    step: jax.Array  # int32: Adam steps taken
    params: Any
    opt_state: Any
    key: jax.Array  # uint32[2]: the data-order stream; epoch e shuffles with fold_in(key, e)
    best_params: Any  # the weights with the lowest validation loss so far (when validating)
    best_loss: jax.Array  # float32, +inf until a validation loss is seen
    best_step: jax.Array  # int32


def _schedule(learning_rate, decay_steps):
    """The step size: the rate, decaying to zero along a cosine over `decay_steps` (constant when 0)."""

    def step_size(count):
        fraction = jnp.clip(count / jnp.maximum(decay_steps, 1), 0.0, 1.0)
        factor = jnp.where(decay_steps > 0, 0.5 * (1.0 + jnp.cos(jnp.pi * fraction)), 1.0)
        return -learning_rate * factor

    return optax.scale_by_schedule(step_size)


def _adam(learning_rate, decay_steps):
    return optax.chain(optax.scale_by_adam(), _schedule(learning_rate, decay_steps))


def _adamw(learning_rate, decay_steps, weight_decay):
    """Adam with decoupled weight decay, in optax.adamw's order: decay added to the Adam direction, then scaled."""
    return optax.chain(optax.scale_by_adam(), optax.add_decayed_weights(weight_decay),
                       _schedule(learning_rate, decay_steps))


def make_optimizer(learning_rate, decay_steps=0, weight_decay=None) -> optax.GradientTransformation:
    if weight_decay is None:  # plain Adam: the optimizer state of every checkpoint before weight decay existed
        return optax.inject_hyperparams(_adam)(learning_rate=learning_rate, decay_steps=decay_steps)
    return optax.inject_hyperparams(_adamw)(learning_rate=learning_rate, decay_steps=decay_steps,
                                            weight_decay=weight_decay)


def decay_steps(train_config: TrainConfig) -> int:
    return train_config.steps if train_config.lr_decay == "cosine" else 0


def create_train_state(model_config: ModelConfig, learning_rate, seed: int, decay_steps: int = 0,
                       weight_decay: float | None = None, forget_bias: float | None = None) -> TrainState:
    """The state before step 0, built on the host: nothing here compiles.

    `forget_bias` (with a model whose own forget_bias is 0) puts the forget-gate shift into the initial bias
    instead: the same model, with the shift a per-member value in a population.
    """
    params = init_params(model_config, seed)
    if forget_bias is not None:
        for layer in range(model_config.num_layers):
            bias = params["params"][f"lstm_{layer}"]["bias"]
            bias[model_config.hidden_dim : 2 * model_config.hidden_dim] += forget_bias
    abstract = _optimizer_shapes(model_config, weight_decay is not None)
    opt_state = jax.tree.map(lambda leaf: np.zeros(leaf.shape, leaf.dtype), abstract)
    values = {"learning_rate": learning_rate, "decay_steps": decay_steps, "weight_decay": weight_decay}
    hyperparams = {name: np.asarray(values[name], dtype.dtype) for name, dtype in abstract.hyperparams.items()}
    return TrainState(
        step=np.zeros((), np.int32),
        params=params,
        opt_state=opt_state._replace(hyperparams=hyperparams),
        key=np.array([0, seed & 0xFFFFFFFF], np.uint32),  # jax.random.PRNGKey(seed), without a dispatch
        best_params=params,
        best_loss=np.full((), np.inf, np.float32),
        best_step=np.zeros((), np.int32),
    )


@functools.lru_cache(maxsize=None)
def _parameter_shapes(model_config: ModelConfig):
    """The parameters' shapes and dtypes, allocating nothing (restore targets, where hostile sizes stay cheap)."""
    steps = max(model_config.context + model_config.horizon, 1)  # a window's length where the head depends on it
    return jax.eval_shape(LSTMRegressor(model_config).init, jax.random.PRNGKey(0),
                          jnp.zeros((1, steps, model_config.input_dim)))


@functools.lru_cache(maxsize=None)
def _optimizer_shapes(model_config: ModelConfig, weight_decay: bool):
    """The optimizer state's shapes and dtypes, traced once per model and optimizer kind: they do not depend on the
    rates or the seed, and tracing took ~10 ms per member of a population."""
    return jax.eval_shape(make_optimizer(1e-3, 0, 0.0 if weight_decay else None).init, _parameter_shapes(model_config))


def initial_states(model_config: ModelConfig, configs, forget_biases=None) -> TrainState:
    """Every member's state before step 0, stacked on a leading member axis."""
    biases = forget_biases or [None] * len(configs)
    return stack([create_train_state(model_config, c.learning_rate, c.seed, decay_steps(c), c.weight_decay, bias)
                  for c, bias in zip(configs, biases)])


def abstract_train_state(model_config: ModelConfig, train_config: TrainConfig, members: int | None = None) -> TrainState:
    """Shapes and dtypes of the train state (with a leading axis of `members` when given), allocating nothing:
    restore targets, where hostile sizes stay cheap."""
    params = _parameter_shapes(model_config)
    scalar = jax.ShapeDtypeStruct((), jnp.int32)
    one = TrainState(
        step=scalar, params=params, key=jax.ShapeDtypeStruct((2,), jnp.uint32), best_params=params,
        opt_state=_optimizer_shapes(model_config, train_config.weight_decay is not None),
        best_loss=jax.ShapeDtypeStruct((), jnp.float32), best_step=scalar,
    )
    if members is None:
        return one
    return jax.tree.map(lambda leaf: jax.ShapeDtypeStruct((members, *leaf.shape), leaf.dtype), one)


def stack(trees):
    """Host trees stacked on a new leading axis."""
    return jax.tree.map(lambda *leaves: np.stack([np.asarray(leaf) for leaf in leaves]), *trees)


def member_of(tree, i):
    return jax.tree.map(lambda leaf: leaf[i], tree)
