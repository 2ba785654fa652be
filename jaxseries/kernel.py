"""The CPU recurrence kernel (`lstm_kernel.cc`): building it, choosing it by measurement, loading it, and calling it.

`make` builds it with the machine's C++ compiler (`jaxseries kernel --build` does the same after a plain
`pip install`), then times training steps on the kernel and on XLA's scan at a grid of shapes and records which
is faster for each (`_lstm_kernel.choice.json`): a shape runs on the path that won at the nearest measured shape,
so the kernel is used only where it beats the scan on this machine (tiny models train faster on the scan, which
XLA fuses with the layers around it). Where it is not built, or on GPU and TPU, `model.py` runs the scan: the
kernel is a speed-up, never a requirement. `JAXSERIES_KERNEL=0` turns it off, `=1` uses it for every shape; a
program traced under one setting is not reused under another (`cached_per_setting`).
"""

from __future__ import annotations

import ctypes
import functools
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp

SOURCE = Path(__file__).with_name("lstm_kernel.cc")
LIBRARY = Path(__file__).with_name("_lstm_kernel.so")
CHOICE = Path(__file__).with_name("_lstm_kernel.choice.json")
VERSION = 4  # jaxseries_lstm_kernel_version() in the source
# The shapes a build times both paths on: (time steps, rows per recurrence, hidden units). Short sequences of few
# rows are where the scan can win (a call's fixed cost is not paid back: the seed's 3 x 4 x 10 ran 0.79x the scan).
PROBES = [(32, rows, hidden) for rows in (16, 256) for hidden in (16, 32, 64, 128, 256)] + [(4, 4, 8), (4, 32, 32)]


def compiler() -> str | None:
    """The C++ compiler a build uses: $CXX, else c++ or g++ on the PATH; None where there is none."""
    return os.environ.get("CXX") or shutil.which("c++") or shutil.which("g++")


