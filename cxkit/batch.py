"""Batches of parameterised notebook runs: ``cxkit run RUNCONFIG``.

A run config (YAML) names a data source, notebooks and a grid of parameter
sets. :func:`run_batch` checks every parameter against each notebook's
``parameters`` cell before anything runs, reads the data and builds the
panels once (:mod:`cxkit.cache`), executes the runs in parallel processes
(one kernel each, papermill), renders each to HTML without code
(:mod:`cxkit.render`) and writes ``results.csv``, ``manifest.json`` and
``index.html``.

Run folders. Each batch writes a new ``<output_root>/<run id>/`` (run id: UTC
timestamp and a random suffix). It is built as ``<output_root>/.tmp-<run id>/``
and renamed into place only when complete, so a folder without the ``.tmp-``
prefix is always a finished batch and an interrupted batch leaves only a
``.tmp-*`` folder (reported by the next batch; :func:`clean_stale_runs` removes
them). A batch in which some runs failed is still a complete folder, with
status ``"failed"``. ``<output_root>/latest`` is a symlink to the newest batch
in which *every* run succeeded: it does not move for a batch with failures.

The run config and the checks made before anything runs are in
:mod:`cxkit.runconfig`.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cxkit.exceptions import CxkitError
from cxkit.runconfig import RunConfig, default_run_config, plan_runs, read_run_config

__all__ = ["BatchResult", "run_batch", "run_batch_cli", "find_stale_runs", "clean_stale_runs"]


@contextmanager
def _deadline(seconds: float | None):
    """Raise ``TimeoutError`` in this (main) thread after ``seconds``."""
    if not seconds:
        yield
        return

    def _alarm(signum, frame):
        raise TimeoutError(f"notebook exceeded timeout_seconds={seconds:g}")

    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


@contextmanager
def _stderr_to(path: Path):
    """Send this process's (and its kernel's) stderr to ``path`` meanwhile."""
    sys.stderr.flush()
    saved = os.dup(2)
    with open(path, "ab") as fh:
        os.dup2(fh.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


def _cell_seconds(nb_path: Path) -> float | None:
    import nbformat

    try:
        nb = nbformat.read(nb_path, as_version=4)
    except (OSError, ValueError):
        return None
    durations = [c.get("metadata", {}).get("papermill", {}).get("duration") for c in nb.cells]
    return float(sum(d for d in durations if d))


def _kernel_config():
    """Kernels talk over Unix sockets where available.

    With TCP, kernels started at the same moment by parallel workers can pick
    the same free port ("Address already in use": the kernel dies before it
    replies); IPC socket paths are unique per kernel.
    """
    from traitlets.config import Config

    return Config({"KernelManager": {"transport": "ipc"}}) if os.name == "posix" else Config()


def _execute_run(task: dict) -> dict:
    """Worker: execute one notebook with papermill, render it; never raises."""
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    from cxkit.render import render_html

    import logging

    # papermill re-reads the parameters cell with a line regex and would warn about
    # parameters it cannot parse; they were checked by plan_runs already
    logging.getLogger("papermill").setLevel(logging.ERROR)
    os.environ.update(task["env"])
    out = Path(task["output_path"])
    out.parent.mkdir(parents=True, exist_ok=True)
    error = None
    start = time.perf_counter()
    try:
        with _deadline(task["timeout_seconds"]), _stderr_to(out.parent / "kernel.log"):
            pm.execute_notebook(str(task["input_path"]), str(out), parameters=task["parameters"],
                                kernel_name=task["kernel"], progress_bar=False, cwd=str(out.parent),
                                execution_timeout=task["timeout_seconds"], config=_kernel_config())
    except PapermillExecutionError as exc:
        error = {"cell_index": exc.cell_index, "exec_count": exc.exec_count,
                 "ename": exc.ename, "evalue": exc.evalue}
    except Exception as exc:  # timeout, dead kernel, unreadable notebook...
        error = {"cell_index": None, "exec_count": None, "ename": type(exc).__name__,
                 "evalue": str(exc)[:2000]}
    duration = time.perf_counter() - start
    html = None
    if out.exists():
        try:
            html = render_html(out)
        except Exception as exc:  # a run's rendering problem must not sink the batch
            error = error or {"cell_index": None, "exec_count": None,
                              "ename": type(exc).__name__, "evalue": f"rendering: {exc}"}
    return {"status": "failed" if error else "ok", "error": error,
            "duration_seconds": round(duration, 3), "cells_seconds": _cell_seconds(out),
            "html": str(html) if html else None}


@dataclass(frozen=True)
class BatchResult:
    """What a batch did: its run folder, status and one record per run."""

    run_id: str
    run_dir: Path
    status: str  # "ok" or "failed"
    runs: tuple[dict, ...]
    stale: tuple[Path, ...] = ()

    @property
    def failed(self) -> tuple[dict, ...]:
        """The records of the runs that failed."""
        return tuple(r for r in self.runs if r["status"] != "ok")

    def summary(self) -> str:
        """Plain-text summary: counts, then one paragraph per failed run."""
        lines = [f"{len(self.runs) - len(self.failed)}/{len(self.runs)} runs ok; "
                 f"report: {self.run_dir / 'index.html'}"]
        for r in self.failed:
            e = r["error"] or {}
            cell = (f"cell {e['cell_index']} (In [{e['exec_count']}])"
                    if e.get("cell_index") is not None else "run")
            lines.append(f"FAILED {r['notebook']} {_label(r['label_parameters'])}: {cell} "
                         f"raised {e.get('ename')}: {str(e.get('evalue'))[:300]}\n"
                         f"  notebook with the error: {self.run_dir / r['notebook_path']}")
        for path in self.stale:
            lines.append(f"note: incomplete folder from an interrupted batch: {path} "
                         "(remove with cxkit.batch.clean_stale_runs)")
        return "\n".join(lines)

    def raise_if_failed(self) -> None:
        """Raise :class:`~cxkit.exceptions.BatchError` when any run failed."""
        from cxkit.exceptions import BatchError

        if self.failed:
            raise BatchError(self.summary())


def _cores() -> int:
    """Cores this process may use (respects CPU affinity where the OS has it)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:
        return os.cpu_count() or 1


