"""The one training loop: a population of members, each stopping at its own patience; one model is a population of one.

The host only slices the run into chunks (one compiled `lax.scan` over steps each), reads the losses once per
chunk, records evaluations, and saves. Members differ in seed, learning rate, weight decay and forget bias inside
one program (`vmap` over the train state), on shared data or each on its own (backtest folds). When one member is
left running, the program is the unbatched one, so a single model costs what it always did and a population's
member i equals its single run. Once half the members have stopped, the computation narrows to the rest.
"""

from __future__ import annotations

import functools
import math
import signal
import sys
import threading
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
from tqdm.auto import tqdm

from jaxseries import checkpoint, runs, validation
from jaxseries.config import ModelConfig, TrainConfig
from jaxseries.errors import CheckpointError, DivergenceError
from jaxseries.state import initial_states, member_of, stack
from jaxseries.steps import compiled_chunk, data_placement, enable_compilation_cache, one_device, place
from jaxseries.windows import WindowLayout

RESUME_FIELDS = ("learning_rate", "batch_size", "seed", "lr_decay", "weight_decay")  # what makes a run another run


def fit(x, y, model_config: ModelConfig, configs: TrainConfig | tuple[TrainConfig, ...], *, validation_data=None,
        counts=None, forget_biases=None, y_squeezed: bool = False, checkpoint_dir=None,
        checkpoint_every: int | None = None, resume: bool = False, overwrite: bool = False, progress: bool = True,
        on_log: Callable[[int, float], None] | None = None, extra: dict | None = None,
        layout: WindowLayout | None = None):
    """Trains checked arrays. One `TrainConfig` trains one model and returns a `Trained`; a tuple of them trains a
    population (configs differ in seed, learning rate, weight decay) and returns a `Population`.

    With `counts` ([members] ints) every member has its own data: x, y (and the validation arrays) carry a leading
    member axis, and member i trains on its first counts[i] rows only (the rest is padding). `forget_biases` (with a
    model whose forget_bias is 0) puts a per-member forget-gate shift into the initial biases. `checkpoint_dir`
    saves every `checkpoint_every` steps and at the end; `resume=True` continues its latest step; SIGTERM/SIGINT
    save and exit. `on_log(step, loss)` sees the (mean) loss every `log_every` steps. With a window `layout`, x is
    a panel (`windows.PanelArrays`) and y its training (series, origin) pairs: batches are cut on the device.
    """
    single = isinstance(configs, TrainConfig)
    configs = (configs,) if single else tuple(configs)
    directory = check_checkpoint_args(checkpoint_dir, checkpoint_every, resume, overwrite)
    enable_compilation_cache()
    first, members = configs[0], len(configs)
    validate = validation_data is not None
    if directory and resume and checkpoint.is_checkpoint_dir(directory):
        record = _resume(directory, model_config, configs, single)
        log = _Log(first.steps, members, record)
        full = record.state
    else:
        log = _Log(first.steps, members)
        full = initial_states(model_config, configs, forget_biases)
    shared = counts is None
    # Data parallelism over devices for one model on shared data; a vmapped population stays on one device.
    placement = data_placement(y.shape[0], first.batch_size) if members == 1 and shared else one_device()
    if layout is not None:  # a panel is whole on every device; its batches are what is split
        placement = placement._replace(examples=placement.replicated)
    data = (x, y, *(validation_data or (None, None)), counts)
    running = np.flatnonzero(~log.stopped)  # the members in the compiled computation (some may stop on the way)
    final = [member_of(full, m) if log.stopped[m] else None for m in range(members)]
    state, data = _narrow(full, data, running, shared, placement)
    if directory and not resume and overwrite and checkpoint.is_checkpoint_dir(directory):
        checkpoint.clear(directory)
    if directory:
        checkpoint.remove_incomplete(directory)  # steps a crash cut short are never resumed from
    manager = checkpoint.open_manager(directory, create=True) if directory else None
    chunk = functools.reduce(math.gcd, [i for i in (first.log_every, validate and first.eval_every, checkpoint_every) if i])
    limits = np.array([c.max_loss or np.inf for c in configs])

    def current() -> runs.Record:
        if single:  # the running state is the one model's: no stacking on the host
            whole = final[0] if state is None else state
        else:
            column = {member: c for c, member in enumerate(running)}
            host = jax.device_get(state)  # one transfer, then members sliced on the host (not a dispatch per leaf)
            whole = stack([final[m] if final[m] is not None else
                           (host if len(running) == 1 else member_of(host, column[m])) for m in range(members)])
            whole = jax.device_put(whole, jax.local_devices()[0])
        return runs.Record(model_config, configs, single, whole, log.history[: log.step],
                           np.asarray(log.val_history, np.float64).reshape(-1, 1 + members), log.stalls, log.stopped,
                           y_squeezed, dict(extra or {}))

    def save() -> None:
        if manager and log.saved != log.step:
            record = current()
            check_finite(record.state.params, log.step)
            last = np.asarray(log.val_history[-1][1:], float) if log.val_history else np.array([np.nan])
            val_loss = float(np.nanmean(last)) if np.isfinite(last).any() else None
            checkpoint.save(manager, log.step, record.state, runs.save_meta(record), val_loss)
            log.saved = log.step

    description = "train" if single else f"train {members} members"
    bar = tqdm(total=first.steps, initial=log.step, disable=not progress, desc=description, unit="step",
               mininterval=0.5)
    try:
        with StopOnSignal(enabled=manager is not None) as stop:
            while log.step < first.steps and not log.stopped.all():
                length = min(chunk - log.step % chunk, first.steps - log.step)
                members_layout = None if len(running) == 1 else ("shared" if shared else "own")
                run = compiled_chunk(model_config, first.batch_size, length, validate, placement.batch, members_layout,
                                     layout)
                state, losses, val_loss = run(state, *data)
                live = ~log.stopped[running]
                losses = np.asarray(losses).reshape(length, -1) if members_layout is None else np.asarray(losses).T
                _check_divergence(losses[:, live], log.step, limits[running[live]], configs, running[live], single)
                log.history[log.step : log.step + length, running[live]] = losses[:, live]
                if on_log:
                    for offset in range(length):
                        if (log.step + offset) % first.log_every == 0:
                            on_log(log.step + offset, float(np.mean(losses[offset, live])))
                log.step += length
                bar.update(length)
                bar.set_postfix(loss=f"{losses[-1, live].mean():.4g}", refresh=False)
                if validate and log.step % first.eval_every == 0:
                    val_loss = np.asarray(val_loss, np.float64).reshape(-1)
                    for column in log.evaluate(val_loss, np.asarray(state.best_step).reshape(-1), running, live,
                                               first.patience):
                        final[running[column]] = jax.device_get(state if members_layout is None
                                                                else member_of(state, column))
                    bar.set_postfix(loss=f"{losses[-1, live].mean():.4g}", val=f"{val_loss[live].mean():.4g}",
                                    refresh=False)
                    keep = np.flatnonzero(~log.stopped[running])
                    if 0 < len(keep) <= len(running) // 2:  # narrow the computation to the members still training
                        state, data = _narrow(state, data, keep, shared, placement)
                        running = running[keep]
                if checkpoint_every and log.step % checkpoint_every == 0:
                    save()
                if stop.signal is not None:
                    save()
                    stop.exit(log.step, directory)
            save()
    finally:
        bar.close()
        if manager:
            manager.close()  # waits for any background save and raises its error, if any
    return current().as_run()


