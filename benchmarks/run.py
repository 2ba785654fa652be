"""One command for every benchmark (`make bench`): writes benchmarks/RESULTS.md with the machine recorded."""

from __future__ import annotations

import datetime
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import accuracy  # noqa: E402
import common  # noqa: E402
import populations  # noqa: E402
import speed  # noqa: E402


def main() -> None:
    os.environ.setdefault("JAXSERIES_COMPILATION_CACHE", "off")  # steady-state timings; cache measured explicitly
    header = ["# Benchmark results", "",
              f"Run {datetime.date.today().isoformat()} by `make bench` on: {common.machine()}.",
              "The machine is shared and noisy: figures are best-of-N or medians, ratios from the same run.", ""]
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "RESULTS.md")
    body = ""
    for section in (speed, populations, accuracy):  # RESULTS.md is rewritten after each, so a failure keeps the rest
        body += ("\n" if body else "") + section.main()
        with open(path, "w") as f:
            f.write("\n".join(header) + "\n" + body)
    print(open(path).read())


if __name__ == "__main__":
    main()
