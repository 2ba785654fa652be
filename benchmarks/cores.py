"""Issue 13's "both cores" lever: jaxseries on one host device (the CPU kernel, which runs a batch's rows on both
cores; and the XLA scan, `JAXSERIES_KERNEL=0`) and on two (the batch split by `jax.sharding`; the scan runs there),
against PyTorch, on S/M/L and the many-windows shape W, each side in its own fresh process, in one run.

    python benchmarks/cores.py              # needs the bench extra (torch); prints a markdown section
    python benchmarks/cores.py --isa avx2   # the same held to AVX2 on an AVX-512 host: the kernel rebuilt with
                                            # -march=haswell (and measured against the scan there), XLA at
                                            # --xla_cpu_max_isa=AVX2, PyTorch at AVX2 (ATen, oneDNN, MKL); the
                                            # kernel is rebuilt for this machine afterwards
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import textwrap

from common import machine
from speed import HERE, MANY_WINDOWS, SHAPES, in_fresh_process

REPEATS = 3
MEASURE = textwrap.dedent("""
    import json, sys
    sys.path.insert(0, {here!r})
    import numpy as np
    from speed import best_time, data, jax_trainer, torch_trainer
    out = {{}}
    for name, shape in {shapes!r}.items():
        if name == "W":  # mini-batches from many windows (jaxseries only: speed.py W has PyTorch's side)
            import jaxseries as js
            batch, time_steps, hidden, steps, windows = shape
            x, y = data(windows, time_steps)
            run = lambda: js.train(x, y, hidden_dim=hidden, steps=steps, batch_size=batch, log_every=steps,
                                   progress=False)
        else:
            run = ({which}_trainer)(*shape)
            steps = shape[3]
        run()
        out[name] = steps / min(best_time(run) for _ in range({repeats}))
    print(json.dumps(out))
""")


# Environments that hold each side to AVX2 (issue 25): XLA's code generator, PyTorch's ATen kernels, oneDNN, MKL.
AVX2_JAX = "--xla_cpu_max_isa=AVX2"
AVX2_TORCH = {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_ENABLE_INSTRUCTIONS": "AVX2"}
CAPABILITY = "import json, torch; print(json.dumps(torch.backends.cpu.get_cpu_capability()))"


def build_kernel(march: str, xla_flags: str) -> str:
    """Rebuilds the kernel for `march` and measures it against the scan (held to the same ISA); its status."""
    subprocess.run([sys.executable, "-m", "jaxseries", "kernel", "--build", "--march", march], check=True,
                   env={**os.environ, "XLA_FLAGS": xla_flags}, capture_output=True)
    return subprocess.run([sys.executable, "-m", "jaxseries", "kernel"], check=True, capture_output=True,
                          text=True).stdout.strip()


def main(isa: str = "native") -> str:
    avx2 = isa == "avx2"
    flags = AVX2_JAX if avx2 else ""
    torch_env = AVX2_TORCH if avx2 else {}
    chosen = build_kernel("haswell", flags) if avx2 else "kernel as built by make (-march=native)"
    try:
        return _measure(flags, torch_env, chosen, "AVX2 (held)" if avx2 else "this machine's")
    finally:
        if avx2:
            build_kernel("native", "")


def _measure(flags: str, torch_env: dict, chosen: str, isa: str) -> str:
    shapes = {**SHAPES, "W": MANY_WINDOWS}
    code = lambda which, chosen: MEASURE.format(here=HERE, shapes=chosen, which=which, repeats=REPEATS)  # noqa: E731
    one = in_fresh_process(code("jax", shapes), env={"XLA_FLAGS": flags})
    scan = in_fresh_process(code("jax", shapes), env={"XLA_FLAGS": flags, "JAXSERIES_KERNEL": "0"})
    two = in_fresh_process(code("jax", shapes), env={"XLA_FLAGS": f"{flags} --xla_force_host_platform_device_count=2"})
    torch = in_fresh_process(code("torch", SHAPES), env=torch_env)
    capability = in_fresh_process(CAPABILITY, env=torch_env)
    lines = [f"## Both cores: the kernel, the scan, two host devices, PyTorch in the same run ({isa} instruction set)",
             "", f"Instruction set: {isa}; PyTorch's CPU capability {capability}; XLA_FLAGS `{flags or 'none'}`; "
             f"jaxseries kernel: {chosen}.", "",
             f"Machine: {machine()}; {os.cpu_count()} cores. Steps per second, best of {REPEATS} whole `train` calls "
             "after a warm-up, each side in a fresh process. One device: the default path (the CPU kernel, its "
             "rows split over XLA's intra-op threads, at the shapes where the build measured it faster; else the "
             "scan), and the XLA scan (`JAXSERIES_KERNEL=0`). Two devices split each batch with "
             "`jax.sharding` (XLA_FLAGS=--xla_force_host_platform_device_count=2) and run the scan; S's batch of 3 "
             "does not divide, so it stays on one.",
             "", "| shape | default path | scan | two devices | default / scan | PyTorch | default / PyTorch | "
             "scan / PyTorch | two devices / PyTorch |", "|---|---|---|---|---|---|---|---|---|"]
    for name in shapes:
        ref = torch.get(name)
        lines.append(f"| {name} {shapes[name][:4]} | {one[name]:,.1f} | {scan[name]:,.1f} | {two[name]:,.1f} | "
                     f"{one[name] / scan[name]:.2f}x | "
                     + (f"{ref:,.1f} | {one[name] / ref:.2f}x | {scan[name] / ref:.2f}x | {two[name] / ref:.2f}x |"
                        if ref else "see W above | | | |"))
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--isa", choices=["native", "avx2"], default="native")
    print(main(parser.parse_args().isa))
