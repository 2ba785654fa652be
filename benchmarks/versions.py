"""This tree against an earlier revision, in one run: S, M, L and the 32-member population, timed the same way.

For a change that must not cost speed (a refactor), "no slower" is only honest when both versions run on the same
machine at the same time. Each round runs both versions in fresh processes (the old one from a `git worktree`),
alternating; each process times best of REPEATS whole calls after a warm-up. The table gives each version's best
round and the ratio.

    python benchmarks/versions.py REV [--rounds 3]     # e.g. REV = the commit before the change
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from populations import POPULATION  # noqa: E402
from speed import HERE, SHAPES  # noqa: E402

REPEATS = 3
ROOT = os.path.dirname(HERE)

TIMING = textwrap.dedent("""
    import json, sys, time
    sys.path.insert(0, {source!r}); sys.path.insert(1, {here!r})
    import jaxseries as js
    from speed import data
    assert js.__file__.startswith({source!r}), js.__file__

    def best(fn):
        fn()
        times = []
        for _ in range({repeats}):
            start = time.perf_counter(); fn(); times.append(time.perf_counter() - start)
        return min(times)

    out = {{}}
    for name, (batch, t, hidden, steps) in {shapes!r}.items():
        x, y = data(batch, t)
        out[name] = best(lambda: js.train(x, y, hidden_dim=hidden, steps=steps, log_every=steps, progress=False))
    batch, t, hidden, steps, members = {population!r}
    x, y = data(batch, t)
    out["population"] = best(lambda: js.train_many(x, y, seeds=range(members), hidden_dim=hidden, steps=steps,
                                                   log_every=steps, progress=False))
    print(json.dumps(out))
""")


def timings(source: str) -> dict:
    code = TIMING.format(source=source, here=HERE, repeats=REPEATS, shapes=SHAPES, population=POPULATION)
    env = {**os.environ, "JAXSERIES_COMPILATION_CACHE": "off"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=900)
    if result.returncode != 0:
        raise RuntimeError(result.stderr[-2000:])
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(revision: str, rounds: int) -> str:
    with tempfile.TemporaryDirectory() as scratch:
        old = os.path.join(scratch, "old")
        subprocess.run(["git", "-C", ROOT, "worktree", "add", "--detach", old, revision], check=True,
                       capture_output=True)
        try:
            results = {"old": [], "new": []}
            for _ in range(rounds):  # alternate, so drift on the shared machine hits both versions alike
                results["old"].append(timings(old))
                results["new"].append(timings(ROOT))
        finally:
            subprocess.run(["git", "-C", ROOT, "worktree", "remove", "--force", old], capture_output=True)
    named = {**{name: f"{name} {shape}" for name, shape in SHAPES.items()},
             "population": f"population {POPULATION[4]} members {POPULATION[:4]}"}
    lines = [f"## This tree against {revision}, alternated in one run ({rounds} rounds, best of {REPEATS} calls each)",
             "", "| shape (batch, T, hidden, steps) | before s | after s | after / before |", "|---|---|---|---|"]
    for key, label in named.items():
        before = min(r[key] for r in results["old"])
        after = min(r[key] for r in results["new"])
        lines.append(f"| {label} | {before:.3f} | {after:.3f} | {after / before:.2f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("revision")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(main(args.revision, args.rounds))
