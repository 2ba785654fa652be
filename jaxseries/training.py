"""Training on arrays: `train` (one model) and `train_many` (a population in one compiled call), over one loop.

Keyword names are shared by every entry point (`train`, `train_many`, `train_series`, `backtest`, the CLI): a
value shared by all members takes the singular name (`learning_rate=`, `seed=`, `hidden_dim=`), a list with one
value per member the plural (`learning_rates=`, `seeds=`, `hidden_dims=`).
"""

from __future__ import annotations

import os
from typing import Callable

from jaxseries import loop, validation
from jaxseries.config import ModelConfig, TrainConfig
from jaxseries.runs import Population, PopulationGroups, Trained, predict  # noqa: F401  (predict: public here too)


def train(
    x,
    y,
    *,
    hidden_dim: int = 10,
    num_layers: int = 1,
    steps: int = 1000,
    learning_rate: float = 1e-3,
    batch_size: int | None = None,
    seed: int = 0,
    forget_bias: float = 1.0,
    lr_decay: str = "constant",
    weight_decay: float | None = None,
    validation_data=None,
    patience: int | None = None,
    eval_every: int | None = None,
    log_every: int = 100,
    max_loss: float | None = None,
    checkpoint_dir=None,
    checkpoint_every: int | None = None,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
    on_log: Callable[[int, float], None] | None = None,
) -> Trained:
    """Trains an LSTM mapping x [N, T, input_dim] to y [N, T] or [N, T, output_dim] with MSE and Adam.

    `batch_size=None` trains full batch; otherwise on shuffled mini-batches of that fixed size.
    `lr_decay="cosine"` lowers the rate to zero over `steps`; the default keeps it constant, as the seed.
    `weight_decay` (e.g. 1e-4) makes the optimizer AdamW (decoupled decay); None is plain Adam.
    `validation_data=(x_val, y_val)` is scored every `eval_every` steps (default `log_every`); predictions use the
    best weights, and `patience` evaluations without improvement stop training.
    A non-finite loss (or one above `max_loss`) stops training with a DivergenceError naming the step.
    `checkpoint_dir` saves every `checkpoint_every` steps and at the end; `resume=True` continues from its
    latest step up to `steps` in total. An existing checkpoint is never replaced unless `overwrite=True`.

    >>> trained = train([[[1], [2]], [[3], [4]]], [[1, 3], [3, 7]], steps=5, progress=False)
    >>> predict(trained, [[[1], [2]]]).shape
    (1, 2)
    """
    x, y, squeezed = validation.training_arrays(x, y, head="sequence")
    validation_data = _validation_arrays(validation_data)
    model_config = ModelConfig(input_dim=x.shape[-1], output_dim=y.shape[-1], hidden_dim=hidden_dim,
                               num_layers=num_layers, forget_bias=forget_bias)
    train_config = TrainConfig(steps=steps, learning_rate=learning_rate, batch_size=batch_size, seed=seed,
                               log_every=log_every, eval_every=eval_every or log_every, patience=patience,
                               lr_decay=lr_decay, max_loss=max_loss, weight_decay=weight_decay)
    return loop.fit(x, y, model_config, train_config, validation_data=validation_data, y_squeezed=squeezed,
                    checkpoint_dir=checkpoint_dir, checkpoint_every=checkpoint_every, resume=resume,
                    overwrite=overwrite, progress=progress, on_log=on_log)


