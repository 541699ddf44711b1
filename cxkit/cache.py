"""Heavy shared work done once per batch: the validated data and the panels.

Before a batch starts its runs, :func:`prepare_cache` reads and validates the
source data once and builds each customer x period panel the runs need,
pickling them into a cache folder; the batch then points the environment
variable ``CXKIT_CACHE_DIR`` at that folder for every kernel. In a notebook,
:func:`load_data` and :func:`load_panel` return the cached object when the
folder has it and compute it otherwise, so the same notebook works in a batch
and interactively in JupyterLab.

Keys: the data of a source config is keyed by the config string (``"sample"``
or an absolute path); a panel by the data fingerprint, ``period`` and
``horizon``. The fingerprint is computed once, at batch start, and travels
inside the pickled data, so a kernel finds its panel without rehashing the
data. The cache lives inside the batch's temporary run folder, readable by
its user only (folder 0700, files 0600), and is removed when the batch
finishes (or, for a batch that was killed, by the next batch), so it can
never serve stale data to a later batch.
"""

from __future__ import annotations

import hashlib
import os
import pickle
from collections.abc import Iterable
from pathlib import Path

__all__ = ["CACHE_ENV", "prepare_cache", "load_data", "load_panel"]

#: Environment variable naming the cache folder a kernel reads from.
CACHE_ENV = "CXKIT_CACHE_DIR"


def _key(*parts) -> str:
    return hashlib.sha256("\x1f".join(map(str, parts)).encode()).hexdigest()[:16]


def _data_file(cache_dir: Path, config: str) -> Path:
    return cache_dir / f"data-{_key('data', config)}.pkl"


def _panel_file(cache_dir: Path, fingerprint: str, period: str, horizon: int) -> Path:
    return cache_dir / f"panel-{_key('panel', fingerprint, period, int(horizon))}.pkl"


def _dump(obj, path: Path) -> None:
    from cxkit.exceptions import ResourceError

    tmp = path.with_suffix(".tmp")
    try:
        with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as fh:
            pickle.dump(obj, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ResourceError.from_os_error(
            exc, path=path.parent, doing="write the batch's cache of shared data",
            fix="free some space on that disk (or choose another output_root); "
                "the previous report is untouched") from exc


def _load(path: Path):
    with open(path, "rb") as fh:
        return pickle.load(fh)


def _cache_dir() -> Path | None:
    value = os.environ.get(CACHE_ENV)
    return Path(value) if value else None


def _read_support_data(config: str):
    from cxkit.io import read_support_data  # imported late: optional at import time

    return read_support_data(config=config)


def _build_panel(data, *, period: str, horizon: int):
    from cxkit.panel import build_panel

    return build_panel(data, period=period, horizon=horizon)


def prepare_cache(configs: Iterable[str], *, panels: Iterable[tuple[str, str, int]] = (),
                  cache_dir) -> dict[str, str]:
    """Read each source once and build each needed panel once, into ``cache_dir``.

    Parameters
    ----------
    configs : iterable of str
        Source configs to read: ``"sample"`` or absolute paths.
    panels : iterable of (config, period, horizon)
        Panels to build: ``period`` as in :func:`cxkit.panel.build_panel`
        (``"W"``, ``"M"``, ``"Q"``), ``horizon`` in periods.
    cache_dir : str or Path
        Folder to write to (created if missing).

    Returns
    -------
    dict
        Data fingerprint per config.

    Raises
    ------
    CxkitError
        Whatever reading or validating the source raises (``SourceError``,
        ``SchemaError``, ``ConfigError``), before any notebook runs.
    """
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    loaded, fingerprints = {}, {}
    for config in dict.fromkeys([*configs, *(p[0] for p in panels)]):
        data = _read_support_data(config)
        fingerprints[config] = data.fingerprint  # computed once here, pickled with the data
        _dump(data, _data_file(cache_dir, config))
        loaded[config] = data
    for config, period, horizon in dict.fromkeys(panels):
        path = _panel_file(cache_dir, fingerprints[config], period, horizon)
        if not path.exists():
            _dump(_build_panel(loaded[config], period=period, horizon=int(horizon)), path)
    return fingerprints


def load_data(config: str = "sample"):
    """The validated :class:`~cxkit.SupportData` of a source config.

    Served from the batch cache when ``CXKIT_CACHE_DIR`` holds it; otherwise
    read with :func:`cxkit.io.read_support_data`.

    Parameters
    ----------
    config : str
        ``"sample"`` (bundled data) or the path of a source config.

    Returns
    -------
    SupportData

    Examples
    --------
    >>> data = load_data("sample")  # doctest: +SKIP
    """
    cache_dir = _cache_dir()
    if cache_dir is not None:
        path = _data_file(cache_dir, str(config))
        if path.exists():
            return _load(path)
    return _read_support_data(str(config))


def load_panel(data_or_config, *, period: str = "M", horizon: int = 1):
    """The customer x period panel of ``data_or_config``.

    Served from the batch cache when ``CXKIT_CACHE_DIR`` holds a panel for
    the same data fingerprint, ``period`` and ``horizon``; otherwise built
    with :func:`cxkit.panel.build_panel`.

    Parameters
    ----------
    data_or_config : SupportData or str
        The data, or a source config for :func:`load_data`.
    period : str
        Panel period: ``"W"``, ``"M"`` or ``"Q"``.
    horizon : int
        Periods between the support metrics and the outcome.

    Returns
    -------
    DataFrame
        As returned by :func:`cxkit.panel.build_panel`.
    """
    data = load_data(data_or_config) if isinstance(data_or_config, (str, os.PathLike)) \
        else data_or_config
    cache_dir = _cache_dir()
    if cache_dir is not None:
        path = _panel_file(cache_dir, data.fingerprint, period, horizon)
        if path.exists():
            return _load(path)
    return _build_panel(data, period=period, horizon=int(horizon))
