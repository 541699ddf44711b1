"""Batches of parameterised notebook runs: ``cxkit run RUNCONFIG``.

A run config (YAML, :mod:`cxkit.runconfig`) names a data source, notebooks
and a grid of parameter sets. :func:`run_batch` checks every parameter
against each notebook's ``parameters`` cell before anything runs, reads the
data and builds the panels once (:mod:`cxkit.cache`), executes the runs in
parallel worker processes (one kernel each; :mod:`cxkit._notebook_run`) and
writes ``results.csv``, ``manifest.json`` and ``index.html``
(:mod:`cxkit.render`) into a run folder that appears only when complete
(:mod:`cxkit._run_folder`). A batch in which some runs failed is still a
complete folder, with status ``"failed"``; ``<output_root>/latest`` moves
only to a batch in which every run succeeded.

Stopping a batch: SIGTERM, SIGHUP or Ctrl-C kill its workers and their
kernels and remove its temporary folder and cache; on Linux the workers and
kernels also die with their parent, so a batch killed with SIGKILL leaves
no process behind (only its ``.tmp-*`` folder, whose cache the next batch
deletes).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cxkit._notebook_run import RunFailure, RunOutcome, RunTask, die_with_parent, execute_notebook
from cxkit._run_folder import (RunFolder, clean_stale_runs, drop_stale_caches, find_stale_runs,
                               open_run_folder, writing)
from cxkit.exceptions import CxkitError
from cxkit.runconfig import RunConfig, RunSpec, plan_runs, read_run_config

__all__ = ["BatchResult", "RunRecord", "RunFailure", "run_batch", "find_stale_runs",
           "clean_stale_runs"]


@dataclass(frozen=True)
class RunRecord:
    """One run of a batch as the manifest records it; paths relative to the run folder."""

    run: str  # "<notebook>/<slug>"
    notebook: str
    parameters: dict  # the values passed to papermill
    label_parameters: dict  # the ones that vary across the batch
    status: str  # "ok" or "failed"
    notebook_path: str
    html: str | None
    results: str | None
    duration_seconds: float
    cells_seconds: float | None
    error: RunFailure | None = None

    def to_dict(self) -> dict:
        """The manifest's record of this run (``error`` as a dict or ``None``)."""
        out = {name: getattr(self, name) for name in self.__dataclass_fields__}
        out["error"] = self.error.to_dict() if self.error else None
        return out


def _label(params: dict) -> str:
    return " ".join(f"{k}={v}" for k, v in params.items()) or "(defaults)"


