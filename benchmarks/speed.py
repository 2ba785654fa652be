"""Training speed: jaxseries.train against PyTorch's nn.LSTM on the same model, alternated in one run.

Model: LSTM (input_dim=1), Linear head at every step, MSE, Adam 1e-3, full batch. For each shape
(batch, time steps, hidden, Adam steps) it times whole calls, best of REPEATS after a warm-up, and reports
steps per second and the ratio. It also measures the matmul rate, FLOP utilisation on L, compile and
cached-start times, peak memory on L, and the seed program end to end in fresh processes.

    python benchmarks/speed.py     # needs the bench extra (torch); prints a markdown section
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time

import numpy as np

from common import verdict

SHAPES = {"S": (3, 4, 10, 1000), "M": (64, 32, 64, 200), "L": (128, 64, 256, 20)}
TARGET_RATIOS = {"S": 25, "M": 1.5, "L": 1.3}
WHY = ("How (2026-11-28, 2-core Intel Xeon): on CPU the recurrence runs in jaxseries' C++ kernel (XLA FFI, "
       "`jaxseries/lstm_kernel.cc`): the whole sequence per call, the batch's rows split over XLA's intra-op threads, "
       "the per-step matmul in register blocks. Before it, XLA's `lax.scan` spent about 55 us per time step on "
       "loop overhead (more than the arithmetic at M) and M ran at 0.73-1.1x PyTorch. `JAXSERIES_KERNEL=0` runs "
       "the scan for comparison (benchmarks/cores.py). What is left on L: with the recurrent weight packed in the "
       "micro-kernel's panel order, the forward kernel runs at about 110 GFLOP/s per core (gates included) against "
       "~165 for a large matmul on one core; the backward kernel, which also sums the recurrent weight's gradient "
       "step by step, at about 100. The gate arithmetic (five exponentials per unit and step) is about half of "
       "the forward kernel's time at M's shape. PyTorch's own rate on this "
       "shared machine varies by up to 2x between runs (M: 200-272 steps/s within an hour).")
REPEATS = 5
HERE = os.path.dirname(os.path.abspath(__file__))


def data(batch, steps_in_time):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(batch, steps_in_time, 1)).astype(np.float32)
    return x, np.cumsum(x[..., 0], axis=1).astype(np.float32)


def jax_trainer(batch, time_steps, hidden, steps):
    import jaxseries as js

    x, y = data(batch, time_steps)
    return lambda: js.train(x, y, hidden_dim=hidden, steps=steps, progress=False, log_every=steps)


def torch_trainer(batch, time_steps, hidden, steps, device="cpu"):
    import torch

    x, y = (torch.from_numpy(a).to(device) for a in data(batch, time_steps))

    def run():
        torch.manual_seed(0)
        lstm = torch.nn.LSTM(1, hidden, batch_first=True).to(device)
        head = torch.nn.Linear(hidden, 1).to(device)
        optimizer = torch.optim.Adam([*lstm.parameters(), *head.parameters()], lr=1e-3)
        for _ in range(steps):
            optimizer.zero_grad(set_to_none=True)
            loss = torch.mean((head(lstm(x)[0])[..., 0] - y) ** 2)
            loss.backward()
            optimizer.step()
        return loss.item()

    return run


MANY_WINDOWS = (256, 24, 64, 200, 60_212)  # batch, T, hidden, Adam steps, windows (M3 monthly's count): shape W
TARGET_W = 1.5


def many_windows_section() -> list[str]:
    """W: mini-batches of 256 drawn from 60,212 windows, against PyTorch slicing a fresh randperm each epoch."""
    import jaxseries as js
    import torch

    batch, time_steps, hidden, steps, windows = MANY_WINDOWS
    x, y = data(windows, time_steps)
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)

    def torch_run():
        torch.manual_seed(0)
        lstm, head = torch.nn.LSTM(1, hidden, batch_first=True), torch.nn.Linear(hidden, 1)
        optimizer = torch.optim.Adam([*lstm.parameters(), *head.parameters()], lr=1e-3)
        per_epoch = windows // batch
        for step in range(steps):
            if step % per_epoch == 0:
                order = torch.randperm(windows)
            index = order[(step % per_epoch) * batch : (step % per_epoch + 1) * batch]
            optimizer.zero_grad(set_to_none=True)
            loss = torch.mean((head(lstm(tx[index])[0])[..., 0] - ty[index]) ** 2)
            loss.backward()
            optimizer.step()

    runners = {"jax": lambda: js.train(x, y, hidden_dim=hidden, steps=steps, batch_size=batch, log_every=steps,
                                       progress=False), "torch": torch_run}
    for run in runners.values():
        run()
    best = {k: min(best_time(run) for _ in range(3)) for k, run in runners.items()}
    ratio = best["torch"] / best["jax"]
    return [f"| W ({batch}, {time_steps}, {hidden}, {steps}), mini-batches from {windows:,} windows | "
            f"{steps / best['jax']:,.0f} | {steps / best['torch']:,.0f} | {ratio:.2f}x | ≥ {TARGET_W}x "
            f"{verdict(ratio, TARGET_W)} |"]


def best_time(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def matmul_gflops(n=2048, repeats=10) -> float:
    import jax
    import jax.numpy as jnp

    a = jax.random.normal(jax.random.PRNGKey(0), (n, n), jnp.float32)
    f = jax.jit(lambda a: a @ a)
    f(a).block_until_ready()
    best = min(best_time(lambda: f(a).block_until_ready()) for _ in range(repeats))
    return 2 * n**3 / best / 1e9


def training_flops(batch, time_steps, hidden, steps, input_dim=1, output_dim=1) -> float:
    forward = batch * time_steps * (2 * input_dim * 4 * hidden + 2 * hidden * 4 * hidden + 2 * hidden * output_dim)
    return 3 * forward * steps


def in_fresh_process(code: str, env=None) -> dict:
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, **(env or {})},
                            timeout=600)
    if result.returncode != 0:
        raise RuntimeError(result.stderr[-2000:])
    return json.loads(result.stdout.strip().splitlines()[-1])


FIRST_CALL = textwrap.dedent("""
    import json, time, sys
    sys.path.insert(0, {here!r})
    from speed import jax_trainer
    out = {{}}
    for name, shape in {shapes!r}.items():
        train = jax_trainer(*shape)
        start = time.perf_counter(); train(); first = time.perf_counter() - start
        start = time.perf_counter(); train(); second = time.perf_counter() - start
        out[name] = [first, second]
    print(json.dumps(out))