def _label(params: dict) -> str:
    return " ".join(f"{k}={v}" for k, v in params.items()) or "(defaults)"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def find_stale_runs(output_root) -> list[Path]:
    """``.tmp-*`` folders left by batches that stopped before finishing."""
    stale = []
    for path in sorted(Path(output_root).glob(".tmp-*")):
        pid_file = path / ".pid"
        try:
            pid = int(pid_file.read_text())
        except (OSError, ValueError):
            pid = None
        if path.is_dir() and (pid is None or not _pid_alive(pid)):
            stale.append(path)
    return stale


def clean_stale_runs(output_root) -> list[Path]:
    """Remove the folders :func:`find_stale_runs` reports; returns them."""
    stale = find_stale_runs(output_root)
    for path in stale:
        shutil.rmtree(path, ignore_errors=True)
    return stale


def _new_run_id() -> str:
    import secrets
    from datetime import datetime, timezone

    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)


def _point_latest(root: Path, run_id: str) -> None:
    """Atomically make ``root/latest`` a relative symlink to ``run_id``.

    Where symlinks are not available, ``root/LATEST`` names the run instead.
    """
    tmp = root / f".latest-{run_id}"
    try:
        if tmp.is_symlink():
            tmp.unlink()
        os.symlink(run_id, tmp)
        os.replace(tmp, root / "latest")
    except OSError:
        (root / ".LATEST.tmp").write_text(run_id + "\n")
        os.replace(root / ".LATEST.tmp", root / "LATEST")


