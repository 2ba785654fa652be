"""Input checks in NumPy, before anything compiles or touches the disk.

Every failure is a ValueError or TypeError whose message names the argument, what is wrong and the fix.
"""

from __future__ import annotations

import os

import numpy as np


def as_float_array(value, name: str) -> np.ndarray:
    """Array-like (nested lists included) -> float32 array; rejects ragged, non-numeric and non-finite data."""
    if value is None:
        raise TypeError(f"{name} is None: pass an array-like of numbers")
    try:
        array = np.asarray(value)
    except ValueError as error:  # numpy refuses inhomogeneous nesting
        raise ValueError(f"{name} is ragged: every sequence must have the same length and width ({error})") from None
    if array.dtype == object:
        raise ValueError(f"{name} is ragged or mixes types: pass a rectangular array of numbers")
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {array.dtype}: convert it to floats first")
    if array.size == 0:
        raise ValueError(f"{name} is empty (shape {array.shape}): pass at least one sequence with one step")
    array = array.astype(np.float32)
    bad = ~np.isfinite(array)
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"{name} holds NaN or ±inf ({int(bad.sum())} values, first at index {first}): "
            "drop or fill those values before training"
        )
    return array


def check_rank(array: np.ndarray, name: str, ranks: tuple[int, ...], layout: str) -> None:
    if array.ndim not in ranks:
        raise ValueError(f"{name} must be {layout}, got shape {array.shape} (rank {array.ndim})")


def training_arrays(x, y, head: str) -> tuple[np.ndarray, np.ndarray, bool]:
    """Check x and y for training. Returns x [N,T,D], y [N,T,O] or [N,O], and whether y came without its last axis."""
    x = as_float_array(x, "x")
    check_rank(x, "x", (3,), "[N, T, input_dim] (for one feature, add a last axis: x[..., None])")
    y = as_float_array(y, "y")
    if head == "sequence":
        check_rank(y, "y", (2, 3), "[N, T] or [N, T, output_dim]")
        squeezed = y.ndim == 2
        y = y[..., None] if squeezed else y
        if y.shape[:2] != x.shape[:2]:
            raise ValueError(
                f"x and y disagree: x has N={x.shape[0]}, T={x.shape[1]} but y has N={y.shape[0]}, T={y.shape[1]}; "
                "each input sequence needs an output sequence of the same length"
            )
    else:
        check_rank(y, "y", (1, 2), "[N] or [N, output_dim] for a last-step head")
        squeezed = y.ndim == 1
        y = y[:, None] if squeezed else y
        if y.shape[0] != x.shape[0]:
            raise ValueError(f"x and y disagree: x has N={x.shape[0]} sequences but y has N={y.shape[0]}")
    return x, y, squeezed


def prediction_input(x, input_dim: int) -> np.ndarray:
    x = as_float_array(x, "x")
    check_rank(x, "x", (3,), "[N, T, input_dim] (for one feature, add a last axis: x[..., None])")
    if x.shape[-1] != input_dim:
        raise ValueError(f"x has input_dim={x.shape[-1]} but the model was trained with input_dim={input_dim}")
    return x


def checkpoint_path(path, name: str = "checkpoint_dir") -> str:
    """Absolute path for a checkpoint directory; rejects files and non-path values. Creates nothing."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{name} must be a path (str or os.PathLike), got {type(path).__name__}")
    path = os.path.abspath(os.fspath(path))
    if os.path.exists(path) and not os.path.isdir(path):
        raise ValueError(f"{name}={path!r} is a file, not a directory: pass a directory path")
    return path