""")

TWO_DEVICES = textwrap.dedent("""
    import json, sys, time
    sys.path.insert(0, {here!r})
    from speed import jax_trainer, best_time
    out = {{}}
    for name, shape in {shapes!r}.items():
        train = jax_trainer(*shape)
        train()
        out[name] = shape[3] / min(best_time(train) for _ in range({repeats}))
    print(json.dumps(out))
""")

PEAK_MEMORY = textwrap.dedent("""
    import json, sys
    sys.path.insert(0, {here!r})
    from speed import {which}_trainer
    {which}_trainer(*{shape!r})()
    # VmHWM is this process's own peak (ru_maxrss would carry the parent's peak across exec).
    peak_kb = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM"))
    print(json.dumps({{"maxrss_mb": peak_kb / 1024}}))
""")

SEED_JAX = textwrap.dedent("""
    from jaxseries import SeriesPredictor
    predictor = SeriesPredictor(input_dim=1, seq_size=4, hidden_dim=10, checkpoint_dir={ckpt!r}, verbose=False)
    predictor.train([[[1], [2], [5], [6]], [[5], [7], [7], [8]], [[3], [4], [5], [7]]],
                    [[1, 3, 7, 11], [5, 12, 14, 15], [3, 7, 9, 12]])
    print(predictor.test([[[1], [2], [3], [4]], [[4], [5], [6], [7]]]).tolist())
""")

SEED_TORCH = textwrap.dedent("""
    import torch
    class SeriesPredictor:
        def __init__(self, input_dim, seq_size, hidden_dim=10):
            self.lstm, self.head = torch.nn.LSTM(input_dim, hidden_dim, batch_first=True), torch.nn.Linear(hidden_dim, 1)
        def model(self, x):
            return self.head(self.lstm(x)[0])[..., 0]
        def train(self, train_x, train_y):
            x, y = torch.tensor(train_x, dtype=torch.float32), torch.tensor(train_y, dtype=torch.float32)
            optimizer = torch.optim.Adam([*self.lstm.parameters(), *self.head.parameters()], lr=1e-3)
            for i in range(1000):
                optimizer.zero_grad()
                loss = torch.mean((self.model(x) - y) ** 2)
                loss.backward()
                optimizer.step()
            torch.save({{"lstm": self.lstm.state_dict(), "head": self.head.state_dict()}}, {ckpt!r})
        def test(self, test_x):
            state = torch.load({ckpt!r})
            self.lstm.load_state_dict(state["lstm"]); self.head.load_state_dict(state["head"])
            with torch.no_grad():
                return self.model(torch.tensor(test_x, dtype=torch.float32)).numpy()
    predictor = SeriesPredictor(input_dim=1, seq_size=4, hidden_dim=10)
    predictor.train([[[1], [2], [5], [6]], [[5], [7], [7], [8]], [[3], [4], [5], [7]]],
                    [[1, 3, 7, 11], [5, 12, 14, 15], [3, 7, 9, 12]])
    print(predictor.test([[[1], [2], [3], [4]], [[4], [5], [6], [7]]]).tolist())
