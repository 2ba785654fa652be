"""A thin layer over `orbax.checkpoint.CheckpointManager`: one train-state pytree plus JSON metadata per step.

The metadata carries everything `load` needs (configs, data layout, loss history, forecasting statistics), so a
checkpoint restores without the caller knowing its shape. Retention keeps the latest steps *and* the best by
validation loss (orbax's plain best-N can delete the latest step; a non-finite metric is never best).

Orbax makes a step appear atomically (temporary folder, then rename) but keeps no checksum. Once a step is on
disk we write `manifest.json` beside its files: the sha256 of each. A step counts as complete only with a
manifest, and is verified against it before it is restored, so a step cut short by `kill -9` is never loaded
(and is removed by the next training run), and a truncated or altered file is named in the error.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import time
import warnings

import jax
import numpy as np
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import orbax.checkpoint as ocp

from jaxseries.errors import CheckpointError, CheckpointNotFoundError

STATE, META = "state", "meta"
FORMAT_VERSION = 1
KEEP_LATEST = 2
KEEP_BEST = 1


def _orbax():
    # Imported on first use: orbax and tensorstore add ~30 MB and ~0.3 s to a process that never saves.
    import orbax.checkpoint

    return orbax.checkpoint


def _finite_or_inf(metrics) -> float:
    value = (metrics or {}).get("val_loss")
    return value if isinstance(value, (int, float)) and math.isfinite(value) else math.inf


def open_manager(directory: str, *, create: bool) -> ocp.CheckpointManager:
    ocp = _orbax()
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


MANIFEST = "manifest.json"


def save(manager: ocp.CheckpointManager, step: int, state, meta: dict, val_loss: float | None = None) -> None:
    """Saves one step and its manifest. Refuses a step that is not newer than the latest (never skips it)."""
    ocp = _orbax()
    latest = manager.latest_step()
    if latest is not None and step <= latest:
        raise CheckpointError(f"refusing to save step {step} in {manager.directory}: step {latest} is already there")
    metrics = {"val_loss": float(val_loss)} if val_loss is not None and math.isfinite(val_loss) else None
    args = ocp.args.Composite(**{STATE: ocp.args.StandardSave(state), META: ocp.args.JsonSave(meta)})
    if not manager.save(step, args=args, metrics=metrics):
        raise CheckpointError(f"orbax declined to save step {step} in {manager.directory}")
    _test_hook("JAXSERIES_TEST_HOLD_SAVE", step)
    manager.wait_until_finished()  # raises the background write's error, if any (all processes have written)
    if jax.process_index() == 0:  # one writer per step, also under jax.distributed
        write_manifest(os.fspath(manager.directory), step)


def _test_hook(variable: str, step: int) -> None:
    """For crash tests: with $variable set to a folder, mark that step `step` is mid-save and hold there."""
    folder = os.environ.get(variable)
    if folder:
        open(os.path.join(folder, f"saving-{step}"), "w").close()
        time.sleep(float(os.environ.get("JAXSERIES_TEST_HOLD_SECONDS", "30")))


def _files(step_dir: str) -> list[str]:
    found = []
    for root, _, names in os.walk(step_dir):
        found += [os.path.relpath(os.path.join(root, n), step_dir) for n in names]
    return sorted(f for f in found if f != MANIFEST)


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_manifest(directory: str, step: int) -> None:
    step_dir = os.path.join(directory, str(step))
    manifest = {"step": step, "files": {name: _sha256(os.path.join(step_dir, name)) for name in _files(step_dir)}}
    temporary = os.path.join(step_dir, MANIFEST + ".tmp")
    with open(temporary, "w") as f:
        json.dump(manifest, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(temporary, os.path.join(step_dir, MANIFEST))  # the step is complete from this moment


def verify(directory: str, step: int) -> None:
    """Raises CheckpointError naming the step and file if the step differs from its manifest."""
    step_dir = os.path.join(directory, str(step))
    try:
        with open(os.path.join(step_dir, MANIFEST)) as f:
            manifest = json.load(f)
        expected = manifest["files"]
        if not isinstance(expected, dict):
            raise TypeError("files is not an object")
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise CheckpointError(f"step {step} in {directory!r} has no readable manifest ({error}): it is incomplete") from None
    present = set(_files(step_dir))
    for name in sorted(set(expected) | present):
        if name not in present:
            raise CheckpointError(f"step {step} in {directory!r}: file {name!r} is missing")
        if name not in expected:
            raise CheckpointError(f"step {step} in {directory!r}: file {name!r} is not in the manifest")
        if _sha256(os.path.join(step_dir, name)) != expected[name]:
            raise CheckpointError(f"step {step} in {directory!r}: file {name!r} is truncated or altered (sha256 differs)")


def is_checkpoint_dir(directory: str) -> bool:
    return os.path.isdir(directory) and bool(_steps(directory))


def _steps(directory: str) -> list[int]:
    # Complete steps only: renamed into place by orbax, then given a manifest by us.
    names = os.listdir(directory)
    return sorted(int(n) for n in names if n.isdigit() and os.path.isfile(os.path.join(directory, n, MANIFEST)))


def latest_step(directory: str, fallback: bool = False) -> int:
    """The newest complete step that matches its manifest. A damaged newest step raises, naming its file,
    unless `fallback=True`, which warns and goes back to the newest good step."""
    if not os.path.isdir(directory):
        raise CheckpointNotFoundError(f"no checkpoint directory at {directory!r}: check the path")
    steps = _steps(directory)
    if not steps:
        raise CheckpointNotFoundError(
            f"{directory!r} holds no jaxseries checkpoint (no complete step): "
            "pass the directory given to train(checkpoint_dir=...) or `jaxseries train --out`"
        )
    for step in reversed(steps):
        try:
            verify(directory, step)
            return step
        except CheckpointError as error:
            if not fallback:
                raise CheckpointError(f"{error}; pass fallback=True to load the previous good step") from None
            warnings.warn(f"skipping damaged checkpoint: {error}", stacklevel=2)
    raise CheckpointError(f"no step in {directory!r} matches its manifest: every checkpoint there is damaged")


def remove_incomplete(directory: str) -> list[str]:
    """Deletes steps that never got a manifest (a save cut short). Orbax removes its own temporary folders
    when a manager opens (cleanup_tmp_directories); call this before opening one."""
    removed = []
    if os.path.isdir(directory) and jax.process_index() == 0:
        for name in os.listdir(directory):
            path = os.path.join(directory, name)
            if name.isdigit() and os.path.isdir(path) and not os.path.isfile(os.path.join(path, MANIFEST)):
                shutil.rmtree(path)
                removed.append(name)
    _wait_for_process_0("remove_incomplete")
    return removed


def _wait_for_process_0(what: str) -> None:
    """Under jax.distributed only process 0 changes the directory; the others wait for it here."""
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        multihost_utils.sync_global_devices(f"jaxseries.checkpoint.{what}")


# The metadata schema: every key, its JSON type. Checked before any value is used.
META_SCHEMA = {"format_version": int, "model_config": dict, "train_config": dict, "y_squeezed": bool, "extra": dict,
               "history": list, "val_history": list}


def read_meta(directory: str, step: int) -> dict:
    ocp = _orbax()
    with open_manager(directory, create=False) as manager:
        try:
            restored = manager.restore(step, args=ocp.args.Composite(**{META: ocp.args.JsonRestore()}))
        except (ValueError, OSError, KeyError) as error:
            raise CheckpointError(f"step {step} in {directory!r} has unreadable metadata: {error}") from None
    meta = restored[META]
    where = f"step {step} in {directory!r}"
    if not isinstance(meta, dict):
        raise CheckpointError(f"{where}: metadata is not a JSON object")
    if meta.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"{where} has metadata format {meta.get('format_version')!r}; this jaxseries reads {FORMAT_VERSION}")
    for key, kind in META_SCHEMA.items():
        if not isinstance(meta.get(key), kind):
            raise CheckpointError(f"{where}: metadata field {key!r} must be a {kind.__name__}, got {type(meta.get(key)).__name__}")
    unknown = sorted(set(meta) - set(META_SCHEMA))
    if unknown:
        raise CheckpointError(f"{where}: metadata has fields this jaxseries does not know: {unknown}")
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in meta["history"]):
        raise CheckpointError(f"{where}: metadata field 'history' must be a list of numbers")
    if not all(isinstance(p, list) and len(p) == 2 and all(isinstance(v, (int, float)) for v in p) for p in meta["val_history"]):
        raise CheckpointError(f"{where}: metadata field 'val_history' must be a list of [step, loss] pairs")
    return meta


MAX_PARAMETERS = 1 << 28  # a model this library would train on one machine; beyond it, metadata is hostile or corrupt


def restore_state(directory: str, step: int, abstract_state):
    """Restores the train state onto this process's first device, whatever layout it was saved from."""
    ocp = _orbax()
    size = sum(math.prod(leaf.shape) for leaf in jax.tree.leaves(abstract_state))
    if size > MAX_PARAMETERS:
        raise CheckpointError(f"step {step} in {directory!r} describes a state of {size:,} numbers: refusing absurd shapes")
    device = jax.local_devices()[0]
    target = jax.tree.map(
        lambda leaf: jax.ShapeDtypeStruct(leaf.shape, leaf.dtype, sharding=jax.sharding.SingleDeviceSharding(device)),
        abstract_state,
    )
    with open_manager(directory, create=False) as manager:
        try:
            restored = manager.restore(step, args=ocp.args.Composite(**{STATE: ocp.args.StandardRestore(target)}))
        except (ValueError, KeyError, FileNotFoundError, TypeError) as error:
            raise CheckpointError(f"step {step} in {directory!r} does not match the model its metadata describes: {error}") from None
    return restored[STATE]


def clear(directory: str) -> None:
    """Removes the finished and half-written steps of an earlier run (only those), to start afresh."""
    if jax.process_index() == 0:
        for name in os.listdir(directory):
            if name.isdigit() or ".orbax-checkpoint-tmp" in name:
                shutil.rmtree(os.path.join(directory, name))
    _wait_for_process_0("clear")


def json_number(value) -> float | None:
    """A number for JSON: a float, or null where it is NaN or infinite (MAPE on zeros, a stopped member)."""
    value = float(value)
    return value if math.isfinite(value) else None


def to_json_floats(values) -> list:
    return [float(v) for v in np.asarray(values, dtype=np.float64).ravel()]
