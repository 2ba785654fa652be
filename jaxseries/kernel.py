"""The CPU recurrence kernel (`lstm_kernel.cc`): building it, loading it, and calling it from JAX.

`make` builds it with the machine's C++ compiler (`jaxseries kernel --build` does the same after a plain
`pip install`). Where it is not built, or on GPU and TPU, `model.py` runs its XLA scan instead: the kernel is a
speed-up, never a requirement. `JAXSERIES_KERNEL=0` turns it off for a process (to compare both paths).
"""

from __future__ import annotations

import ctypes
import functools
import os
import shutil
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp

SOURCE = Path(__file__).with_name("lstm_kernel.cc")
LIBRARY = Path(__file__).with_name("_lstm_kernel.so")
VERSION = 3  # jaxseries_lstm_kernel_version() in the source


def compiler() -> str | None:
    """The C++ compiler a build uses: $CXX, else c++ or g++ on the PATH; None where there is none."""
    return os.environ.get("CXX") or shutil.which("c++") or shutil.which("g++")


def build(quiet: bool = False) -> Path | None:
    """Compiles the kernel for this machine (-march=native) next to this module; returns its path, or None
    (with the reason on stderr) where no C++ compiler is found or the build fails."""
    cxx = compiler()
    if cxx is None:
        print("jaxseries: no C++ compiler found; the LSTM runs on the XLA path (slower on CPU)", file=sys.stderr)
        return None
    command = [cxx, "-O3", "-march=native", "-ffp-contract=fast", "-std=c++17", "-shared", "-fPIC",
               "-isystem", jax.ffi.include_dir(), str(SOURCE), "-o", str(LIBRARY)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        print(f"jaxseries: building the LSTM kernel failed; the XLA path is used\n{done.stderr}", file=sys.stderr)
        return None
    if not quiet:
        print(f"jaxseries: built {LIBRARY}")
    return LIBRARY


def status() -> str:
    """Why the kernel is or is not in use, in one line."""
    if os.environ.get("JAXSERIES_KERNEL", "1") == "0":
        return "off (JAXSERIES_KERNEL=0)"
    if not LIBRARY.exists():
        return "not built (run `make` or `jaxseries kernel --build`); the XLA scan is used"
    if LIBRARY.stat().st_mtime < SOURCE.stat().st_mtime:
        return "built from an older source (rebuild: `jaxseries kernel --build`); the XLA scan is used"
    if ctypes.cdll.LoadLibrary(str(LIBRARY)).jaxseries_lstm_kernel_version() != VERSION:
        return "another version (rebuild: `jaxseries kernel --build`); the XLA scan is used"
    return f"in use on CPU ({LIBRARY})"


@functools.cache
def available() -> bool:
    """Whether the kernel is built, current and registered with XLA (registers it on the first call)."""
    if not status().startswith("in use"):
        return False
    library = ctypes.cdll.LoadLibrary(str(LIBRARY))
    for name in ("JaxseriesLstmForward", "JaxseriesLstmBackward"):
        jax.ffi.register_ffi_target(name, jax.ffi.pycapsule(getattr(library, name)), platform="cpu")
    return True


def forward(gates_in_TxNx4H, w_recurrent_Hx4H):
    """(h, c, i, f, g, o), each [T, N, H]: model.py's `_scan_forward` in one kernel call. Leading batch dimensions
    (from vmap) run as independent recurrences."""
    shape = gates_in_TxNx4H.shape[:-1] + (w_recurrent_Hx4H.shape[-2],)
    outputs = [jax.ShapeDtypeStruct(shape, jnp.float32)] * 6
    return jax.ffi.ffi_call("JaxseriesLstmForward", outputs, vmap_method="broadcast_all")(
        gates_in_TxNx4H, w_recurrent_Hx4H)


def backward(dh_TxNxH, h, c, i, f, g, o, w_recurrent_Hx4H):
    """(dz [T, N, 4H], dw [H, 4H]): the pre-activations' gradient (model.py's reverse scan) and the recurrent
    weight's, h_before^T @ dz, in one call. dw has w_recurrent's shape: per member where it has leading
    dimensions, summed over members where it has none."""
    dz = jax.ShapeDtypeStruct(dh_TxNxH.shape[:-1] + (w_recurrent_Hx4H.shape[-1],), jnp.float32)
    dw = jax.ShapeDtypeStruct(w_recurrent_Hx4H.shape, jnp.float32)
    return tuple(jax.ffi.ffi_call("JaxseriesLstmBackward", (dz, dw), vmap_method="broadcast_all")(
        dh_TxNxH, h, c, i, f, g, o, w_recurrent_Hx4H))
