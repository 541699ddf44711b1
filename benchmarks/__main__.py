"""Run every ``benchmarks/bench_*.py``: ``python -m benchmarks [--small] [--only NAME]``.

Each benchmark module has a ``main(argv)`` function; the remaining command-line
arguments (e.g. ``--small``) are passed to every one of them. Options of a single
benchmark (e.g. ``--only engine --size 1e7``) go with ``--only``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--only", help="run only bench_<ONLY>.py", default=None)
    args, rest = parser.parse_known_args(argv)
    names = sorted(p.stem for p in Path(__file__).parent.glob("bench_*.py"))
    if args.only:
        names = [n for n in names if n == f"bench_{args.only}"]
        if not names:
            parser.error(f"no benchmark named bench_{args.only}.py")
    status = 0
    for name in names:
        print(f"== {name}", flush=True)
        module = importlib.import_module(f"benchmarks.{name}")
        status = max(status, int(module.main(list(rest)) or 0))
    return status


if __name__ == "__main__":
    sys.exit(main())
