"""Shared by the benchmarks: the machine and library versions, for the record."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import time


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine() -> str:
    versions = []
    for package in ("jax", "jaxlib", "flax", "optax", "orbax-checkpoint", "numpy", "torch"):
        try:
            versions.append(f"{package} {importlib.metadata.version(package)}")
        except importlib.metadata.PackageNotFoundError:
            pass
    return (f"{os.cpu_count()} cores, {cpu_model()}, Python {platform.python_version()}, "
            f"{platform.system()} {platform.machine()}; " + ", ".join(versions))


def verdict(value: float, target: float, at_least: bool = True) -> str:
    """✓ when `value` meets `target` (>= or <=), else ✗ with the shortfall relative to the target."""
    met = value >= target if at_least else value <= target
    shortfall = abs(value / target - 1)
    return "✓" if met else f"✗ ({'short' if at_least else 'over'} by {shortfall:.{0 if shortfall >= 0.01 else 1}%})"


def best_of(fn, repeats: int) -> float:
    """The shortest of `repeats` timed calls of fn, after one untimed warm-up call (compiling, plans)."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)