def build(quiet: bool = False, march: str = "native", measure_paths: bool = True) -> Path | None:
    """Compiles the kernel for this machine (`march`: -march=native, or an older instruction set such as haswell
    for AVX2) next to this module, then records which path is faster per shape (`measure`); returns its path, or
    None (with the reason on stderr) where no C++ compiler is found or the build fails."""
    cxx = compiler()
    if cxx is None:
        print("jaxseries: no C++ compiler found; the LSTM runs on the XLA path (slower on CPU)", file=sys.stderr)
        return None
    command = [cxx, "-O3", f"-march={march}", "-ffp-contract=fast", "-std=c++17", "-shared", "-fPIC",
               "-isystem", jax.ffi.include_dir(), str(SOURCE), "-o", str(LIBRARY)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        print(f"jaxseries: building the LSTM kernel failed; the XLA path is used\n{done.stderr}", file=sys.stderr)
        return None
    CHOICE.unlink(missing_ok=True)
    _recorded_choice.cache_clear()
    if not quiet:
        print(f"jaxseries: built {LIBRARY} (-march={march})")
    if measure_paths:
        record({**measure(), "march": march}, quiet)
    return LIBRARY


def record(choice: dict, quiet: bool = False) -> None:
    """Keeps a measurement (`measure`) beside the library: from now on each shape runs on the path it chose."""
    CHOICE.write_text(json.dumps(choice, indent=1))
    _recorded_choice.cache_clear()
    if not quiet:
        print(f"jaxseries: {summary(choice)}; recorded in {CHOICE}")


_TIMING = """
import json, math, os, sys, time
import numpy as np
import jaxseries as js
def trained(x, y, hidden, count, setting):  # seconds a step, on the path `setting` picks
    os.environ["JAXSERIES_KERNEL"] = setting
    run = lambda: js.train(x, y, hidden_dim=hidden, steps=count, progress=False, log_every=count)
    run()
    start = time.perf_counter()
    run()
    return (time.perf_counter() - start) / count
out = []
for steps, rows, hidden in json.loads(sys.argv[1]):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(rows, steps, 1)).astype(np.float32)
    y = np.cumsum(x[..., 0], axis=1).astype(np.float32)
    step = trained(x, y, hidden, 5, "0")
    if step < 0.006:  # a call's fixed cost (~3 ms) is most of a short one: a step is what 45 more steps add
        step = max(trained(x, y, hidden, 50, "0") * 50 - step * 5, 1e-9) / 45
    count = min(max(math.ceil(0.03 / step), 5), 4000)  # about 30 ms of steps a timed call
    best, rounds = {}, 0
    # alternated, so a busy moment on a shared machine slows both; where the two are within 20%, 5 rounds, not 2
    while rounds < 2 or (rounds < 5 and abs(math.log(best["kernel"] / best["scan"])) < math.log(1.2)):
        for name, setting in (("kernel", "1"), ("scan", "0")):
            best[name] = min(best.get(name, math.inf), 1e3 * trained(x, y, hidden, count, setting))
        rounds += 1
    out.append(best)
print(json.dumps(out))
"""


def measure(probes=PROBES) -> dict:
    """Milliseconds of one training step (`js.train`, full batch, x [rows, steps, 1]) at each probe shape on the
    kernel and on the scan: both in one fresh process, alternated, best of 2 calls of about 30 ms of steps, or of 5
    where the two are within 20% (on AVX2 the kernel's 10-15% lead at 32 steps x 256 rows x 256 units read as a 5%
    loss once in 2 rounds, and L, 64 x 128 x 256, then trained on the scan 24% slower: benchmarks/RESULTS.md). Where
    a 5-step call is short, a step is what a 50-step call adds over 45 steps: sized from the 5-step call alone,
    mostly a call's fixed cost, the calls at 4 steps x 4 rows x 8 units took 4 ms and picked the kernel, which then
    trained the seed's 3 x 4 x 10 at 0.65x the scan's speed. Whole steps, not the recurrence alone: at a few steps
    XLA fuses its scan with the layers around it, which a custom call stops (the recurrence alone ran 1.8x faster on
    the kernel at 4 steps x 4 rows x 8 units, a training step 0.7x as fast)."""
    done = subprocess.run([sys.executable, "-c", _TIMING, json.dumps(probes)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"timing the training step failed:\n{done.stderr}")
    times = json.loads(done.stdout.splitlines()[-1])
    return {"library": _fingerprint(),
            "probes": [{"steps": steps, "rows": rows, "hidden": hidden, "kernel_ms": round(t["kernel"], 4),
                        "scan_ms": round(t["scan"], 4)} for (steps, rows, hidden), t in zip(probes, times)]}


def summary(choice: dict) -> str:
    wins = [p for p in choice["probes"] if p["kernel_ms"] < p["scan_ms"]]
    losses = [f"{p['steps']} steps x {p['rows']} rows x {p['hidden']} units" for p in choice["probes"] if p not in wins]
    return (f"the kernel is faster than the scan at {len(wins)} of {len(choice['probes'])} measured shapes"
            + (f"; the scan runs at {', '.join(losses)} and the shapes nearest them" if losses else ""))


def _fingerprint() -> list:
    stat = LIBRARY.stat()
    return [stat.st_size, stat.st_mtime_ns]


@functools.cache
def _recorded_choice() -> dict | None:
    """The measurement made for the library that is built now (None where there is none, or it is older)."""
    try:
        choice = json.loads(CHOICE.read_text())
    except (OSError, ValueError):
        return None
    return choice if choice.get("library") == _fingerprint() else None


def cached_per_setting(build):
    """`functools.lru_cache` for a function that builds a compiled program, keyed on JAXSERIES_KERNEL too: the path
    is fixed when a program is traced, so changing the variable mid-process (as the build's timing does, between
    the two paths) traces a new program instead of reusing one traced for the other path."""
    cached = functools.lru_cache(maxsize=None)(lambda setting, *args, **kwargs: build(*args, **kwargs))

    @functools.wraps(build)
    def per_setting(*args, **kwargs):  # called as the plain lru_cache was: positions or keywords
        return cached(os.environ.get("JAXSERIES_KERNEL"), *args, **kwargs)

    per_setting.cache_clear, per_setting.cache_info = cached.cache_clear, cached.cache_info
    return per_setting


def chosen_for(steps: int, rows: int, hidden: int) -> bool:
    """Whether a recurrence of `steps` x `rows` rows x `hidden` units runs on the kernel (where it is available):
    JAXSERIES_KERNEL=1 says always and 0 never, read when a program is traced; else the path that was faster at the
    nearest measured shape (in log rows and log hidden); with no measurement recorded, the kernel."""
    setting = os.environ.get("JAXSERIES_KERNEL")
    if setting in ("0", "1"):
        return setting == "1"
    choice = _recorded_choice()
    if not choice:
        return True
    shape = {"steps": steps, "rows": rows, "hidden": hidden}
    distance = lambda p: math.hypot(*(math.log2(p[k] / max(v, 1)) for k, v in shape.items()))  # noqa: E731
    nearest = min(choice["probes"], key=distance)
    return nearest["kernel_ms"] < nearest["scan_ms"]


def _unusable() -> str | None:
    """Why the library on disk cannot be used (None: it can), whatever JAXSERIES_KERNEL says."""
    if not LIBRARY.exists():
        return "not built (run `make` or `jaxseries kernel --build`); the XLA scan is used"
    if LIBRARY.stat().st_mtime < SOURCE.stat().st_mtime:
        return "built from an older source (rebuild: `jaxseries kernel --build`); the XLA scan is used"
    if ctypes.cdll.LoadLibrary(str(LIBRARY)).jaxseries_lstm_kernel_version() != VERSION:
        return "another version (rebuild: `jaxseries kernel --build`); the XLA scan is used"
    return None


def status() -> str:
    """Why the kernel is or is not in use, in one line."""
    if os.environ.get("JAXSERIES_KERNEL") == "0":
        return "off (JAXSERIES_KERNEL=0)"
    unusable = _unusable()
    if unusable:
        return unusable
    if os.environ.get("JAXSERIES_KERNEL") == "1":
        return f"in use on CPU for every shape (JAXSERIES_KERNEL=1; {LIBRARY})"
    choice = _recorded_choice()
    if choice is None:
        return f"in use on CPU for every shape, not measured against the scan (`jaxseries kernel --measure`; {LIBRARY})"
    return f"in use on CPU where it was measured faster: {summary(choice)} ({LIBRARY})"


@functools.cache
def available() -> bool:
    """Whether the kernel is built, current and registered with XLA (registers it on the first call); whether a
    program uses it is `chosen_for`'s decision (JAXSERIES_KERNEL, the measurement), made when it is traced."""
    if _unusable() is not None:
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
