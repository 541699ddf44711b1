"""Opening an export inside the engine: files read by DuckDB, tables of the backend.

:func:`open_export` gives the export as read, before any mapping or parsing
(:mod:`cxkit._engine_read` does those), with ``source_row`` and ``source_file``:

- CSV files: every column as text, the header read here (pandas' names for
  repeated ones) so that DuckDB guesses nothing; ``source_row`` is the 1-based
  row after the header, ``read_options.skiprows`` left out as pandas leaves
  them. The ``read_options`` honoured are :data:`CSV_OPTIONS`; others stop
  with a one-line :class:`~cxkit.exceptions.ConfigError`.
- Parquet files: their own types, ``source_row`` from the file's row numbers.
- Globs: the files in sorted order, columns aligned by name.
- ``table:`` sources (a warehouse table, or a table of a DuckDB file): the
  warehouse's types; ``source_row`` numbers the rows in the order of all their
  columns, since a warehouse keeps no load order.
"""

from __future__ import annotations

import csv
import hashlib
import os
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

from cxkit._formats import CSV_OPTIONS, NA_VALUES, check_delimiter, export_files, snake_case
from cxkit.config import RESERVED, SourceConfig, TableConfig
from cxkit.exceptions import ConfigError, SchemaError, SourceError

__all__ = ["CSV_OPTIONS", "Source", "open_export", "unreadable"]

_ENCODINGS = {"latin1": "latin-1", "iso-8859-1": "latin-1", "iso8859-1": "latin-1",
              "utf8": "utf-8", "utf16": "utf-16"}  # pandas' names -> DuckDB's


@dataclass
class Source:
    """The export as read (text columns from CSV, typed ones otherwise), with source_row/file."""

    table: ir.Table
    label: str  # the file, glob or table named in messages
    files: int = 1
    infer: bool = True  # type unmapped text columns from their values (files, not tables)


def open_export(con, tcfg: TableConfig, config: SourceConfig) -> Source:
    """The export of ``tcfg`` as DuckDB (files) or the backend (``table:``) reads it."""
    path = getattr(tcfg, "path", None)
    if tcfg.table and (not path or path.endswith((".duckdb", ".db"))):
        return _open_table(con, tcfg, config, path)
    if con.name != "duckdb":
        raise ConfigError(f"tables.{tcfg.name}.path: export files are read by the duckdb "
                          f"backend, not {con.name}; load {path!r} into the warehouse and give "
                          f"`tables.{tcfg.name}.table`, or use `engine: {{backend: duckdb}}`.")
    files, names, label = export_files(tcfg, config.base_dir)
    parquet = [f.endswith(".parquet") for f in files]
    if any(parquet) and not all(parquet):
        raise ConfigError(f"{label}: the pattern matches Parquet and other files (table "
                          f"{tcfg.name}); make `tables.{tcfg.name}.path` match one kind.")
    try:
        if all(parquet):
            return Source(_read_parquet(con, files, names), label, files=len(files))
        return Source(_read_csv(con, tcfg, files, names), label, files=len(files))
    except (ConfigError, SourceError):
        raise
    except Exception as exc:  # duckdb raises its own types
        if not all(parquet):  # as io: a header split by another delimiter says so
            for path, name in zip(files, names, strict=True):
                check_delimiter(path, name, tcfg, dict(tcfg.read_options))
        raise unreadable(exc, tcfg, label, files) from None


def unreadable(exc: Exception, tcfg: TableConfig, label: str, files=()) -> SourceError:
    first = str(exc)
    for path in files:
        first = first.replace(path, os.path.basename(path))
    hint = " - a row has another number of fields than the header" \
        if "Expected Number of Columns" in first else ""
    first = (first.splitlines()[0][:200] if first else "") + hint
    return SourceError(f"{label}: cannot read table {tcfg.name} ({type(exc).__name__}: "
                       f"{first}). Check the file type, `tables.{tcfg.name}.read_options` "
                       "(delimiter, encoding) and `table` for DuckDB files.")


