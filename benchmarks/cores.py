"""Issue 13's "both cores" lever: jaxseries on one host device (the CPU kernel, which runs a batch's rows on both
cores; and the XLA scan, `JAXSERIES_KERNEL=0`) and on two (the batch split by `jax.sharding`; the scan runs there),
against PyTorch, on S/M/L and the many-windows shape W, each side in its own fresh process, in one run.

    python benchmarks/cores.py          # needs the bench extra (torch); prints a markdown section
"""

from __future__ import annotations

import os
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


def main() -> str:
    shapes = {**SHAPES, "W": MANY_WINDOWS}
    code = lambda which, chosen: MEASURE.format(here=HERE, shapes=chosen, which=which, repeats=REPEATS)  # noqa: E731
    one = in_fresh_process(code("jax", shapes), env={"XLA_FLAGS": ""})
    scan = in_fresh_process(code("jax", shapes), env={"XLA_FLAGS": "", "JAXSERIES_KERNEL": "0"})
    two = in_fresh_process(code("jax", shapes), env={"XLA_FLAGS": "--xla_force_host_platform_device_count=2"})
    torch = in_fresh_process(code("torch", SHAPES))
    lines = ["## Both cores (issue 13): the kernel, the scan, two host devices, PyTorch in the same run", "",
             f"Machine: {machine()}; {os.cpu_count()} cores. Steps per second, best of {REPEATS} whole `train` calls "
             "after a warm-up, each side in a fresh process. One device: the CPU kernel (rows split over XLA's "
             "intra-op threads), and the XLA scan (`JAXSERIES_KERNEL=0`). Two devices split each batch with "
             "`jax.sharding` (XLA_FLAGS=--xla_force_host_platform_device_count=2) and run the scan; S's batch of 3 "
             "does not divide, so it stays on one.",
             "", "| shape | kernel | scan | two devices | kernel / scan | PyTorch | kernel / PyTorch | scan / PyTorch "
             "| two devices / PyTorch |", "|---|---|---|---|---|---|---|---|---|"]
    for name in shapes:
        ref = torch.get(name)
        lines.append(f"| {name} {shapes[name][:4]} | {one[name]:,.1f} | {scan[name]:,.1f} | {two[name]:,.1f} | "
                     f"{one[name] / scan[name]:.2f}x | "
                     + (f"{ref:,.1f} | {one[name] / ref:.2f}x | {scan[name] / ref:.2f}x | {two[name] / ref:.2f}x |"
                        if ref else "see W above | | | |"))
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(main())
