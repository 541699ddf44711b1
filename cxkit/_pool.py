"""The worker processes of a batch: how they start, how they stop, progress.

:func:`execute_all` runs a batch's :class:`~cxkit._notebook_run.RunTask`\\ s in
parallel worker processes (``concurrent.futures``), one kernel each. Workers
fork where safe, die with the batch (``PR_SET_PDEATHSIG`` on Linux) and leave
Ctrl-C to it; on any interruption the batch kills them at once, and their
kernels die with them. :func:`stop_on_signals` makes SIGTERM and SIGHUP unwind
a batch the way Ctrl-C does, so it can clean up.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from contextlib import contextmanager

from cxkit._notebook_run import RunFailure, RunOutcome, RunTask, die_with_parent, execute_notebook

__all__ = ["Progress", "cores", "execute_all", "stop_on_signals"]


class Progress:
    """tqdm bar on a terminal, else one plain line per finished run."""

    def __init__(self, total: int, mode: str):
        self.total, self.done = total, 0
        if mode == "auto":
            mode = "bar" if sys.stdout.isatty() else "log"
        self.mode, self.bar = mode, None
        if mode == "bar":
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="run")

    def update(self, status: str, notebook: str, label: str, seconds: float) -> None:
        """One run finished."""
        self.done += 1
        if self.bar is not None:
            self.bar.set_postfix_str(f"{status} {notebook}")
            self.bar.update(1)
        elif self.mode == "log":
            print(f"[{self.done}/{self.total}] {status} {notebook} {label} {seconds:.1f} s",
                  flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def cores() -> int:
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
def stop_on_signals():
    """SIGTERM and SIGHUP raise ``SystemExit(128 + signal)`` meanwhile (main thread only)."""
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


def execute_all(tasks: Sequence[RunTask], *, jobs: int,
                on_done: Callable[[int, RunOutcome], None]) -> None:
    """Execute the tasks in ``jobs`` worker processes; ``on_done(i, outcome)`` as each ends.

    On any interruption (Ctrl-C, SIGTERM, an error in ``on_done``) the
    workers are killed at once, and with them their kernels.
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    before = {p.pid for p in multiprocessing.active_children()}
    pool = ProcessPoolExecutor(max_workers=jobs, mp_context=_mp_context(),
                               initializer=_init_worker, initargs=(os.getpid(),))
    try:
        futures = {pool.submit(execute_notebook, t): i for i, t in enumerate(tasks)}
        for fut in as_completed(futures):
            try:
                outcome = fut.result()
            except Exception as exc:  # the worker process itself died
                outcome = RunOutcome(RunFailure.from_exception(exc), 0.0, None, None, None)
            on_done(futures[fut], outcome)
    except BaseException:
        for proc in multiprocessing.active_children():
            if proc.pid not in before:
                proc.kill()  # its kernel dies with it (die_with_parent)
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
