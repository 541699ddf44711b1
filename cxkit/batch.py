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
kernels (:mod:`cxkit._pool`) and remove its temporary folder and cache; on
Linux the workers and kernels also die with their parent, so a batch killed
with SIGKILL leaves no process behind (only its ``.tmp-*`` folder, whose
cache the next batch deletes).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from cxkit._notebook_run import RunFailure, RunOutcome, RunTask
from cxkit._pool import Progress, cores, execute_all, stop_on_signals
from cxkit._run_folder import (
    RunFolder,
    clean_stale_runs,
    drop_stale_caches,
    find_stale_runs,
    open_run_folder,
    writing,
)
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


def _record(spec: RunSpec, task: RunTask, outcome: RunOutcome, tmp: Path) -> RunRecord:
    def rel(path):
        return str(Path(path).relative_to(tmp)) if path else None

    return RunRecord(
        run=f"{spec.notebook}/{spec.slug}", notebook=spec.notebook, parameters=spec.parameters,
        label_parameters=spec.label, status="failed" if outcome.failure else "ok",
        notebook_path=rel(task.output_path), html=rel(outcome.html), results=rel(outcome.results),
        duration_seconds=outcome.duration_seconds, cells_seconds=outcome.cells_seconds,
        error=outcome.failure)


def _execute(tasks: list[RunTask], runs, *, tmp: Path, jobs: int,
             progress: str) -> list[RunRecord]:
    """Execute the runs in parallel; one record per run, in order."""
    records: list[RunRecord | None] = [None] * len(runs)
    bar = Progress(len(runs), progress)

    def done(i: int, outcome: RunOutcome) -> None:
        records[i] = record = _record(runs[i], tasks[i], outcome, tmp)
        bar.update(record.status, record.notebook, _label(record.label_parameters),
                   record.duration_seconds)

    try:
        execute_all(tasks, jobs=jobs, on_done=done)
    finally:
        bar.close()
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
        with stop_on_signals():
            fingerprints = _shared_data(cfg, runs, folder) if cfg.cache else {}
            env = ((("CXKIT_CACHE_DIR", str(folder.cache_dir)),) if cfg.cache else ())
            tasks = [RunTask(str(r.input_path), str(folder.tmp / r.notebook / r.slug
                                                    / f"{r.notebook}.ipynb"),
                             r.parameters, r.notebook, {**r.defaults, **r.parameters},
                             cfg.kernel, cfg.timeout_seconds, env) for r in runs]
            n_jobs = max(1, min(jobs or cfg.jobs or cores(), len(tasks)))
            records = _execute(tasks, runs, tmp=folder.tmp, jobs=n_jobs, progress=progress)
            folder.drop_cache()
            status = _write_outputs(cfg, records, folder=folder, started=started,
                                    fingerprints=fingerprints, jobs=n_jobs)
            final = folder.publish(move_latest=status == "ok")
    except BaseException:
        folder.discard()
        raise
    _update_history(root)
    return BatchResult(folder.run_id, final, status, tuple(records), stale)
