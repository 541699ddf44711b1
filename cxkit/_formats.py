"""Export formats: numbers with decimal commas, Unix time, delimiters, day/month order.

Helpers of :mod:`cxkit.io` for what real exports look like. Each returns values
or a plain-words hint; :mod:`cxkit.io` turns hints into errors naming the
file, the column and the config key to set.
"""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from cxkit.exceptions import SchemaError, SourceError

#: read_options of CSV exports that the engine's reader honours too (pandas takes any of
#: ``pandas.read_csv``'s); none of them applies to a Parquet file (a ConfigError on both paths)
CSV_OPTIONS = ("delimiter", "sep", "decimal", "thousands", "encoding", "quotechar", "escapechar",
               "skiprows")

__all__ = ["parse_numbers", "parse_epoch", "epoch_unit_hint", "delimiter_hint",
           "swapped_format", "check_day_month", "format_hint", "snake_case", "export_names",
           "export_files",
           "check_delimiter", "NA_VALUES", "TRUE", "FALSE", "STRUCTURAL_SHARE", "OFFSET_PATTERN",
           "CSV_OPTIONS"]

STRUCTURAL_SHARE = 0.10  # above this share of unparseable values a column is a structural error
NA_VALUES = ["", "NULL", "null", "NaN", "nan", "N/A", "n/a", "#N/A", "None", "<NA>"]
TRUE = {"true", "yes", "y", "t", "1", "1.0"}
FALSE = {"false", "no", "n", "f", "0", "0.0"}
OFFSET_PATTERN = r"\d{2}:\d{2}(:\d{2}(\.\d+)?)?\s*(Z|[+-]\d{2}(:?\d{2})?)$"  # time + zone

DELIMITERS = (";", "\t", "|", ",")
_DATES = ("%d/%m/%Y", "%m/%d/%Y", "%d.%m.%Y", "%Y/%m/%d", "%d-%m-%Y", "%m-%d-%Y")
_TIMES = ("", " %H:%M", " %H:%M:%S")
_EPOCH_DIGITS = {"epoch_s": (9, 10), "epoch_ms": (12, 13)}  # digits of today's Unix times
MIN_SWAPPED = 5  # fewer unreadable dates than this are typos, not a swapped format
MS_THRESHOLD = 1e11  # |seconds| above this are years after 5000; milliseconds below are 1973


def parse_numbers(text: pd.Series, *, decimal: str = ".", thousands: str | None = None
                  ) -> pd.Series:
    """Text -> float64 (NaN where unreadable), honouring the export's separators.

    With ``decimal=","`` a value holding a ``.`` that is not the thousands
    separator is unreadable (``1.5`` is not a number in such an export).

    Examples
    --------
    >>> parse_numbers(pd.Series(["1.234,5", "7", None, "2.5"]), decimal=",", thousands=".").tolist()
    [1234.5, 7.0, nan, 25.0]
    """
    if decimal == "." and not thousands:
        return pd.to_numeric(text, errors="coerce").astype("float64")
    s = text.astype("string").str.strip()
    if thousands:
        s = s.str.replace(thousands, "", regex=False)
    if decimal != ".":
        s = s.mask(s.str.contains(".", regex=False).fillna(False))
        s = s.str.replace(decimal, ".", regex=False)
    return pd.to_numeric(s.astype(object).where(s.notna(), None), errors="coerce").astype("float64")


def parse_epoch(text: pd.Series, unit: str) -> pd.Series:
    """Unix time in ``unit`` (``"s"`` or ``"ms"``) -> UTC timestamps (NaT where unreadable)."""
    numbers = pd.to_numeric(text, errors="coerce")
    return pd.to_datetime(numbers, unit=unit, utc=True, errors="coerce")


def epoch_unit_hint(text: pd.Series, fmt: str) -> str | None:
    """``"epoch_ms"`` when values given as seconds look like milliseconds, and vice versa."""
    numbers = pd.to_numeric(text, errors="coerce").dropna()
    if numbers.empty:
        return None
    median = float(np.median(np.abs(numbers)))
    if fmt == "epoch_s" and median > MS_THRESHOLD:
        return "epoch_ms"
    if fmt == "epoch_ms" and median < MS_THRESHOLD:
        return "epoch_s"
    return None


def delimiter_hint(path: str, *, encoding: str | None, used: str) -> str | None:
    """The delimiter the first line of ``path`` uses more than ``used``, if any."""
    try:
        with open(path, encoding=encoding or "utf-8", errors="replace") as fh:
            header = fh.readline()
    except OSError:
        return None
    counts = {d: header.count(d) for d in DELIMITERS if d != used}
    best = max(counts, key=counts.get)
    return best if counts[best] > header.count(used) else None


def swapped_format(fmt: str) -> str | None:
    """``fmt`` with ``%d`` and ``%m`` exchanged; ``None`` unless it holds both once."""
    if fmt.count("%d") != 1 or fmt.count("%m") != 1:
        return None
    return fmt.replace("%d", "\0").replace("%m", "%d").replace("\0", "%m")