@dataclass(frozen=True)
class BatchResult:
    """What a batch did: its run folder, status and one record per run."""

    run_id: str
    run_dir: Path
    status: str  # "ok" or "failed"
    runs: tuple[RunRecord, ...]
    stale: tuple[Path, ...] = ()

    @property
    def failed(self) -> tuple[RunRecord, ...]:
        """The records of the runs that failed."""
        return tuple(r for r in self.runs if r.status != "ok")

    def summary(self) -> str:
        """Plain-text summary: counts, then one paragraph per failed run."""
        lines = [f"{len(self.runs) - len(self.failed)}/{len(self.runs)} runs ok; "
                 f"report: {self.run_dir / 'index.html'}"]
        for r in self.failed:
            why = r.error.describe() if r.error else "run failed"
            lines.append(f"FAILED {r.notebook} {_label(r.label_parameters)}: {why}\n"
                         f"  notebook with the error: {self.run_dir / r.notebook_path}")
        for path in self.stale:
            lines.append(f"note: incomplete folder from an interrupted batch: {path} "
                         "(its cached data were deleted; remove it with "
                         "cxkit.batch.clean_stale_runs)")
        return "\n".join(lines)

    def raise_if_failed(self) -> None:
        """Raise :class:`~cxkit.exceptions.BatchError` when any run failed."""
        from cxkit.exceptions import BatchError

        if self.failed:
            raise BatchError(self.summary())


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

    def update(self, run: RunRecord) -> None:
        self.done += 1
        if self.bar is not None:
            self.bar.set_postfix_str(f"{run.status} {run.notebook}")
            self.bar.update(1)
        elif self.mode == "log":
            print(f"[{self.done}/{self.total}] {run.status} {run.notebook} "
                  f"{_label(run.label_parameters)} {run.duration_seconds:.1f} s", flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _cores() -> int:
    """Cores this process may use (respects CPU affinity where the OS has it)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:
        return os.cpu_count() or 1


def _mp_context():
    """How worker processes start.

    "fork" when it is safe (Linux, a single thread, not inside a Jupyter
    kernel): workers inherit the imported papermill and nbconvert and start
    at once. Otherwise "spawn": a fresh interpreter per worker, which then
    imports cxkit and papermill itself (about 3 s once per worker).
    """
    import multiprocessing

    if (sys.platform.startswith("linux") and threading.active_count() == 1
            and "ipykernel" not in sys.modules):
        import nbconvert  # noqa: F401  (imported once here, inherited by every worker)
        import papermill  # noqa: F401

        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def _init_worker(batch_pid: int) -> None:
    """A worker dies with its batch and leaves signals to it."""
    die_with_parent(batch_pid)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the batch, which stops us


def _terminate(signum, frame):
    print(f"cxkit run: stopped by {signal.Signals(signum).name}; stopping the workers "
          "and removing the unfinished run folder", file=sys.stderr, flush=True)
    raise SystemExit(128 + signum)


@contextmanager
def _stop_on_signals():
    """SIGTERM and SIGHUP unwind the batch (cleanly) like Ctrl-C does."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    sigs = [s for s in (signal.SIGTERM, getattr(signal, "SIGHUP", None)) if s is not None]
    saved = {s: signal.signal(s, _terminate) for s in sigs}
    try:
        yield
    finally:
        for s, handler in saved.items():
            signal.signal(s, handler)


def _record(spec: RunSpec, task: RunTask, outcome: RunOutcome, tmp: Path) -> RunRecord:
    def rel(path):
        return str(Path(path).relative_to(tmp)) if path else None

    return RunRecord(
        run=f"{spec.notebook}/{spec.slug}", notebook=spec.notebook, parameters=spec.parameters,
        label_parameters=spec.label, status="failed" if outcome.failure else "ok",
        notebook_path=rel(task.output_path), html=rel(outcome.html), results=rel(outcome.results),
        duration_seconds=outcome.duration_seconds, cells_seconds=outcome.cells_seconds,
        error=outcome.failure)


def _execute_all(tasks: list[RunTask], runs, *, tmp: Path, jobs: int,
                 progress: str) -> list[RunRecord]:
    """Run the tasks in ``jobs`` worker processes; one record per run, in order.

    On any interruption (Ctrl-C, SIGTERM, an error here) the workers are
    killed at once, and with them their kernels.
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    records: list[RunRecord | None] = [None] * len(runs)
    before = {p.pid for p in multiprocessing.active_children()}
    bar = _Progress(len(runs), progress)
    pool = ProcessPoolExecutor(max_workers=jobs, mp_context=_mp_context(),
                               initializer=_init_worker, initargs=(os.getpid(),))
    try:
        futures = {pool.submit(execute_notebook, t): i for i, t in enumerate(tasks)}
        for fut in as_completed(futures):
            i = futures[fut]
            try:
                outcome = fut.result()
            except Exception as exc:  # the worker process itself died
                outcome = RunOutcome(RunFailure.from_exception(exc), 0.0, None, None, None)
            records[i] = _record(runs[i], tasks[i], outcome, tmp)
            bar.update(records[i])
    except BaseException:
        for proc in multiprocessing.active_children():
            if proc.pid not in before:
                proc.kill()  # its kernel dies with it (die_with_parent)
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    finally:
        bar.close()
    pool.shutdown()
    return records


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


def _shared_data(cfg: RunConfig, runs, folder: RunFolder) -> dict:
    """Read the source and build its panels once; data fingerprint per config."""
    try:
        return _prepare_cache(cfg, runs, folder.make_cache_dir())
    except CxkitError:
        raise
    except Exception as exc:
        from cxkit.exceptions import BatchError

        raise BatchError(
            f"reading the source {cfg.source!r} and building its panels once for the batch "
            f"failed with {type(exc).__name__}: {exc}; no notebook was run. Reproduce with "
            f"cxkit.cache.load_panel({cfg.source!r}, period=..., horizon=...) for the full "
            "traceback, or set 'cache: false' in the run config to let each notebook load "
            "its own data.") from exc


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


def _write_outputs(cfg: RunConfig, records: list[RunRecord], *, folder: RunFolder, started,
                   fingerprints: dict, jobs: int) -> str:
    """``results.csv``, ``manifest.json`` and ``index.html``; returns the batch status."""
    import json
    from datetime import datetime, timezone

    from cxkit.render import write_index
    from cxkit.report import collect_results, read_results, write_results_csv

    tmp = folder.tmp
    status = "ok" if all(r.status == "ok" for r in records) else "failed"
    distinct = set(fingerprints.values()) or {
        read_results(tmp / r.results).get("data_fingerprint")
        for r in records if r.results} - {None}
    runs = [r.to_dict() for r in records]
    manifest = {
        "run_id": folder.run_id, "status": status,
        "started_at": started.isoformat(timespec="seconds"),
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "run_config": cfg.raw, "source": cfg.source, "kernel": cfg.kernel, "jobs": jobs,
        "data_fingerprint": distinct.pop() if len(distinct) == 1 else sorted(distinct) or None,
        "versions": _versions(), "latest_moves": status == "ok", "runs": runs}
    with writing(tmp, "write the batch's results", "the previous report is untouched; "
                 "free space or choose another output_root, then run again"):
        write_results_csv(collect_results(runs, root=tmp), tmp / "results.csv")
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str))
        write_index(tmp, manifest=manifest)
    return status


def _update_history(root: Path) -> None:
    """Rewrite ``<output_root>/history.html``; a failure there does not undo the batch."""
    from cxkit.history import write_history

    try:
        write_history(root)
    except Exception as exc:  # the batch folder is complete; say so and go on
        print(f"cxkit run: the history page {Path(root) / 'history.html'} was not updated: "
              f"{type(exc).__name__}: {exc}", file=sys.stderr)


def run_batch(config, *, jobs: int | None = None, output_root=None,
              progress: str = "auto") -> BatchResult:
    """Run every notebook x parameter set of a run config; write a new run folder.

    Parameters
    ----------
    config : str, Path, mapping or RunConfig
        The run config (see :mod:`cxkit.runconfig`).
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
    ResourceError
        The output folder cannot be written (read-only, forbidden, disk
        full); the unfinished run folder is removed, earlier reports and
        ``latest`` are untouched.
    CxkitError
        Reading the source data or building a panel failed (before any
        notebook runs); an unexpected error there is a ``BatchError``
        chained to the original.
    """
    from datetime import datetime, timezone

    cfg = config if isinstance(config, RunConfig) else read_run_config(config)
    runs = plan_runs(cfg)
    root = Path(output_root).resolve() if output_root else cfg.output_root
    folder = open_run_folder(root)
    stale = tuple(p for p in drop_stale_caches(root) if p != folder.tmp)
    started = datetime.now(timezone.utc)
    try:
        with _stop_on_signals():
            fingerprints = _shared_data(cfg, runs, folder) if cfg.cache else {}
            env = ((("CXKIT_CACHE_DIR", str(folder.cache_dir)),) if cfg.cache else ())
            tasks = [RunTask(str(r.input_path), str(folder.tmp / r.notebook / r.slug
                                                    / f"{r.notebook}.ipynb"),
                             r.parameters, r.notebook, {**r.defaults, **r.parameters},
                             cfg.kernel, cfg.timeout_seconds, env) for r in runs]
            n_jobs = max(1, min(jobs or cfg.jobs or _cores(), len(tasks)))
            records = _execute_all(tasks, runs, tmp=folder.tmp, jobs=n_jobs, progress=progress)
            folder.drop_cache()
            status = _write_outputs(cfg, records, folder=folder, started=started,
                                    fingerprints=fingerprints, jobs=n_jobs)
            final = folder.publish(move_latest=status == "ok")
    except BaseException:
        folder.discard()
        raise
    _update_history(root)
    return BatchResult(folder.run_id, final, status, tuple(records), stale)
