"""The command line: `jaxseries demo` (and `python -m jaxseries`, the same program)."""

from __future__ import annotations

import argparse
import sys


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jaxseries", description="LSTM time-series forecasting in JAX.")
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="the seed tutorial, then the better recipe")
    demo.add_argument("--out", default="runs/demo", help="directory for the demo's checkpoints (default runs/demo)")
    demo.add_argument("--no-progress", action="store_true", help="hide progress bars")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "demo":
            from jaxseries import demo

            demo.run(args.out, progress=not args.no_progress)
    except (ValueError, TypeError, FileNotFoundError) as error:
        print(f"jaxseries {args.command}: error: {error}", file=sys.stderr)
        return 2
    return 0
