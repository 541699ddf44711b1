"""Benchmark: reading and validating exports with :func:`cxkit.read_support_data`.

Times the whole read (CSV parsing, mapping, typing, every validation rule) on
the bundled sample and on a generated CSV export of about a million tickets
(:func:`cxkit.synth.write_sample`, written once to ``benchmarks/_work/``).
``--small`` reads the bundled sample only and leaves the README alone.
"""

from __future__ import annotations

import argparse
import platform
import resource
import time
import warnings
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
WORK = HERE / "_work" / "read_1m"
README = HERE / "README.md"
CUSTOMERS_FOR_1M = 173_500  # the generator writes about 5.8 tickets per customer over 24 months


def _time_read(config, repeat: int) -> tuple[float, int]:
    from cxkit.io import read_support_data
    best, rows = float("inf"), 0
    for _ in range(repeat):
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            data = read_support_data(config)
        best = min(best, time.perf_counter() - start)
        rows = len(data.tickets)
    return best, rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks --only read")
    parser.add_argument("--small", action="store_true", help="bundled sample only")
    args = parser.parse_args(argv)
    rows = [("bundled sample (CSV)",) + _time_read("sample", repeat=3)]
    if not args.small:
        config = WORK / "cxkit.yaml"
        if not config.is_file():
            from cxkit.synth import write_sample
            write_sample(WORK, n_customers=CUSTOMERS_FOR_1M, seed=3)
        rows.append(("generated export (CSV)",) + _time_read(config, repeat=1))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    table = ["| export | tickets kept | read_support_data (s) |", "|---|---:|---:|"]
    table += [f"| {name} | {n:,} | {secs:.2f} |" for name, secs, n in rows]
    text = "\n".join([
        "<!-- bench_read:start -->",
        "## Reading and validating (`bench_read.py`)",
        "",
        f"Best of 3 reads for the sample, one read for the generated export; Python "
        f"{platform.python_version()}, pandas {pd.__version__}, peak RSS of the process "
        f"{peak_mb:,.0f} MB.",
        "",
        *table,
        "<!-- bench_read:end -->",
    ])
    print(text)
    if not args.small:
        old = README.read_text()
        if "<!-- bench_read:start -->" in old:
            head, rest = old.split("<!-- bench_read:start -->", 1)
            new = head + text + "\n" + rest.split("<!-- bench_read:end -->", 1)[1]
        else:
            new = old.rstrip("\n") + "\n\n" + text + "\n"
        README.write_text(new)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
