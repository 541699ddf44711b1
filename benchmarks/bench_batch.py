"""Batch runner against plain papermill: 12 runs, 2 jobs vs one after another.

The same 12 parameterised runs of a small notebook (a couple of seconds of
numpy/pandas work each) are executed two ways:

* ``cxkit.batch.run_batch`` with ``jobs=2`` (parameter checks, one kernel per
  run in 2 worker processes, HTML rendering, results.csv, manifest);
* ``papermill in.ipynb out.ipynb -p seed N`` as 12 subprocesses in a row.

The notebook's own work is the sum of its cells' execution times from the
executed notebooks' metadata (``metadata.papermill.duration``). Overhead per
run = (wall-clock x workers - own work) / runs: the time a worker spends on a
run beyond its cells (process start, imports, kernel start, rendering, the
batch's bookkeeping). Targets on 2 cores: speed-up >= 1.6x, batch overhead
< 1 s per run.

A second part measures what a notebook pays to get its data in a batch: a
generated source is read and its monthly panel built once by the batch
(``cache: true``), and each run's ``cx.load_data`` + ``cx.load_panel`` cell
is timed. For comparison, the time to hash the same data (what every kernel
did before to find its cached panel) is measured in this process.

Figures are written to benchmarks/README.md between the ``bench_batch``
markers (not with ``--small``).

Run: ``python -m benchmarks --only batch`` (``--small``: 4 runs, less work).
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat

from benchmarks import write_readme_block

HERE = Path(__file__).resolve().parent
WORK = HERE / "_work" / f"batch-{os.getpid()}"  # one folder per invocation

WORK_CELL = """import numpy as np
import pandas as pd
rng = np.random.default_rng(seed)
frame = pd.DataFrame({"customer": rng.integers(0, 50_000, rows),
                      "minutes": rng.exponential(90.0, rows), "csat": rng.integers(1, 6, rows)})
for _ in range(rounds):
    kpis = frame.groupby("customer").agg(minutes_median=("minutes", "median"),
                                         csat_mean=("csat", "mean"))
    ranks = np.sort(frame["minutes"].to_numpy())