def _narrow(state, data, keep, shared: bool, placement):
    """The state (and own data) of the members in `keep`, in the layout of their program: one member's unbatched
    state when one is left, else stacked. Placed on the devices once, not per chunk."""
    if not len(keep):  # every member had stopped before this call: nothing to run
        return None, data

    def take(tree):
        return member_of(tree, keep[0]) if len(keep) == 1 else jax.tree.map(lambda leaf: leaf[keep], tree)

    state = take(state)
    if not shared:
        data = take(data)
    state = place(state, placement.replicated)  # placed as the compiled chunk returns it: one program
    x, y, x_val, y_val, count = data
    x, y = place((x, y), placement.examples)
    if x_val is not None:
        x_val, y_val = place((x_val, y_val), placement.replicated)
    return state, (x, y, x_val, y_val, count)


class _Log:
    """What the loop has seen: losses, evaluations, stalls and stops per member; resumable from a checkpoint."""

    def __init__(self, steps: int, members: int, record: runs.Record | None = None):
        done = len(record.history) if record else 0  # a resumed run may already hold more steps than asked for
        self.history = np.full((max(steps, done), members), np.nan, np.float32)  # NaN: not trained (stopped, or not yet)
        self.step, self.saved, self.val_history = 0, None, []
        self.stalls, self.stopped = np.zeros(members, int), np.zeros(members, bool)
        if record:
            self.step = self.saved = done
            self.history[:done] = record.history
            self.val_history = record.val_history.tolist()
            self.stalls, self.stopped = record.stalls.copy(), record.stopped.copy()

    def evaluate(self, val_loss, best_step, running, live, patience) -> list[int]:
        """Records an evaluation; returns the columns of the members that stop now (where a single run would)."""
        evaluation = np.full(len(self.stopped), np.nan)
        evaluation[running[live]] = val_loss[live]
        self.val_history.append([self.step, *evaluation.tolist()])
        best_now = best_step == self.step
        self.stalls[running[live]] = np.where(best_now[live], 0, self.stalls[running[live]] + 1)
        finished = live & (self.stalls[running] >= patience) if patience else np.zeros_like(live)
        self.stopped[running[finished]] = True
        return list(np.flatnonzero(finished))


