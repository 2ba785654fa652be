"""jaxseries against PyTorch on an accelerator (issue 13): S, M, L, the panel shape and a 32-member population,
one script well under 8 minutes, a markdown table on stdout. PyTorch runs its cuDNN LSTM on CUDA when it sees a
GPU; jaxseries runs on JAX's default device (the XLA path: there is no cuDNN path in jaxseries yet).

    python benchmarks/gpu.py            # needs the bench extra (torch); on a CPU-only machine it still runs
"""

from __future__ import annotations


import numpy as np

from common import alternated
from speed import SHAPES, data, torch_trainer

PANEL = (1024, 54, 64, 100)  # batch, context + horizon, hidden, steps: issue 9's panel shape
POPULATION = (32, 16, 16, 300, 32)  # batch, T, hidden, steps, members
REPEATS = 3


def jax_runner(batch, time_steps, hidden, steps, members=None):
    import jax
    import jaxseries as js

    x, y = data(batch, time_steps)
    if members:
        return lambda: jax.block_until_ready(js.train_many(x, y, seeds=range(members), hidden_dim=hidden, steps=steps,
                                                           progress=False, log_every=steps).state.params)
    return lambda: jax.block_until_ready(js.train(x, y, hidden_dim=hidden, steps=steps, progress=False,
                                                  log_every=steps).state.params)


def torch_runner(batch, time_steps, hidden, steps, members=None):
    import torch

    one = torch_trainer(batch, time_steps, hidden, steps, "cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        return (lambda: [one() for _ in range(members)]) if members else one
    synchronized = lambda: (one(), torch.cuda.synchronize())  # noqa: E731
    return (lambda: [synchronized() for _ in range(members)]) if members else synchronized


def main() -> str:
    import jax
    import torch

    shapes = {**{name: shape + (None,) for name, shape in SHAPES.items()}, "panel": PANEL + (None,),
              "population (32 members vs 32 sequential)": POPULATION}
    where = f"JAX on {jax.devices()[0].device_kind} ({jax.default_backend()}); PyTorch {torch.__version__} on " + (
        torch.cuda.get_device_name(0) + " (cuDNN LSTM)" if torch.cuda.is_available() else "CPU")
    lines = [f"## jaxseries against PyTorch on {jax.default_backend().upper()} (`benchmarks/gpu.py`, issue 13)", "",
             where + f"; best of {REPEATS} whole calls after a warm-up, the two libraries alternated call by call "
             "(each round's own ratio beside: how far the host's moment moves it).", "",
             "| shape (batch, T, hidden, steps) | jaxseries s | PyTorch s | ratio | ratio per round |",
             "|---|---|---|---|---|"]
    for name, (batch, time_steps, hidden, steps, members) in shapes.items():
        times = alternated({"ours": jax_runner(batch, time_steps, hidden, steps, members),
                            "theirs": torch_runner(batch, time_steps, hidden, steps, members)}, REPEATS)
        ours, theirs = min(times["ours"]), min(times["theirs"])
        rounds = ", ".join(f"{t / o:.1f}x" for o, t in zip(times["ours"], times["theirs"]))
        lines.append(f"| {name} ({batch}, {time_steps}, {hidden}, {steps}) | {ours:.3f} | {theirs:.3f} | "
                     f"{theirs / ours:.2f}x | {rounds} |")
        print(lines[-1], flush=True)
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    np.seterr(all="ignore")
    print(main())
