"""Running one notebook of a batch: papermill, its deadline, its stderr, its HTML.

:func:`execute_notebook` is what a batch worker does for one run: execute the
notebook with papermill (one kernel, Unix-socket transport, a deadline), send
the kernel's stderr to the run's ``kernel.log``, stamp the notebook name and
its parameters into ``results.json``, render the HTML without code and hand
back a :class:`RunOutcome`. It never raises: a failure is a
:class:`RunFailure` carrying papermill's cell index, error name and message.

On Linux every kernel is started with ``PR_SET_PDEATHSIG``: when the worker
that started it dies (killed with its batch), the kernel is killed too.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

__all__ = ["RunFailure", "RunOutcome", "RunTask", "execute_notebook", "die_with_parent"]


@dataclass(frozen=True)
class RunFailure:
    """Why a run failed: papermill's cell, error name and message.

    ``cell_index`` (0-based, counting markdown cells and the injected
    parameters cell) and ``exec_count`` (the ``In [n]`` number) are ``None``
    when the run failed outside a cell (timeout, dead kernel, rendering).
    """

    ename: str
    evalue: str
    cell_index: int | None = None
    exec_count: int | None = None

    @classmethod
    def from_exception(cls, exc: BaseException, *, prefix: str = "") -> RunFailure:
        """A failure from papermill's ``PapermillExecutionError`` or any exception."""
        cell = getattr(exc, "cell_index", None)
        if cell is not None and hasattr(exc, "ename"):
            return cls(exc.ename, str(exc.evalue), cell, exc.exec_count)
        return cls(type(exc).__name__, f"{prefix}{exc}"[:2000])

    def describe(self) -> str:
        """One line: where the run failed and with what."""
        where = (f"cell {self.cell_index} (In [{self.exec_count}])"
                 if self.cell_index is not None else "run")
        return f"{where} raised {self.ename}: {self.evalue[:300]}"

    def to_dict(self) -> dict:
        """JSON-safe dict (``cell_index, exec_count, ename, evalue``) for the manifest."""
        return asdict(self)


@dataclass(frozen=True)
class RunTask:
    """What a worker needs to execute one run (picklable)."""

    input_path: str
    output_path: str
    parameters: dict
    notebook: str
    settings: dict  # every parameter value the run uses: declared defaults + overrides
    kernel: str = "python3"
    timeout_seconds: float | None = None
    env: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class RunOutcome:
    """What executing one run produced; paths are absolute."""

    failure: RunFailure | None
    duration_seconds: float
    cells_seconds: float | None
    html: Path | None
    results: Path | None


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


def _pdeathsig_setter():
    """A function that sets ``PR_SET_PDEATHSIG`` to SIGKILL, or ``None`` off Linux.

    The C function is looked up here, in the parent, so that the returned
    function is safe to call between ``fork`` and ``exec``.
    """
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    prctl = ctypes.CDLL(None, use_errno=True).prctl
    pr_set_pdeathsig, sigkill = 1, int(signal.SIGKILL)

    def set_pdeathsig(parent: int | None = None) -> None:
        prctl(pr_set_pdeathsig, sigkill, 0, 0, 0)
        if parent is not None and os.getppid() != parent:  # the parent died first
            os.kill(os.getpid(), sigkill)

    return set_pdeathsig


def die_with_parent(parent: int | None = None) -> None:
    """On Linux, have this process killed (SIGKILL) when its parent dies.

    Used by batch workers and, through :func:`_kernel_manager_class`, by
    every kernel a worker starts, so killing a batch (even with SIGKILL)
    leaves no process of it behind. Elsewhere a no-op.

    Parameters
    ----------
    parent : int, optional
        The expected parent pid: if it is already gone, die at once.
    """
    setter = _pdeathsig_setter()
    if setter is not None:
        setter(parent)


def _kernel_manager_class():
    """The kernel manager: Unix sockets, and kernels that die with their worker.

    With TCP, kernels started at the same moment by parallel workers can pick
    the same free port ("Address already in use"); IPC socket paths are
    unique per kernel.
    """
    from jupyter_client.manager import AsyncKernelManager

    setter = _pdeathsig_setter()

    class BatchKernelManager(AsyncKernelManager):
        async def _async_launch_kernel(self, kernel_cmd, **kw):
            if setter is not None:
                worker = os.getpid()
                kw["preexec_fn"] = lambda: setter(worker)
            return await super()._async_launch_kernel(kernel_cmd, **kw)

    return BatchKernelManager


def _kernel_config():
    from traitlets.config import Config

    return Config({"KernelManager": {"transport": "ipc"}}) if os.name == "posix" else Config()


def _cell_seconds(nb_path: Path) -> float | None:
    import nbformat

    try:
        nb = nbformat.read(nb_path, as_version=4)
    except (OSError, ValueError):
        return None
    durations = [c.get("metadata", {}).get("papermill", {}).get("duration") for c in nb.cells]
    return float(sum(d for d in durations if d))


def execute_notebook(task: RunTask) -> RunOutcome:
    """Execute one run with papermill and render it; never raises.

    Parameters
    ----------
    task : RunTask
        The notebook, where its executed copy goes, its parameters.

    Returns
    -------
    RunOutcome
        ``failure`` is ``None`` when every cell ran; otherwise the executed
        notebook (if written) keeps the error.
    """
    import logging

    import papermill as pm

    from cxkit.render import render_html
    from cxkit.report import stamp_results

    # papermill re-reads the parameters cell with a line regex and would warn about
    # parameters it cannot parse; they were checked by plan_runs already
    logging.getLogger("papermill").setLevel(logging.ERROR)
    os.environ.update(dict(task.env))
    out = Path(task.output_path)
    failure = None
    start = time.perf_counter()
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with _deadline(task.timeout_seconds), _stderr_to(out.parent / "kernel.log"):
            pm.execute_notebook(task.input_path, str(out), parameters=task.parameters,
                                kernel_name=task.kernel, progress_bar=False,
                                cwd=str(out.parent), execution_timeout=task.timeout_seconds,
                                config=_kernel_config(),
                                kernel_manager_class=_kernel_manager_class(),
                                shutdown_kernel="immediate")
    except Exception as exc:  # a cell's error, timeout, dead kernel, full disk...
        failure = RunFailure.from_exception(exc)
    duration = time.perf_counter() - start
    results = out.parent / "results.json"
    html = None
    try:
        if results.exists():
            stamp_results(results, notebook=task.notebook, parameters=task.settings)
        if out.exists():
            html = render_html(out)
    except Exception as exc:  # a run's bookkeeping problem must not sink the batch
        failure = failure or RunFailure.from_exception(exc, prefix="after the run: ")
    return RunOutcome(failure, round(duration, 3), _cell_seconds(out), html,
                      results if results.exists() else None)
