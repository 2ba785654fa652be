"""One command for the standing benchmarks (`make bench`): speed (with the both-cores comparison and the M profile),
populations, accuracy, auto and the one forecaster's defaults, written into
benchmarks/RESULTS.md with the machine recorded. Each section replaces the section of the same heading; sections
written by the longer single scripts (`m3.py`, `scale.py`) and the records of earlier issues are kept.

    python benchmarks/run.py                 # all of them
    python benchmarks/run.py speed cores     # named sections only; the others stay as they are
"""

from __future__ import annotations

import datetime
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import accuracy  # noqa: E402
import auto  # noqa: E402
import common  # noqa: E402
import cores  # noqa: E402
import one_forecaster  # noqa: E402
import populations  # noqa: E402
import profile_m  # noqa: E402
import speed  # noqa: E402


def merge(old: str, section: str) -> str:
    """`old` (sections "## ...") with the section of `section`'s heading replaced by it (appended when new)."""
    heading = section.splitlines()[0]
    parts = ("\n" + old).split("\n## ")  # parts[0]: nothing before the first heading
    for i in range(1, len(parts)):
        if "## " + parts[i].splitlines()[0] == heading:
            parts[i] = section[3:].rstrip("\n") + "\n"
            return "\n## ".join(parts)[1:]
    return old.rstrip("\n") + "\n\n" + section if old else section


def main() -> None:
    os.environ.setdefault("JAXSERIES_COMPILATION_CACHE", "off")  # steady-state timings; cache measured explicitly
    header = ["# Benchmark results", "",
              f"Run {datetime.date.today().isoformat()} by `make bench` on: {common.machine()}.",
              "The machine is shared and noisy: figures are best-of-N or medians, ratios from the same run.", ""]
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "RESULTS.md")
    body = open(path).read().split("\n## ", 1)[1] if os.path.exists(path) else ""
    body = "## " + body if body else ""
    modules = (speed, cores, profile_m, populations, accuracy, auto, one_forecaster)
    chosen = [m for m in modules if m.__name__ in sys.argv[1:]] or modules  # `run.py speed cores`: those alone
    for module in chosen:  # RESULTS.md is rewritten after each: a failure keeps the rest
        for part in ("\n" + module.main()).split("\n## ")[1:]:
            body = merge(body, "## " + part)
        with open(path, "w") as f:
            f.write("\n".join(header) + "\n" + body)
    print(open(path).read())


if __name__ == "__main__":
    main()
