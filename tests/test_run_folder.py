"""Operating-system failures of a batch: one-line errors, the previous report intact.

The read-only and full-disk cases use a real small file system (a 4 MB tmpfs,
which needs root to mount; skipped otherwise); the permission case simulates
the refusal, since root may write anywhere.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

import cxkit.batch
from cxkit.cli import main

NB = Path(__file__).parent / "fixtures" / "notebooks"
HELPDESK = Path(__file__).parent / "fixtures" / "helpdesk"


@pytest.fixture
def small_disk(tmp_path):
    """A 4 MB file system of its own."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    if (os.geteuid() != 0 or not shutil.which("mount")
            or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mnt)],
                              capture_output=True).returncode):
        pytest.skip("mounting a small tmpfs needs root")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=True)


def _fill(disk: Path) -> None:
    """Write zeros until the disk is full."""
    fd = os.open(disk / "filler", os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(fd, b"\0" * 65536)
    except OSError as exc:
        assert exc.errno == errno.ENOSPC
    finally:
        os.close(fd)


def _remount_read_only(disk: Path) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)


def _previous_report(root: Path, tmp_path: Path) -> tuple[Path, str]:
    """A run config for one quick run into ``root``, and an earlier report there."""
    cfg = tmp_path / "rc.yaml"
    cfg.write_text(json.dumps({"notebooks": [str(NB / "quick.ipynb")], "jobs": 1,
                               "output_root": str(root), "cache": False}))
    first = "20260101T060000Z-0a1b2c"
    (root / first).mkdir(parents=True)
    (root / first / "index.html").write_text("<p>last week's report</p>")
    os.symlink(first, root / "latest")
    return cfg, first


def _assert_one_line_and_intact(err: str, root: Path, first: str, *words: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: could not"), err
    assert "Traceback" not in err and str(root) in lines[0]
    for word in words:
        assert word in lines[0]
    assert os.readlink(root / "latest") == first and (root / first / "index.html").is_file()
    assert not list(root.glob(".tmp-*"))


@pytest.mark.parametrize(("break_disk", "words"), [
    (_fill, ("the disk is full", "previous report is untouched")),
    (_remount_read_only, ("the file system is read-only", "output_root")),
], ids=["disk full at the start", "read-only output root"])
def test_unwritable_output_root(small_disk, tmp_path, capsys, break_disk, words):
    root = small_disk / "reports"
    cfg, first = _previous_report(root, tmp_path)
    break_disk(small_disk)
    capsys.readouterr()
    assert main(["run", str(cfg)]) == 3
    _assert_one_line_and_intact(capsys.readouterr().err, root, first, *words)


def test_disk_full_midway(small_disk, tmp_path, capsys, monkeypatch):
    root = small_disk / "reports"
    cfg, first = _previous_report(root, tmp_path)
    write_outputs = cxkit.batch._write_outputs

    def fill_then_write(*args, **kwargs):  # the runs are done; the disk fills up now
        _fill(small_disk)
        return write_outputs(*args, **kwargs)

    monkeypatch.setattr(cxkit.batch, "_write_outputs", fill_then_write)
    capsys.readouterr()
    assert main(["run", str(cfg)]) == 3
    _assert_one_line_and_intact(capsys.readouterr().err, root, first, "the disk is full",
                                "write the batch's results")


def test_permission_denied_on_the_output_root_and_debug_traceback(tmp_path, capsys,
                                                                  monkeypatch):
    root = tmp_path / "reports"
    cfg, first = _previous_report(root, tmp_path)
    mkdir = Path.mkdir

    def refuse(self, *args, **kwargs):  # what a folder without write permission answers
        if self.parent == root:
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", refuse)
    capsys.readouterr()
    assert main(["run", str(cfg)]) == 3
    _assert_one_line_and_intact(capsys.readouterr().err, root, first, "permission denied")
    assert main(["--debug", "run", str(cfg)]) == 3
    err = capsys.readouterr().err
    assert "Traceback" in err and "PermissionError" in err
    assert err.strip().splitlines()[-1].startswith("error: could not create a run folder")


def test_read_only_quarantine_folder(small_disk, tmp_path, capsys):
    export = tmp_path / "export"
    shutil.copytree(HELPDESK, export)
    with open(export / "tickets.csv", "a") as fh:  # resolved before it was created
        fh.write("105,00019,07/01/2024 10:00,07/01/2024 08:00,07/01/2024 10:05,0,Good,"
                 "chat,Tier 1\n")
    _remount_read_only(small_disk)
    args = ["validate", str(export / "cxkit.yaml"), "--quarantine-dir", str(small_disk / "q")]
    assert main(args) == 3
    err = capsys.readouterr().err.strip()
    assert err.splitlines() == [err] and "Traceback" not in err
    assert str(small_disk / "q") in err and "read-only" in err and "--quarantine-dir" in err