def check_checkpoint_args(checkpoint_dir, checkpoint_every, resume: bool, overwrite: bool) -> str | None:
    """Validates the checkpoint arguments without touching the disk. Returns the absolute directory."""
    if checkpoint_every is not None:
        if isinstance(checkpoint_every, bool) or not isinstance(checkpoint_every, int) or checkpoint_every < 1:
            raise ValueError(f"checkpoint_every must be a positive int or None, got {checkpoint_every!r}")
        if checkpoint_dir is None:
            raise ValueError("checkpoint_every needs a checkpoint_dir to save into")
    if checkpoint_dir is None:
        if resume:
            raise ValueError("resume=True needs the checkpoint_dir to resume from")
        return None
    directory = validation.checkpoint_path(checkpoint_dir)
    if not resume and not overwrite and checkpoint.is_checkpoint_dir(directory):
        raise ValueError(
            f"checkpoint_dir={directory!r} already holds a checkpoint: pass resume=True to continue it, "
            "overwrite=True to replace it, or another directory"
        )
    return directory


def _resume(directory: str, model_config: ModelConfig, configs: tuple[TrainConfig, ...], single: bool) -> runs.Record:
    step = checkpoint.latest_step(directory, fallback=True)
    saved = runs.restore(directory, step, checkpoint.read_meta(directory, step))
    where = f"cannot resume {directory!r}"
    if saved.model_config != model_config:
        raise CheckpointError(f"{where}: it holds a model {saved.model_config}, but this call asks for {model_config}")
    if saved.single != single or len(saved.configs) != len(configs):
        def kind(one, n):
            return "one model" if one else f"a population of {n} member{'s' if n != 1 else ''}"

        raise CheckpointError(f"{where}: it holds {kind(saved.single, len(saved.configs))}, this call trains "
                              f"{kind(single, len(configs))}; pass the same settings, or overwrite=True")
    for m, (old, new) in enumerate(zip(saved.configs, configs)):
        for field in RESUME_FIELDS:
            if getattr(old, field) != getattr(new, field):
                who = "" if single else f"member {m} "
                raise CheckpointError(f"{where}: {who}was trained with {field}={getattr(old, field)!r}, this call "
                                      f"passes {getattr(new, field)!r}")
    return saved._replace(state=stack([saved.state]) if single else jax.tree.map(np.asarray, saved.state))


class StopOnSignal:
    """While training with checkpoints: SIGTERM/SIGINT finish the current chunk, save it, then exit cleanly."""

    def __init__(self, enabled: bool):
        self.enabled = enabled and threading.current_thread() is threading.main_thread()
        self.signal = None
        self.previous = {}

    def __enter__(self):
        if self.enabled:
            for number in (signal.SIGTERM, signal.SIGINT):
                self.previous[number] = signal.signal(number, self._handle)
        return self

    def _handle(self, number, frame):
        self.signal = number

    def __exit__(self, *exc):
        for number, handler in self.previous.items():
            signal.signal(number, handler)
        return False

    def exit(self, step: int, directory: str):
        name = signal.Signals(self.signal).name
        print(f"\njaxseries: {name} received; saved step {step} to {directory}. Resume with "
              f"train(..., checkpoint_dir={directory!r}, resume=True) or `jaxseries train ... --resume`.",
              file=sys.stderr, flush=True)
        if self.signal == signal.SIGINT:
            raise KeyboardInterrupt(f"training stopped at step {step}; checkpoint saved")
        raise SystemExit(128 + self.signal)


def check_finite(params, step: int) -> None:
    if not all(bool(jnp.isfinite(leaf).all()) for leaf in jax.tree.leaves(params)):
        raise DivergenceError(f"parameters became non-finite by step {step}; not checkpointed. Lower the learning rate.")


def _check_divergence(losses: np.ndarray, first_step: int, limits: np.ndarray, configs, members, single: bool) -> None:
    """losses [steps, members]: a non-finite loss, or one above the member's max_loss, stops the run."""
    bad = ~np.isfinite(losses) | (np.abs(losses) > limits)
    if not bad.any():
        return
    at, column = np.argwhere(bad)[0]
    loss, config = losses[at, column], configs[members[column]]
    who = "training" if single else (f"member {members[column]} (seed {config.seed}, learning rate "
                                     f"{config.learning_rate})")
    reason = "non-finite" if not np.isfinite(loss) else f"above max_loss={config.max_loss}"
    raise DivergenceError(
        f"{who} diverged at step {first_step + at}: loss {loss} ({reason}); lower the learning rate or scale the "
        "data. The last good checkpoint, if any, is untouched.")