def _csv_options(tcfg: TableConfig) -> dict:
    opts = dict(tcfg.read_options)
    for key in opts:
        if key not in CSV_OPTIONS:
            raise ConfigError(f"tables.{tcfg.name}.read_options: {key!r} is not an option the "
                              f"engine's CSV reader takes ({', '.join(CSV_OPTIONS)}); remove it, "
                              "or read this export without an `engine:` block (pandas).")
    delim = str(opts.get("delimiter", opts.get("sep", ",")))
    out = {"header": True, "auto_detect": False, "delim": delim,
           "quote": str(opts.get("quotechar", '"')),
           "escape": str(opts.get("escapechar", opts.get("quotechar", '"'))),
           "skip": _skipped_rows(tcfg)[0], "nullstr": NA_VALUES}
    if opts.get("encoding"):
        name = str(opts["encoding"]).lower().replace("_", "-")
        out["encoding"] = _ENCODINGS.get(name, name)
    return out


def _skipped_rows(tcfg: TableConfig) -> tuple[int, list[int]]:
    """``read_options.skiprows`` as pandas reads it: (rows before the header, 0-based numbers
    of the data rows after it to leave out).

    An integer skips that many rows at the top; a list names 0-based row
    numbers (the header is the first row not named), e.g. ``[1, 2]`` for the
    two extra header rows of a Qualtrics export. Rows, as pandas counts them:
    a quoted value with a line break inside (a Qualtrics question text) is
    one row.
    """
    skip = tcfg.read_options.get("skiprows")
    if skip is None:
        return 0, []
    numbers = [skip] if isinstance(skip, int) else skip
    if not isinstance(numbers, (list, tuple)) or not all(
            isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in numbers):
        raise ConfigError(f"tables.{tcfg.name}.read_options.skiprows: {skip!r} is neither a "
                          "number of lines nor a list of line numbers (0 = the first line); "
                          "give e.g. 2 or [1, 2].")
    if isinstance(skip, int):
        return skip, []
    lines = set(numbers)
    header = next(n for n in range(len(lines) + 1) if n not in lines)
    return header, sorted(n - header - 1 for n in lines if n > header)


def _header(path: str, name: str, tcfg: TableConfig, opts: dict) -> dict[str, str]:
    """The file's column names (pandas' names for repeated ones: ``x``, ``x.1``) as text
    columns, after ``opts["skip"]`` rows (DuckDB's ``skip`` counts rows, as pandas does).

    Read here rather than sniffed, so that DuckDB guesses nothing (no comment
    character, no skipped lines but ``skiprows``): every line after the header is a row.
    """
    encoding = str(tcfg.read_options.get("encoding") or "utf-8")
    try:
        with open(path, encoding=encoding, errors="replace", newline="") as fh:
            rows = csv.reader(fh, delimiter=opts["delim"], quotechar=opts["quote"])
            for _ in range(opts["skip"]):
                next(rows, None)
            first = next(rows, None)
    except (OSError, LookupError, csv.Error) as exc:
        raise SourceError(f"{name}: cannot read table {tcfg.name} ({type(exc).__name__}). Check "
                          f"`tables.{tcfg.name}.read_options` (delimiter, encoding).") from None
    if not first:
        raise SourceError(f"{name}: cannot read table {tcfg.name} (the file is empty). Check "
                          f"`tables.{tcfg.name}.path`.")
    first[0] = first[0].removeprefix("\ufeff")  # a byte-order mark is no part of the name
    columns, seen = {}, {}
    for col in first:
        new = col
        while new in columns:  # as pandas: x, x.1, x.2
            seen[col] = seen.get(col, 0) + 1
            new = f"{col}.{seen[col]}"
        columns[new] = "VARCHAR"
    return columns


