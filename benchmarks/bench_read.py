"""Benchmark: reading and validating exports with :func:`cxkit.read_support_data`.

Times the whole read (CSV parsing, mapping, typing, every validation rule) on
the bundled sample and on a generated CSV export of about a million tickets
(:func:`cxkit.synth.write_sample`, written once to ``benchmarks/_work/``).
``--small`` reads the bundled sample only and leaves the README alone.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import time
import warnings
from pathlib import Path

import pandas as pd

from benchmarks import write_readme_block

HERE = Path(__file__).resolve().parent
WORK = HERE / "_work" / "read_1m"
CUSTOMERS_FOR_1M = 173_500  # the generator writes about 5.8 tickets per customer over 24 months


def _time_read(config, repeat: int) -> tuple[float, float, int]:
    """Best (CPU seconds, wall-clock seconds) of ``repeat`` reads, and the tickets kept."""
    from cxkit.io import read_support_data
    best, rows = (float("inf"), float("inf")), 0
    for _ in range(repeat):
        start, cpu = time.perf_counter(), time.process_time()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            data = read_support_data(config)
        best = min(best, (time.process_time() - cpu, time.perf_counter() - start))
        rows = len(data.tickets)
    return best[0], best[1], rows


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
    table = ["| export | tickets kept | CPU (s) | wall-clock (s) |", "|---|---:|---:|---:|"]
    table += [f"| {name} | {n:,} | {cpu:.2f} | {wall:.2f} |" for name, cpu, wall, n in rows]
    text = "\n".join([
        "## Reading and validating (`bench_read.py`)",
        "",
        f"`read_support_data` (CSV parsing, mapping, typing, every validation rule): best of 3 "
        f"reads for the sample, one read for the generated export of {CUSTOMERS_FOR_1M:,} "
        f"customers; Python {platform.python_version()}, pandas {pd.__version__}, load "
        f"average {os.getloadavg()[0]:.1f} at the end, peak RSS of the process {peak_mb:,.0f} MiB. "
        "CPU seconds are the steadier figure on a shared machine.",
        "",
        *table,
    ])
    print(text)
    if not args.small:
        write_readme_block("bench_read", text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