""")


def process_seconds(code: str, env=None, repeats=3) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, env={**os.environ, **(env or {})})
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> str:
    import torch

    torch.set_num_threads(os.cpu_count())
    lines = ["## Training speed against PyTorch (CPU)", "",
             f"Best of {REPEATS} whole calls after a warm-up, the two libraries alternated; full-batch Adam 1e-3, MSE.", "",
             "| shape (batch, T, hidden, steps) | jaxseries steps/s | PyTorch steps/s | ratio | target |",
             "|---|---|---|---|---|"]
    rates = {}
    for name, shape in SHAPES.items():
        runners = {"jax": jax_trainer(*shape), "torch": torch_trainer(*shape)}
        for run in runners.values():
            run()  # warm-up: compilation, allocator
        best = {k: float("inf") for k in runners}
        for _ in range(REPEATS):
            for key, run in runners.items():
                best[key] = min(best[key], best_time(run))
        steps = shape[3]
        rates[name] = {k: steps / v for k, v in best.items()}
        ratio = rates[name]["jax"] / rates[name]["torch"]
        lines.append(f"| {name} {shape} | {rates[name]['jax']:,.0f} | {rates[name]['torch']:,.0f} | {ratio:.2f}x | "
                     f"≥ {TARGET_RATIOS[name]}x {verdict(ratio, TARGET_RATIOS[name])} |")
        print(lines[-1], file=sys.stderr)
    lines += many_windows_section()
    peak = matmul_gflops()
    achieved = training_flops(*SHAPES["L"]) / SHAPES["L"][3] * rates["L"]["jax"] / 1e9
    lines += ["", f"Matmul rate (2048² float32 in JAX): {peak:.0f} GFLOP/s. Training on L (3 × forward matmul FLOPs): "
              f"{achieved:.1f} GFLOP/s = {100 * achieved / peak:.0f}% of it "
              f"(PyTorch: {100 * achieved / peak * rates['L']['torch'] / rates['L']['jax']:.0f}%). "
              f"Target 85%: {verdict(achieved / peak, 0.85)}."]

    two = in_fresh_process(TWO_DEVICES.format(here=HERE, shapes={k: SHAPES[k] for k in ("M", "L")}, repeats=REPEATS),
                           {"XLA_FLAGS": "--xla_force_host_platform_device_count=2"})
    lines += ["", "Data-parallel over two host CPU devices (`XLA_FLAGS=--xla_force_host_platform_device_count=2`, "
              "batch split by jax.sharding), against the PyTorch rates above: " + ", ".join(
                  f"{k} {v:,.0f} steps/s ({v / rates[k]['torch']:.2f}x)" for k, v in two.items()) + "."]

    with tempfile.TemporaryDirectory() as cache:
        small = {k: SHAPES[k] for k in ("S", "M")}
        code = FIRST_CALL.format(here=HERE, shapes=small)
        cold = in_fresh_process(code, {"JAXSERIES_COMPILATION_CACHE": cache})
        warm = in_fresh_process(code, {"JAXSERIES_COMPILATION_CACHE": cache})
    lines += ["", "| first `train()` call in a fresh process | compile (first − second call), target < 2 s | "
              "with the persistent cache, next process, target < 0.5 s |", "|---|---|---|"]
    for name in ("S", "M"):
        compile_s, cached_s = cold[name][0] - cold[name][1], warm[name][0] - warm[name][1]
        lines.append(f"| {name} | {compile_s:.2f} s {verdict(compile_s, 2.0, at_least=False)} | "
                     f"{cached_s:.2f} s {verdict(cached_s, 0.5, at_least=False)} |")

    memory = {w: in_fresh_process(PEAK_MEMORY.format(here=HERE, which=w, shape=SHAPES["L"]))["maxrss_mb"]
              for w in ("jax", "torch")}
    lines += ["", f"Peak resident memory of a process training L: jaxseries {memory['jax']:.0f} MB, "
              f"PyTorch {memory['torch']:.0f} MB (whole process, imports included); target no more than PyTorch: "
              f"{verdict(memory['jax'], memory['torch'], at_least=False)}."]

    with tempfile.TemporaryDirectory() as tmp:
        jax_s = process_seconds(SEED_JAX.format(ckpt=os.path.join(tmp, "m.ckpt")),
                                {"JAXSERIES_COMPILATION_CACHE": os.path.join(tmp, "cache")})
        torch_s = process_seconds(SEED_TORCH.format(ckpt=os.path.join(tmp, "m.pt")))
    lines += ["", f"The seed program end to end in a fresh process (import, 1000 steps, save, restore, predict), best of 3: "
              f"jaxseries {jax_s:.2f} s (persistent cache warm after the first run), PyTorch {torch_s:.2f} s "
              f"(ratio {torch_s / jax_s:.2f}x); target no slower than PyTorch: {verdict(jax_s, torch_s, at_least=False)}."]
    lines += ["", WHY]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    if sys.argv[1:] == ["W"]:  # the many-windows shape alone
        print("\n".join(many_windows_section()))
    else:
        print(main())
