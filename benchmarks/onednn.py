"""Issue 25's oneDNN lever, sized before building it: one LSTM layer's forward and backward pass on jaxseries'
paths (the CPU kernel, `JAXSERIES_KERNEL=1`; XLA's scan, `=0`) against oneDNN's LSTM primitive, the one PyTorch's
CPU `nn.LSTM` calls for float32 (checked here with PyTorch's profiler: `mkldnn_rnn_layer` forward and backward).

Same work on both sides: h = LSTM(x) for x [N, T, 1], then the gradient of sum(h * r) with respect to x and every
weight. oneDNN's time through PyTorch includes its dispatch and its weight reorder per call. A third column calls the
primitive directly (`onednn_lstm.cc`, built here against the bench extra's `onednn-cpu-gomp` 2023.2 = oneDNN 3.2,
with its own reorders per call): what an FFI path in jaxseries could reach. Each side in its own fresh process,
best of REPEATS.

    python benchmarks/onednn.py              # needs the bench extra (torch)
    python benchmarks/onednn.py --isa avx2   # both held to AVX2 (kernel built with -march=haswell)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import textwrap

from common import machine

from jaxseries import kernel as kernel_lib

HERE = os.path.dirname(os.path.abspath(__file__))
SHAPES = {"S": (3, 4, 10), "M": (64, 32, 64), "W": (256, 24, 64), "panel": (1024, 54, 64), "L": (128, 64, 256)}
REPEATS = 7
CALLS = {"S": 200, "M": 20, "W": 20, "panel": 3, "L": 3}  # calls per timing, so each lasts >= ~20 ms

MEASURE = textwrap.dedent("""
    import json, time
    import numpy as np
    shapes, calls, repeats = {shapes!r}, {calls!r}, {repeats}

    def best(run, count):
        run()
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            for _ in range(count):
                run()
            times.append((time.perf_counter() - start) / count)
        return min(times)

    out = {{}}
    for name, (batch, steps, hidden) in shapes.items():
        rng = np.random.default_rng(0)
        x = rng.normal(size=(batch, steps, 1)).astype(np.float32)
        r = rng.normal(size=(batch, steps, hidden)).astype(np.float32)
        if {side!r} == "torch":
            import torch
            lstm = torch.nn.LSTM(1, hidden, batch_first=True)
            xt, rt = torch.from_numpy(x).requires_grad_(), torch.from_numpy(r)
            def run():
                lstm.zero_grad(set_to_none=True)
                xt.grad = None
                (lstm(xt)[0] * rt).sum().backward()
            run()
            with torch.profiler.profile() as prof:
                run()
            names = {{e.key for e in prof.key_averages()}}
            out["onednn_ops"] = sorted(n for n in names if "mkldnn" in n)
        else:
            import jax, jax.numpy as jnp
            from jaxseries import model
            w_in = jnp.asarray(rng.normal(size=(1, 4 * hidden)).astype(np.float32) * 0.3)
            w_rec = jnp.asarray(rng.normal(size=(hidden, 4 * hidden)).astype(np.float32) / np.sqrt(hidden))
            bias = jnp.zeros(4 * hidden, jnp.float32)
            def layer_loss(x, w_in, w_rec, bias):  # time-major, as the model runs it (no [T, N, 4H] transposes)
                gates = model.one_feature_gates(x[..., 0], w_in[0], bias)
                return jnp.sum(model.lstm_recurrence(gates, w_rec) * rj)
            grad = jax.jit(jax.grad(layer_loss, argnums=(0, 1, 2, 3)))
            xj, rj = jnp.asarray(np.swapaxes(x, 0, 1)), jnp.asarray(np.swapaxes(r, 0, 1))
            run = lambda: jax.block_until_ready(grad(xj, w_in, w_rec, bias))
        out[name] = best(run, calls[name])
    print(json.dumps(out))
""")


def measure(side: str, kernel: str, isa: str | None) -> dict:
    env = dict(os.environ, JAXSERIES_KERNEL=kernel)
    if isa == "avx2":
        env.update(ATEN_CPU_CAPABILITY="avx2", ONEDNN_MAX_CPU_ISA="AVX2", MKL_ENABLE_INSTRUCTIONS="AVX2",
                   XLA_FLAGS=(env.get("XLA_FLAGS", "") + " --xla_cpu_max_isa=AVX2").strip())
    script = MEASURE.format(shapes=SHAPES, calls=CALLS, repeats=REPEATS, side=side)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def direct(isa: str | None) -> dict | None:
    """oneDNN's primitive called from C++ (None where the bench extra's oneDNN headers or a compiler are missing)."""
    include, lib = os.path.join(sys.prefix, "include"), os.path.join(sys.prefix, "lib")
    cxx = kernel_lib.compiler()
    if cxx is None or not os.path.exists(os.path.join(include, "oneapi", "dnnl", "dnnl.hpp")):
        return None
    binary = os.path.join(HERE, "_onednn_lstm")
    subprocess.run([cxx, "-O2", "-std=c++17", f"-I{include}", os.path.join(HERE, "onednn_lstm.cc"), f"-L{lib}",
                    "-l:libdnnl.so.3", f"-Wl,-rpath,{lib}", "-o", binary], check=True)
    env = dict(os.environ, OMP_NUM_THREADS=str(os.cpu_count()))
    if isa == "avx2":
        env["ONEDNN_MAX_CPU_ISA"] = "AVX2"
    try:
        done = subprocess.run([binary], capture_output=True, text=True, env=env, check=True)
    finally:
        os.unlink(binary)
    return {k: v for line in done.stdout.splitlines() for k, v in json.loads(line).items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--isa", choices=["native", "avx2"], default="native")
    isa = parser.parse_args().isa
    if isa == "avx2":
        kernel_lib.build(quiet=True, march="haswell", measure_paths=False)
    try:
        ours, scan, onednn = measure("jax", "1", isa), measure("jax", "0", isa), measure("torch", "", isa)
        called = direct(isa)
    finally:
        if isa == "avx2":
            kernel_lib.build(quiet=True)
    print(f"## One LSTM layer, forward and backward: jaxseries against oneDNN's LSTM primitive ({isa})\n")
    print(machine() + "\n")
    print(f"oneDNN ops PyTorch ran: {', '.join(onednn['onednn_ops']) or 'none'}\n")
    print("| shape (batch, T, hidden) | kernel ms | scan ms | oneDNN via PyTorch ms | oneDNN called directly ms "
          "| PyTorch's oneDNN / kernel | direct oneDNN / kernel |")
    print("|---|---|---|---|---|---|---|")
    for name, shape in SHAPES.items():
        k, s, o = ours[name] * 1e3, scan[name] * 1e3, onednn[name] * 1e3
        d = f"{called[name] * 1e3:.3f} | " if called else "(not installed) | "
        ratio = f"{called[name] * 1e3 / k:.2f}x" if called else ""
        print(f"| {name} {shape} | {k:.3f} | {s:.3f} | {o:.3f} | {d}{o / k:.2f}x | {ratio} |")
    print("\nRatios are the other path's time over the kernel's: above 1, the kernel is faster.")


if __name__ == "__main__":
    main()