def check_day_month(text: pd.Series, failed: pd.Series, fmt: str, files: pd.Series | None,
                    parse: Callable[[pd.Series, str], pd.Series]) -> tuple | None:
    """Find a file whose dates read with day and month swapped.

    A file qualifies when the swapped format reads every value ``fmt`` could
    not read, and those are at least :data:`MIN_SWAPPED` values and 1% of the
    file's (a lone typo such as month 13 stays a quarantined row): its dates
    that read both ways (day <= 12) cannot be trusted either.

    Parameters
    ----------
    text : Series
        The column's values (missing as ``None``).
    failed : Series of bool
        Non-empty values ``fmt`` could not read.
    fmt : str
        The config's format.
    files : Series, optional
        The file each row came from.
    parse : callable
        ``parse(text, fmt)`` -> timestamps, NaT where unreadable.

    Returns
    -------
    tuple or None
        ``(file, other format, rows, share read by fmt, whole file)`` for the
        first such file; ``whole file`` says whether the swapped format reads
        every non-empty value of it. ``None`` when there is none.
    """
    other = swapped_format(fmt)
    if other is None or not failed.any():
        return None
    groups = files if files is not None else pd.Series("", index=text.index)
    bad = failed.to_numpy()
    for name in pd.unique(groups[bad]):
        rows = (groups == name).to_numpy() & text.notna().to_numpy()
        n_failed = int(bad[rows].sum())
        if n_failed < max(MIN_SWAPPED, 0.01 * rows.sum()):
            continue
        if parse(text[rows & bad], other).notna().all():
            whole = bool(parse(text[rows & ~bad], other).notna().all())
            return name, other, int(rows.sum()), 1.0 - n_failed / rows.sum(), whole
    return None


def format_hint(values: pd.Series) -> str:
    """A sentence naming the formats that read every one of ``values`` (a sample), or ""."""
    sample = pd.Series(pd.unique(values.dropna().astype(str))[:200], dtype=object)
    if sample.empty:
        return ""
    digits = sample.str.fullmatch(r"-?\d+(\.0+)?")
    if digits.all():
        width = sample.str.replace(r"\.0+$", "", regex=True).str.lstrip("-").str.len()
        for name, (low, high) in _EPOCH_DIGITS.items():
            if width.between(low, high).all():
                return f" They look like Unix time: datetime_format: {name}."
    fits = [d + t for d in _DATES for t in _TIMES
            if pd.to_datetime(sample, format=d + t, errors="coerce").notna().all()]
    if not fits:
        return ""
    if len(fits) > 1 and all(swapped_format(f) in fits for f in fits if swapped_format(f)):
        return (f" They read as {' and as '.join(repr(f) for f in fits)}; the values shown "
                "cannot tell day from month, so check the export.")
    return f" They read as {fits[0]!r}."



def snake_case(name: str) -> str:
    """``"Requester external id"`` -> ``"requester_external_id"``."""
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", str(name).strip())
    s = re.sub(r"[^0-9A-Za-z]+", "_", s).strip("_").lower()
    return s or "column"


def export_names(columns, mapping: dict, *, label: str, table: str,
                 reserved=()) -> tuple[list, dict]:
    """An export's columns and their new names: mapped ones canonical, the rest snake_cased.

    ``mapping`` is the config's ``columns:`` (canonical -> export name). A
    snake_cased name that a canonical or earlier name already takes gets
    ``_export`` appended. Returns the export columns (``reserved`` ones left
    out) and ``{export name: new name}``.

    Raises
    ------
    SchemaError
        A mapped export column is not in the export (one line naming the
        column, the config key and the export's columns).
    """
    export_columns = [c for c in columns if c not in reserved]
    for canonical, export in mapping.items():
        if export not in columns:
            raise SchemaError(
                f"{label}: column {export!r} (mapped to {canonical} by "
                f"`tables.{table}.columns.{canonical}`) not found. Columns in the export: "
                f"{', '.join(map(str, export_columns[:25]))}. Fix: correct the name in the "
                "config (it is case- and space-sensitive).")
    mapped = {export: canonical for canonical, export in mapping.items()}
    names, taken = {}, set(mapped.values()) | set(reserved)
    for col in export_columns:
        if col in mapped:
            names[col] = mapped[col]
            continue
        new = snake_case(col)
        while new in taken:
            new += "_export"
        names[col] = new
        taken.add(new)
    return export_columns, names


def display_name(path: str, base: Path) -> str:
    """``path`` relative to the config folder, as shown in messages (never a machine path)."""
    try:
        rel = os.path.relpath(path, base)
    except ValueError:
        rel = os.path.basename(path)
    return Path(rel).as_posix()


def export_files(tcfg, base: Path) -> tuple[list[str], list[str], str]:
    """The files of table ``tcfg`` (a glob's in sorted order), their display names and label.

    Raises
    ------
    SourceError
        When a glob matches nothing or a file does not exist.
    """
    pattern = str(base / tcfg.path) if not os.path.isabs(tcfg.path) else tcfg.path
    is_glob = any(ch in tcfg.path for ch in "*?[")
    files = sorted(glob.glob(pattern)) if is_glob else [pattern]
    label = display_name(pattern, base)
    if not files:
        raise SourceError(f"{label}: no file matches this pattern (table {tcfg.name}); check "
                          f"`tables.{tcfg.name}.path` (relative to the config folder).")
    names = [display_name(path, base) for path in files]
    for path, name in zip(files, names, strict=True):
        if not os.path.isfile(path):
            raise SourceError(f"{name}: file not found (table {tcfg.name}); check "
                              f"`tables.{tcfg.name}.path` (relative to the config folder).")
    return files, names, label


def check_delimiter(path: str, name: str, tcfg, opts: dict) -> None:
    """Raise :class:`SourceError` when the header is split by another delimiter."""
    used = opts.get("delimiter", opts.get("sep", ","))
    hint = delimiter_hint(path, encoding=opts.get("encoding"), used=str(used))
    if hint is not None:
        shown = {"\t": "\\t"}.get(hint, hint)
        raise SourceError(f"{name}: the header is separated by {shown!r}, not {used!r} (table "
                          f"{tcfg.name}). Fix: set `tables.{tcfg.name}.read_options.delimiter: "
                          f"\"{shown}\"` (and `decimal: \",\"` if numbers use decimal commas).")