len(kpis)"""


def _make_notebook(path: Path, *, rounds: int) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    params = nbformat.v4.new_code_cell(
        f"seed: int = 0  # random seed\nrows: int = 1_000_000  # rows of fake tickets\n"
        f"rounds: int = {rounds}  # repetitions of the work")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell("Benchmark notebook: a few seconds of pandas."),
                params, nbformat.v4.new_code_cell(WORK_CELL)]
    nbformat.write(nb, path)


LOAD_CELL = "data = cx.load_data(config)\npanel = cx.load_panel(data, period=period)"


def _make_cached_notebook(path: Path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    params = nbformat.v4.new_code_cell(
        '# Parameters\nconfig: str = "sample"  # source config\n'
        'period: str = "M"  # panel period\nseed: int = 0  # run number\n'
        'output_dir: str = "."  # where results.json goes')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell("import cxkit as cx"),
                nbformat.v4.new_code_cell(LOAD_CELL),
                nbformat.v4.new_code_cell(
                    'cx.write_results([{"model": "none", "outcome": "rows", "term": "panel",'
                    ' "estimate": float(len(panel))}], output_dir=output_dir, data=data);')]
    nbformat.write(nb, path)


def _run_cached(n_customers: int, n_runs: int, jobs: int) -> dict:
    """Per-run seconds of the cached load cell, and of hashing the same data."""
    from cxkit.batch import run_batch
    from cxkit.io import read_support_data
    from cxkit.synth import write_sample

    config = write_sample(WORK / "source", n_customers=n_customers, seed=3)
    config = config if config.suffix == ".yaml" else config / "cxkit.yaml"
    notebook = WORK / "cached.ipynb"
    _make_cached_notebook(notebook)
    cfg = {"source": str(config), "notebooks": [str(notebook)],
           "grid": {"seed": list(range(n_runs))}, "jobs": jobs, "cache": True,
           "output_root": str(WORK / "reports-cached")}
    result = run_batch(cfg, progress="off")
    if result.status != "ok":
        raise RuntimeError(result.summary())
    loads = []
    for run in result.runs:
        nb = nbformat.read(result.run_dir / run.notebook_path, as_version=4)
        cell = next(c for c in nb.cells if c.source == LOAD_CELL)
        loads.append(cell.metadata["papermill"]["duration"])
    data = read_support_data(config)
    start = time.perf_counter()
    data.fingerprint  # noqa: B018 - what each kernel computed before
    hashing = time.perf_counter() - start
    return {"tickets": len(data.tickets), "customers": len(data.customers),
            "load_seconds_per_run": sum(loads) / len(loads), "hash_seconds": hashing}


def _cells_seconds(path: Path) -> float:
    nb = nbformat.read(path, as_version=4)
    return sum(c.metadata.get("papermill", {}).get("duration") or 0.0 for c in nb.cells)


def _run_cxkit(notebook: Path, seeds: list[int], jobs: int) -> tuple[float, float]:
    from cxkit.batch import run_batch

    cfg = {"notebooks": [str(notebook)], "grid": {"seed": seeds}, "jobs": jobs,
           "cache": False, "output_root": str(WORK / "reports")}
    start = time.perf_counter()
    result = run_batch(cfg, progress="off")
    wall = time.perf_counter() - start
    if result.status != "ok":
        raise RuntimeError(result.summary())
    return wall, sum(r.cells_seconds for r in result.runs)


def _run_papermill_cli(notebook: Path, seeds: list[int]) -> tuple[float, float]:
    papermill = Path(sys.executable).with_name("papermill")
    out_dir = WORK / "papermill"
    out_dir.mkdir(parents=True, exist_ok=True)
    own = 0.0
    start = time.perf_counter()
    for seed in seeds:
        out = out_dir / f"seed={seed}.ipynb"
        subprocess.run([str(papermill), str(notebook), str(out), "-p", "seed", str(seed),
                        "--no-progress-bar"], check=True, capture_output=True)
        own += _cells_seconds(out)
    return time.perf_counter() - start, own


def _write_readme(text: str) -> None:
    write_readme_block("bench_batch", text)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print and record the figures; 1 if a target is missed."""
    small = "--small" in (argv or [])
    n_runs, rounds, jobs = (4, 8, 2) if small else (12, 28, 2)
    n_customers = 3_000 if small else 100_000
    load_before = os.getloadavg()[0]
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    notebook = WORK / "work.ipynb"
    _make_notebook(notebook, rounds=rounds)
    seeds = list(range(n_runs))
    # one kernel warm-up so neither side pays first-import disk caching
    _run_papermill_cli(notebook, seeds[:1])

    batch_wall, batch_own = _run_cxkit(notebook, seeds, jobs)
    seq_wall, seq_own = _run_papermill_cli(notebook, seeds)
    speedup = seq_wall / batch_wall
    batch_over = (batch_wall * jobs - batch_own) / n_runs
    seq_over = (seq_wall - seq_own) / n_runs
    cached = _run_cached(n_customers, 4, jobs)
    ok = speedup >= 1.6 and batch_over < 1.0
    figures = {"runs": n_runs, "jobs": jobs, "cores": os.cpu_count(),
               "load_average": round(load_before, 2),
               "papermill_cli_seconds": round(seq_wall, 1), "batch_seconds": round(batch_wall, 1),
               "speedup": round(speedup, 2),
               "notebook_work_seconds_per_run": round(batch_own / n_runs, 2),
               "batch_overhead_seconds_per_run": round(batch_over, 2),
               "papermill_cli_overhead_seconds_per_run": round(seq_over, 2),
               "cached": {k: round(v, 3) for k, v in cached.items()},
               "targets_met": ok}
    print(json.dumps(figures, indent=2))
    text = f"""## Batch runs (`bench_batch.py`)

{n_runs} runs of a notebook doing {batch_own / n_runs:.1f} s of pandas work each
(cell time from the executed notebooks), Python {platform.python_version()},
{os.cpu_count()} cores, load average {load_before:.1f} at the start{" (--small)" if small else ""}.

| | wall-clock | overhead per run |
|---|---|---|
| `papermill` command line, one after another | {seq_wall:.1f} s | {seq_over:.2f} s |
| `cxkit.batch.run_batch`, {jobs} jobs (with HTML, results.csv, manifest) \
| {batch_wall:.1f} s | {batch_over:.2f} s |

Speed-up {speedup:.2f}x (target >= 1.6x); overhead per run = (wall-clock x
workers - cell time) / runs (target < 1 s). Targets met: {"yes" if ok else "NO"}.

Data from the batch cache: a generated source of {cached["customers"]:,} customers and
{cached["tickets"]:,} tickets, read and its monthly panel built once by the batch; 4 runs
of `cx.load_data` + `cx.load_panel` take {cached["load_seconds_per_run"]:.2f} s each in
their kernels (the data fingerprint comes with the cached data). Hashing the data, which
each kernel did before to find its panel, takes {cached["hash_seconds"]:.2f} s.
"""
    if not small:
        _write_readme(text)
    shutil.rmtree(WORK, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