def _versions() -> dict:
    import platform
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for name in ("cxkit", "pandas", "numpy", "statsmodels", "duckdb", "papermill", "nbconvert"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def _prepare_cache(config: RunConfig, runs, cache_dir: Path) -> dict:
    from cxkit.cache import prepare_cache

    configs, panels = set(), set()
    for run in runs:
        if "config" in run.parameters:
            src = str(run.parameters["config"])
            configs.add(src)
            if "period" in run.defaults:  # the notebook works on a panel
                settings = {**run.defaults, **run.parameters}
                panels.add((src, str(settings["period"]), int(settings.get("horizon") or 1)))
    if not configs:
        return {}
    return prepare_cache(sorted(configs), panels=sorted(panels), cache_dir=cache_dir)


class _Progress:
    """tqdm bar on a terminal, else one plain line per finished run."""

    def __init__(self, total: int, mode: str):
        self.total, self.done = total, 0
        if mode == "auto":
            mode = "bar" if sys.stdout.isatty() else "log"
        self.mode, self.bar = mode, None
        if mode == "bar":
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="run")

    def update(self, run: dict) -> None:
        self.done += 1
        line = (f"[{self.done}/{self.total}] {run['status']} {run['notebook']} "
                f"{_label(run['label_parameters'])} {run['duration_seconds']:.1f} s")
        if self.bar is not None:
            self.bar.set_postfix_str(f"{run['status']} {run['notebook']}")
            self.bar.update(1)
        elif self.mode == "log":
            print(line, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _mp_context():
    """How worker processes start.

    "fork" when it is safe (Linux, a single thread, not inside a Jupyter
    kernel): workers inherit the imported papermill and nbconvert and start
    at once. Otherwise "spawn": a fresh interpreter per worker, which then
    imports cxkit and papermill itself (about 3 s once per worker).
    """
    import multiprocessing
    import threading

    if (sys.platform.startswith("linux") and threading.active_count() == 1
            and "ipykernel" not in sys.modules):
        import nbconvert  # noqa: F401  (imported once here, inherited by every worker)
        import papermill  # noqa: F401

        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def _execute_all(tasks: list[dict], runs, *, tmp: Path, jobs: int, progress: str) -> list[dict]:
    """Run the tasks in ``jobs`` processes; one manifest record per run, in order."""
    from concurrent.futures import ProcessPoolExecutor, as_completed

    records: list[dict] = [{}] * len(runs)
    context = _mp_context()
    bar = _Progress(len(runs), progress)
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        futures = {pool.submit(_execute_run, t): i for i, t in enumerate(tasks)}
        for fut in as_completed(futures):
            i, spec = futures[fut], runs[futures[fut]]
            try:
                outcome = fut.result()
            except Exception as exc:  # the worker process itself died
                outcome = {"status": "failed", "duration_seconds": 0.0, "cells_seconds": None,
                           "html": None, "error": {"cell_index": None, "exec_count": None,
                                                   "ename": type(exc).__name__,
                                                   "evalue": str(exc)}}
            folder = Path(tasks[i]["output_path"]).parent
            records[i] = {
                "run": f"{spec.notebook}/{spec.slug}", "notebook": spec.notebook,
                "parameters": spec.parameters, "label_parameters": spec.label,
                "notebook_path": str(Path(tasks[i]["output_path"]).relative_to(tmp)),
                "html": (str(Path(outcome["html"]).relative_to(tmp))
                         if outcome["html"] else None),
                "results": (str((folder / "results.json").relative_to(tmp))
                            if (folder / "results.json").exists() else None),
                **{k: outcome[k] for k in ("status", "duration_seconds", "cells_seconds",
                                            "error")}}
            bar.update(records[i])
    bar.close()
    return records


def run_batch(config, *, jobs: int | None = None, output_root=None,
              progress: str = "auto") -> BatchResult:
    """Run every notebook x parameter set of a run config; write a new run folder.

    Parameters
    ----------
    config : str, Path, mapping or RunConfig
        The run config (see the module docstring).
    jobs : int, optional
        Runs executed at once (one process and kernel each); default: the
        config's ``jobs``, else the number of cores.
    output_root : str or Path, optional
        Overrides the config's ``output_root``.
    progress : {"auto", "bar", "log", "off"}
        ``"auto"``: a progress bar on a terminal, else one line per run
        (``[3/12] ok 02_support_kpis segment=SMB 4.2 s``).

    Returns
    -------
    BatchResult
        ``status`` is ``"failed"`` when any run failed; failed runs keep
        their executed notebook with the error.

    Raises
    ------
    ConfigError, ParameterError
        Before anything runs or any folder is created.
    CxkitError
        Reading the source data or building a panel failed (before any
        notebook runs); an unexpected error there is a ``BatchError``
        chained to the original.
    """
    import json
    from datetime import datetime, timezone

    from cxkit.render import write_index
    from cxkit.report import collect_results

    cfg = config if isinstance(config, RunConfig) else read_run_config(config)
    runs = plan_runs(cfg)
    root = Path(output_root).resolve() if output_root else cfg.output_root
    root.mkdir(parents=True, exist_ok=True)
    stale = tuple(find_stale_runs(root))
    run_id = _new_run_id()
    tmp = root / f".tmp-{run_id}"
    tmp.mkdir()
    (tmp / ".pid").write_text(str(os.getpid()))
    started = datetime.now(timezone.utc)
    cache_dir = tmp / "_cache"
    try:
        fingerprints = _prepare_cache(cfg, runs, cache_dir) if cfg.cache else {}
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, CxkitError) or not isinstance(exc, Exception):
            raise
        from cxkit.exceptions import BatchError

        raise BatchError(
            f"reading the source {cfg.source!r} and building its panels once for the batch "
            f"failed with {type(exc).__name__}: {exc}; no notebook was run. Reproduce with "
            f"cxkit.cache.load_panel({cfg.source!r}, period=..., horizon=...) for the full "
            "traceback, or set 'cache: false' in the run config to let each notebook load "
            "its own data.") from exc
    tasks = [{"input_path": str(r.input_path), "parameters": r.parameters, "kernel": cfg.kernel,
              "output_path": str(tmp / r.notebook / r.slug / f"{r.notebook}.ipynb"),
              "timeout_seconds": cfg.timeout_seconds,
              "env": {"CXKIT_CACHE_DIR": str(cache_dir)} if cfg.cache else {}} for r in runs]
    n_jobs = max(1, min(jobs or cfg.jobs or _cores(), len(tasks)))
    records = _execute_all(tasks, runs, tmp=tmp, jobs=n_jobs, progress=progress)
    shutil.rmtree(cache_dir, ignore_errors=True)
    status = "ok" if all(r["status"] == "ok" for r in records) else "failed"
    distinct = set(fingerprints.values()) or {
        json.loads((tmp / r["results"]).read_text()).get("data_fingerprint")
        for r in records if r["results"]} - {None}
    manifest = {
        "run_id": run_id, "status": status,
        "started_at": started.isoformat(timespec="seconds"),
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "run_config": cfg.raw, "source": cfg.source, "kernel": cfg.kernel, "jobs": n_jobs,
        "data_fingerprint": distinct.pop() if len(distinct) == 1 else sorted(distinct) or None,
        "versions": _versions(), "latest_moves": status == "ok", "runs": records}
    collect_results(records, root=tmp).to_csv(tmp / "results.csv", index=False)
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str))
    write_index(tmp, manifest=manifest)
    (tmp / ".pid").unlink()
    final = root / run_id
    os.replace(tmp, final)  # the batch becomes visible only now, complete
    if status == "ok":
        _point_latest(root, run_id)
    return BatchResult(run_id, final, status, tuple(records), stale)


def run_batch_cli(runconfig_path_or_none=None, jobs: int | None = None) -> int:
    """``cxkit run [RUNCONFIG]``: run a batch, print a summary, return an exit status.

    Returns
    -------
    int
        0 when every run succeeded, 1 when any run failed, 2 when the run
        config or a parameter was refused (nothing ran) or the source data
        could not be read.
    """
    path = runconfig_path_or_none or default_run_config()
    try:
        result = run_batch(path, jobs=jobs)
    except CxkitError as exc:
        print(f"cxkit run: {exc}", file=sys.stderr)
        return 2
    print(result.summary(), file=sys.stderr if result.failed else sys.stdout)
    return 1 if result.failed else 0
