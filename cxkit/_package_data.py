"""Where the package data lives: notebooks, the default run config, the sample, presets.

In the repository the notebooks are edited in ``notebooks/`` and the sample in
``data/sample/``; the build ships them inside the package as ``cxkit.notebooks``
and ``cxkit.sample`` (``pyproject.toml`` maps the folders), so the same
:mod:`importlib.resources` lookups work in a wheel and in an editable install.
Nothing here depends on the repository layout.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

__all__ = ["notebooks_dir", "notebook_paths", "sample_dir", "default_run_config",
           "presets_dir"]


def _folder(package: str) -> Path:
    # installed packages live on disk (papermill needs real paths); a zipped install is refused
    path = Path(str(files(package)))
    if not path.is_dir():
        raise FileNotFoundError(f"package data {package!r} is not a folder on disk ({path}); "
                                "install cxkit unzipped (pip installs it so by default).")
    return path


def notebooks_dir() -> Path:
    """Folder of the packaged report notebooks (``NN_topic.ipynb``)."""
    return _folder("cxkit.notebooks")


def notebook_paths() -> list[Path]:
    """The packaged report notebooks, in their numbered order."""
    return sorted(notebooks_dir().glob("[0-9][0-9]_*.ipynb"))


def sample_dir() -> Path:
    """Folder of the bundled synthetic sample (CSV files, ``cxkit.yaml``, ``truth.json``)."""
    return _folder("cxkit.sample")


def default_run_config() -> Path:
    """The packaged default batch of ``cxkit run`` (all notebooks on the sample)."""
    return _folder("cxkit") / "reports.yaml"


def presets_dir() -> Path:
    """Folder of the export presets (``<name>.yaml``)."""
    return _folder("cxkit.presets")