def _read_csv(con, tcfg: TableConfig, files: list[str], names: list[str]) -> ir.Table:
    opts = _csv_options(tcfg)
    dropped = _skipped_rows(tcfg)[1]
    parts, order = [], []
    for path, name in zip(files, names, strict=True):
        t = con.read_csv(path, columns=_header(path, name, tcfg, opts), **opts)
        if len(t.columns) == 1:
            check_delimiter(path, name, tcfg, dict(tcfg.read_options))
        # row_number() over the file alone is the file's row order (a streaming window)
        row = ibis.row_number()
        if dropped:  # rows left out by skiprows; the others numbered 1, 2, ... as pandas does
            t = t.mutate(_cx_row=row)
            t = t.filter(~t._cx_row.isin(dropped))
            row = t._cx_row - sum(ibis.ifelse(t._cx_row > n, 1, 0) for n in dropped)
        t = t.mutate(source_row=(row + 1).cast("int64"),
                     source_file=ibis.literal(name, type="string"))
        if dropped:
            t = t.drop("_cx_row")
        order += [c for c in t.columns if c not in order]
        parts.append(t)
    if len(parts) == 1:
        return parts[0]
    aligned = [t.select(*[t[c] if c in t.columns else ibis.null("string").name(c)
                          for c in order]) for t in parts]
    return ibis.union(*aligned, distinct=False)


def _read_parquet(con, files: list[str], names: list[str]) -> ir.Table:
    parts = []
    for path, name in zip(files, names, strict=True):
        t = con.read_parquet(path, file_row_number=True)
        t = t.mutate(source_row=(t.file_row_number + 1).cast("int64"),
                     source_file=ibis.literal(name, type="string")).drop("file_row_number")
        parts.append(t)
    if len(parts) == 1:
        return parts[0]
    order = []
    for t in parts:
        order += [c for c in t.columns if c not in order]
    aligned = [t.select(*[t[c] if c in t.columns else ibis.null(_type_of(parts, c)).name(c)
                          for c in order]) for t in parts]
    return ibis.union(*aligned, distinct=False)


def _type_of(parts, col):
    return next(t.schema()[col] for t in parts if col in t.columns)


def _open_table(con, tcfg: TableConfig, config: SourceConfig, path: str | None) -> Source:
    name = str(tcfg.table)
    try:
        if path:  # a table inside a DuckDB file
            if con.name != "duckdb":
                raise ConfigError(f"tables.{tcfg.name}.path {path!r} is a DuckDB file, which "
                                  f"the {con.name} backend cannot open; load the table into "
                                  "the warehouse and drop `path`.")
            files, _names, label = export_files(tcfg, config.base_dir)
            digest = hashlib.sha1(os.path.abspath(files[0]).encode()).hexdigest()[:8]
            alias = f"cxkit_{snake_case(os.path.basename(files[0]))}_{digest}"
            try:  # attached once per connection
                t = con.table(name, database=(alias, "main"))
            except Exception:
                con.attach(files[0], name=alias, read_only=True)
                t = con.table(name, database=(alias, "main"))
        else:
            label = name
            *database, table = name.split(".")  # schema.name or catalog.schema.name
            t = con.table(table, database=tuple(database) if len(database) > 1
                          else database[0] if database else None)
    except (ConfigError, SourceError):
        raise
    except Exception as exc:
        raise SourceError(f"{path or name}: cannot read table {name!r} (table {tcfg.name}; "
                          f"{type(exc).__name__}: {str(exc).splitlines()[0][:160]}). Check "
                          f"`tables.{tcfg.name}.table` and the connection.") from None
    clash = [c for c in t.columns if c in RESERVED]
    if clash:
        raise SchemaError(f"{label}: column {clash[0]!r} is reserved for tracking (table "
                          f"{tcfg.name}); rename it in the warehouse or in a view.")
    # a warehouse keeps no load order: number the rows in the order of all their columns
    row = ibis.row_number().over(order_by=[t[c].asc(nulls_first=False) for c in t.columns])
    t = t.mutate(source_row=(row + 1).cast("int64"),
                 source_file=ibis.literal(label, type="string"))
    return Source(t, label, infer=False)
