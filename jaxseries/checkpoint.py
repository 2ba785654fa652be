"""A thin layer over `orbax.checkpoint.CheckpointManager`: one train-state pytree plus JSON metadata per step.

The metadata carries everything `load` needs (configs, data layout, loss history, forecasting statistics), so a
checkpoint restores without the caller knowing its shape. Retention keeps the latest steps *and* the best by
validation loss (orbax's plain best-N can delete the latest step; a non-finite metric is never best).
"""

from __future__ import annotations

import math
import os
import shutil

import jax
import numpy as np
import orbax.checkpoint as ocp

from jaxseries.errors import CheckpointError, CheckpointNotFoundError

STATE, META = "state", "meta"
FORMAT_VERSION = 1
KEEP_LATEST = 2
KEEP_BEST = 1


def _finite_or_inf(metrics) -> float:
    value = (metrics or {}).get("val_loss")
    return value if isinstance(value, (int, float)) and math.isfinite(value) else math.inf


def open_manager(directory: str, *, create: bool) -> ocp.CheckpointManager:
    policy = ocp.checkpoint_managers.AnyPreservationPolicy(
        [
            ocp.checkpoint_managers.LatestN(n=KEEP_LATEST),
            ocp.checkpoint_managers.BestN(
                get_metric_fn=_finite_or_inf, reverse=True, n=KEEP_BEST, keep_checkpoints_without_metrics=False
            ),
        ]
    )
    options = ocp.CheckpointManagerOptions(create=create, preservation_policy=policy, cleanup_tmp_directories=True)
    return ocp.CheckpointManager(directory, options=options, item_names=(STATE, META))


def save(manager: ocp.CheckpointManager, step: int, state, meta: dict, val_loss: float | None = None) -> None:
    """Starts an asynchronous save; orbax raises any background failure on the next save, wait or close."""
    metrics = {"val_loss": float(val_loss)} if val_loss is not None and math.isfinite(val_loss) else None
    args = ocp.args.Composite(**{STATE: ocp.args.StandardSave(state), META: ocp.args.JsonSave(meta)})
    if not manager.save(step, args=args, metrics=metrics, force=True):
        raise CheckpointError(
            f"orbax refused to save step {step} in {manager.directory}: a step >= {step} is already there"
        )


def is_checkpoint_dir(directory: str) -> bool:
    return os.path.isdir(directory) and bool(_steps(directory))


def _steps(directory: str) -> list[int]:
    # Finished steps only: orbax writes into a temporary folder and renames it when done.
    names = os.listdir(directory)
    return sorted(int(n) for n in names if n.isdigit() and os.path.isdir(os.path.join(directory, n, META)))


def latest_step(directory: str) -> int:
    if not os.path.isdir(directory):
        raise CheckpointNotFoundError(f"no checkpoint directory at {directory!r}: check the path")
    steps = _steps(directory)
    if not steps:
        raise CheckpointNotFoundError(
            f"{directory!r} holds no jaxseries checkpoint (no finished step with metadata): "
            "pass the directory given to train(checkpoint_dir=...) or `jaxseries train --out`"
        )
    return steps[-1]


def read_meta(directory: str, step: int) -> dict:
    with open_manager(directory, create=False) as manager:
        restored = manager.restore(step, args=ocp.args.Composite(**{META: ocp.args.JsonRestore()}))
    meta = restored[META]
    if not isinstance(meta, dict) or meta.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(
            f"step {step} in {directory!r} has metadata format {meta.get('format_version') if isinstance(meta, dict) else None!r}; "
            f"this jaxseries reads format {FORMAT_VERSION}"
        )
    return meta


def restore_state(directory: str, step: int, abstract_state):
    """Restores the train state onto this process's first device, whatever layout it was saved from."""
    device = jax.local_devices()[0]
    target = jax.tree.map(
        lambda leaf: jax.ShapeDtypeStruct(leaf.shape, leaf.dtype, sharding=jax.sharding.SingleDeviceSharding(device)),
        abstract_state,
    )
    with open_manager(directory, create=False) as manager:
        try:
            restored = manager.restore(step, args=ocp.args.Composite(**{STATE: ocp.args.StandardRestore(target)}))
        except (ValueError, KeyError, FileNotFoundError) as error:
            raise CheckpointError(f"step {step} in {directory!r} does not match the model its metadata describes: {error}") from None
    return restored[STATE]


def clear(directory: str) -> None:
    """Removes the finished and half-written steps of an earlier run (only those), to start afresh."""
    for name in os.listdir(directory):
        if name.isdigit() or ".orbax-checkpoint-tmp" in name:
            shutil.rmtree(os.path.join(directory, name))


def to_json_floats(values) -> list:
    return [float(v) for v in np.asarray(values, dtype=np.float64).ravel()]
