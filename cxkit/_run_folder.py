"""A batch's run folder: built aside, renamed into place when complete.

Each batch writes a new ``<output_root>/<run id>/`` (run id: UTC timestamp
and a random suffix). It is built as ``<output_root>/.tmp-<run id>/`` (with
a ``.pid`` file naming the batch's process) and renamed into place only when
complete, so a folder without the ``.tmp-`` prefix is always a finished
batch. ``<output_root>/latest`` is a relative symlink to the newest batch in
which every run succeeded (``LATEST``, a text file, where symlinks are not
available).

The batch's cache of validated data and panels is ``.tmp-<run id>/_cache``,
private to the user (mode 0700). A batch that stops (failure, SIGTERM,
Ctrl-C) removes its temporary folder; one killed outright (SIGKILL, power
loss) leaves it, and the next batch deletes that folder's cache at once and
reports the folder (:func:`find_stale_runs`; :func:`clean_stale_runs`
removes it).

Every operating-system failure here (read-only or forbidden folder, full
disk) is raised as a one-line :class:`~cxkit.exceptions.ResourceError`
naming the path.
"""

from __future__ import annotations

import os
import shutil
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cxkit.exceptions import CxkitError, ResourceError

__all__ = ["RunFolder", "open_run_folder", "find_stale_runs", "clean_stale_runs"]

_CACHE = "_cache"
_UNTOUCHED = "the previous report is untouched"


@contextmanager
def writing(path, doing: str, fix: str = ""):
    """Turn an ``OSError`` raised meanwhile into a one-line ``ResourceError``."""
    try:
        yield
    except CxkitError:  # already says what happened (SourceError is an OSError too)
        raise
    except OSError as exc:
        raise ResourceError.from_os_error(exc, path=path, doing=doing, fix=fix) from exc


@dataclass(frozen=True)
class RunFolder:
    """Where one batch writes: ``root/.tmp-<run_id>`` until :meth:`publish`."""

    root: Path
    run_id: str

    @property
    def tmp(self) -> Path:
        """The folder being built."""
        return self.root / f".tmp-{self.run_id}"

    @property
    def final(self) -> Path:
        """The folder once published."""
        return self.root / self.run_id

    @property
    def cache_dir(self) -> Path:
        """The batch's private cache folder (inside :attr:`tmp`)."""
        return self.tmp / _CACHE

    def make_cache_dir(self) -> Path:
        """Create :attr:`cache_dir` with mode 0700 (data readable by this user only)."""
        with writing(self.cache_dir, "create the batch cache", f"{_UNTOUCHED}; "
                     "free space or choose another output_root"):
            self.cache_dir.mkdir(mode=0o700)
            os.chmod(self.cache_dir, 0o700)  # whatever the umask
        return self.cache_dir

    def drop_cache(self) -> None:
        """Delete the cache (the data in it are not needed once the runs end)."""
        shutil.rmtree(self.cache_dir, ignore_errors=True)

    def discard(self) -> None:
        """Remove the temporary folder: the batch leaves nothing behind."""
        shutil.rmtree(self.tmp, ignore_errors=True)

    def publish(self, *, move_latest: bool) -> Path:
        """Rename the complete folder into place; point ``latest`` at it if asked."""
        self.drop_cache()
        with writing(self.final, "publish the run folder", _UNTOUCHED):
            try:
                (self.tmp / ".pid").unlink(missing_ok=True)
                os.replace(self.tmp, self.final)  # the batch becomes visible only now
            except OSError:
                self.discard()
                raise
        if move_latest:
            with writing(self.root / "latest", "point 'latest' at the new run",
                         f"the new run is complete in {self.final}"):
                _point_latest(self.root, self.run_id)
        return self.final


def _new_run_id() -> str:
    import secrets
    from datetime import datetime, timezone

    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)


def open_run_folder(root) -> RunFolder:
    """Create ``root`` if needed and a new ``root/.tmp-<run id>/`` for one batch.

    Raises
    ------
    ResourceError
        ``root`` cannot be created or written (read-only, forbidden, full).
    """
    root = Path(root)
    fix = (f"{_UNTOUCHED}; set output_root in the run config to a writable folder, "
           "or fix this one")
    with writing(root, "create the output folder", fix):
        root.mkdir(parents=True, exist_ok=True)
    folder = RunFolder(root, _new_run_id())
    with writing(root, "create a run folder in the output folder", fix):
        try:
            folder.tmp.mkdir()
            (folder.tmp / ".pid").write_text(str(os.getpid()))
        except OSError:
            folder.discard()
            raise
    return folder


def _point_latest(root: Path, run_id: str) -> None:
    """Atomically make ``root/latest`` a relative symlink to ``run_id``."""
    tmp = root / f".latest-{run_id}"
    try:
        if tmp.is_symlink():
            tmp.unlink()
        os.symlink(run_id, tmp)
        os.replace(tmp, root / "latest")
    except OSError:
        if tmp.is_symlink():
            tmp.unlink()
        (root / ".LATEST.tmp").write_text(run_id + "\n")
        os.replace(root / ".LATEST.tmp", root / "LATEST")


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
        try:
            pid = int((path / ".pid").read_text())
        except (OSError, ValueError):
            pid = None
        if path.is_dir() and (pid is None or not _pid_alive(pid)):
            stale.append(path)
    return stale


def drop_stale_caches(output_root) -> list[Path]:
    """Delete the caches of dead batches' folders; returns those folders."""
    stale = find_stale_runs(output_root)
    for path in stale:
        shutil.rmtree(path / _CACHE, ignore_errors=True)
    return stale


def clean_stale_runs(output_root) -> list[Path]:
    """Remove the folders :func:`find_stale_runs` reports; returns them."""
    stale = find_stale_runs(output_root)
    for path in stale:
        shutil.rmtree(path, ignore_errors=True)
    return stale
