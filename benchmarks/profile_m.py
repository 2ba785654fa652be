"""Where the time of one M step goes (issue 13): forward, forward + backward, the whole Adam step, and `train`'s
loop, each timed as 200 repetitions inside one compiled `lax.scan` (no dispatch per step), beside PyTorch's same
parts, in one run.

    python benchmarks/profile_m.py      # needs the bench extra (torch); prints a markdown section
"""

from __future__ import annotations


import jax
import jax.numpy as jnp
import numpy as np

from common import best_of, machine
from speed import SHAPES, data

REPEATS = 5
WHERE = ("Reading (2026-11-28, 2-core Intel Xeon). Before the CPU kernel, the forward pass was where M lost: 3.0-3.9 ms "
         "against PyTorch's 1.0-1.5 (one fused oneDNN LSTM kernel), Adam steps 3.9-4.6 ms against 3.5-4.7. Its time "
         "was the time loop: the recurrence (T 32, N 64, H 64) took 3.0 ms per call with `lax.scan` unroll 1 and "
         "1.2 ms fully unrolled, about 55 us of XLA's per-iteration overhead per time step against ~35 us of "
         "arithmetic; unrolling lost at the level of whole calls (compile time). The kernel runs the whole "
         "sequence in one call with the batch's rows on both cores: the recurrence alone 0.56 ms forward and "
         "0.55 ms backward against the scan's 1.4 and 1.5 in the same process (`JAXSERIES_KERNEL=0` for the scan). "
         "Later (packed kernel, weight gradient in the backward kernel, four row pieces per thread; jax.profiler "
         "trace of 200 train steps): of a 2.25 ms step the backward kernel took 1.32 ms, the forward 0.58, "
         "everything else (input side, head, loss, Adam) about 0.3. With 8-row pieces the backward's in-kernel "
         "weight gradient loads and stores its [H, 4H] accumulator every step for a depth of 8 rows: a single 8-row "
         "piece's backward is 2.8x its forward (C++ harness), 1.7x at 16 rows. Two restructurings did not pay in "
         "whole steps: gathering it over chunks of steps (the copies cost more than they saved), and one blocked "
         "multiplication per member and gate panel after the time loop (depth (T-1)N, dz panels packed; train "
         "steps A/B in one process: M 1.00x, W-like 0.97x, L 1.03x the old speed).")


def jax_parts(batch, time_steps, hidden, steps) -> dict[str, float]:
    """Milliseconds per step of each part, repeated `steps` times in one compiled scan."""
    import jaxseries as js
    from jaxseries import steps as steps_lib
    from jaxseries.config import ModelConfig
    from jaxseries.model import LSTMRegressor
    from jaxseries.state import create_train_state

    x, y = (jnp.asarray(a) for a in data(batch, time_steps))
    config = ModelConfig(input_dim=1, hidden_dim=hidden)
    state = create_train_state(config, 1e-3, 0)
    state = jax.device_put(state)
    params = state.params
    model = LSTMRegressor(config)
    step = steps_lib.make_train_step(config)

    def repeat(body):  # compiled once: `steps` repetitions of body in one scan
        return jax.jit(lambda c: jax.lax.scan(lambda c, _: (body(c), None), c, None, length=steps)[0])

    def forward(p):  # the output feeds the next repetition, so nothing is hoisted out of the loop
        return jax.tree.map(lambda leaf: leaf + 0 * jnp.mean(model.apply(p, x)), p)

    def backward(p):
        grads = jax.grad(steps_lib.loss)(p, config, x, y[..., None])
        return jax.tree.map(lambda leaf, g: leaf - 0 * g, p, grads)

    forwards, backwards = repeat(forward), repeat(backward)
    adam = repeat(lambda s: step(s, (x, y[..., None]))[0])
    parts = {
        "forward (loss only)": lambda: jax.block_until_ready(forwards(params)),
        "forward + backward": lambda: jax.block_until_ready(backwards(params)),
        "Adam step (forward + backward + update)": lambda: jax.block_until_ready(adam(state)),
        "`js.train` (the whole call: placement, loop, history)": lambda: js.train(
            np.asarray(x), np.asarray(y), hidden_dim=hidden, steps=steps, progress=False, log_every=steps),
    }
    return {name: 1e3 * best_of(fn, REPEATS) / steps for name, fn in parts.items()}


def torch_parts(batch, time_steps, hidden, steps) -> dict[str, float]:
    import torch

    x, y = (torch.from_numpy(a) for a in data(batch, time_steps))
    torch.manual_seed(0)
    lstm, head = torch.nn.LSTM(1, hidden, batch_first=True), torch.nn.Linear(hidden, 1)
    optimizer = torch.optim.Adam([*lstm.parameters(), *head.parameters()], lr=1e-3)

    def loss():
        return torch.mean((head(lstm(x)[0])[..., 0] - y) ** 2)

    def forward():
        with torch.no_grad():
            for _ in range(steps):
                loss()

    def backward():
        for _ in range(steps):
            optimizer.zero_grad(set_to_none=True)
            loss().backward()

    def adam():
        for _ in range(steps):
            optimizer.zero_grad(set_to_none=True)
            loss().backward()
            optimizer.step()

    return {"forward (loss only)": 1e3 * best_of(forward, REPEATS) / steps,
            "forward + backward": 1e3 * best_of(backward, REPEATS) / steps,
            "Adam step (forward + backward + update)": 1e3 * best_of(adam, REPEATS) / steps}


def main() -> str:
    shape = SHAPES["M"]
    ours, theirs = jax_parts(*shape), torch_parts(*shape)
    lines = [f"## Where an M step's time goes (issue 13): {shape}, ms per step", "",
             f"Machine: {machine()}. Best of {REPEATS}; jaxseries parts repeated {shape[3]} times inside one compiled "
             "scan (PyTorch: a Python loop, its normal use); PyTorch with its default threads.", "",
             "| part | jaxseries ms | PyTorch ms | PyTorch / jaxseries |", "|---|---|---|---|"]
    for name, value in ours.items():
        ref = theirs.get(name)
        lines.append(f"| {name} | {value:.3f} | " + (f"{ref:.3f} | {ref / value:.2f}x |" if ref else "| |"))
    lines += ["", WHERE]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(main())