def train_many(
    x, y, *, members: int | None = None, seeds=None, learning_rates=None, weight_decays=None, forget_biases=None,
    hidden_dims=None, seed: int | None = None, learning_rate: float | None = None, weight_decay: float | None = None,
    forget_bias: float | None = None, hidden_dim: int | None = None, num_layers: int = 1, steps: int = 1000,
    batch_size: int | None = None, lr_decay: str = "constant", validation_data=None, patience: int | None = None,
    eval_every: int | None = None, log_every: int = 100, max_loss: float | None = None, checkpoint_dir=None,
    checkpoint_every: int | None = None, resume: bool = False, overwrite: bool = False, progress: bool = True,
) -> Population | PopulationGroups:
    """Trains one model per member in one compiled call: `train`'s options, and per member lists.

    How many members: `members=N` (seeds seed, seed+1, ...), or the length of the lists. A list (`seeds`,
    `learning_rates`, `weight_decays` for AdamW, `forget_biases`, `hidden_dims`) gives member i its i-th value; the
    singular names give every member the same value. Member i equals `train` with its values. `hidden_dims`
    changes shapes: members are grouped by hidden size, one compiled call per size, and a `PopulationGroups` (same
    `predict`/`member`/`ranked`, members in the order given) comes back, saved as one checkpoint per size in
    `checkpoint_dir/hidden_<size>`.
    """
    x, y, squeezed = validation.training_arrays(x, y, head="sequence")
    seeds = [seeds] if isinstance(seeds, int) else seeds
    lists = {name: values if values is None or isinstance(values, (int, float)) else list(values)  # read once
             for name, values in (("seeds", seeds), ("learning_rates", learning_rates), ("weight_decays", weight_decays),
                                  ("forget_biases", forget_biases), ("hidden_dims", hidden_dims))}
    shared = {"seeds": seed, "learning_rates": learning_rate, "weight_decays": weight_decay,
              "forget_biases": forget_bias, "hidden_dims": hidden_dim}
    count = _member_count(members, lists)
    defaults = {"seeds": None, "learning_rates": 1e-3, "weight_decays": None, "forget_biases": 1.0, "hidden_dims": 10}
    values = {name: _per_member(name, lists[name], shared[name], count, defaults[name]) for name in lists}
    if seeds is None:  # members=N or lists without seeds: consecutive seeds, as train_series(members=N)
        values["seeds"] = [(seed or 0) + i for i in range(count)]
    seeds, rates, decays, biases, sizes = (values[name] for name in lists)
    for i, (rate, decay, bias, hidden) in enumerate(zip(rates, decays, biases, sizes)):
        try:  # a bad value gets a named error before anything compiles
            TrainConfig(seed=seeds[i], learning_rate=rate, weight_decay=decay)
            ModelConfig(input_dim=1, hidden_dim=hidden, forget_bias=bias)
        except (TypeError, ValueError) as error:
            raise type(error)(f"member {i} (seed {seeds[i]}): {error}") from None
    if any(decay is not None for decay in decays):  # one optimizer structure for every member
        decays = [decay or 0.0 for decay in decays]
    validation_data = _validation_arrays(validation_data)
    directory = loop.check_checkpoint_args(checkpoint_dir, checkpoint_every, resume, overwrite)
    groups = {}
    for size in dict.fromkeys(sizes):  # hidden sizes in order of first appearance
        chosen = [i for i, h in enumerate(sizes) if h == size]
        varied_bias = len({biases[i] for i in chosen}) > 1
        model_config = ModelConfig(input_dim=x.shape[-1], output_dim=y.shape[-1], hidden_dim=size,
                                   num_layers=num_layers, forget_bias=0.0 if varied_bias else biases[chosen[0]])
        configs = tuple(TrainConfig(steps=steps, learning_rate=float(rates[i]), batch_size=batch_size, seed=seeds[i],
                                    log_every=log_every, eval_every=eval_every or log_every, patience=patience,
                                    lr_decay=lr_decay, max_loss=max_loss, weight_decay=decays[i]) for i in chosen)
        grouped = len(set(sizes)) > 1 and directory is not None
        groups[size] = (chosen, loop.fit(
            x, y, model_config, configs, validation_data=validation_data, y_squeezed=squeezed,
            forget_biases=[biases[i] for i in chosen] if varied_bias else None,
            checkpoint_dir=os.path.join(directory, f"hidden_{size}") if grouped else directory,
            checkpoint_every=checkpoint_every, resume=resume, overwrite=overwrite, progress=progress))
    if len(groups) == 1:
        return next(iter(groups.values()))[1]
    return PopulationGroups(groups)


def _validation_arrays(validation_data):
    if validation_data is None:
        return None
    x_val, y_val, _ = validation.training_arrays(*validation_data, head="sequence")
    return x_val, y_val


def _member_count(members, lists: dict) -> int:
    """The population's size: `members`, or the length of the per-member lists, which must agree."""
    lengths = {name: len(values) for name, values in lists.items() if isinstance(values, list)}
    if members is not None:
        if isinstance(members, bool) or not isinstance(members, int) or members < 1:
            raise ValueError(f"members must be a positive int, got {members!r}")
        lengths = {"members": members, **lengths}
    if "seeds" in lengths and lengths["seeds"] == 0:
        raise ValueError("seeds is empty: pass at least one seed, e.g. seeds=range(8)")
    if not lengths:
        raise ValueError("how many members? pass members=N, or per-member lists such as seeds=range(8)")
    reference = next(name for name in ("members", "seeds", *lengths) if name in lengths)
    for name, length in lengths.items():
        if length != lengths[reference]:
            size = f"members={lengths[reference]}" if reference == "members" else f"{reference} has {lengths[reference]}"
            raise ValueError(f"{name} has {length} values but {size}: give one per member")
    return lengths[reference]


SINGULAR = {"seeds": "seed", "learning_rates": "learning_rate", "weight_decays": "weight_decay",
            "forget_biases": "forget_bias", "hidden_dims": "hidden_dim"}


def _per_member(name: str, values, shared, count: int, default) -> list:
    """One value per member, from a list (`values`), one value for all (`shared`, or a number as `values`), or the
    default; both a list and a shared value is ambiguous."""
    if values is not None and shared is not None:
        raise ValueError(f"pass {SINGULAR[name]}= (one value for every member) or {name}= (one per member), not both")
    if values is None or isinstance(values, (int, float)):
        value = shared if values is None else values
        return [default if value is None else value] * count
    return list(values)
