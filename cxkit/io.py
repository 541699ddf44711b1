"""Reading: a source config's exports -> validated :class:`~cxkit.data.SupportData`.

Each table is read (CSV with pandas, Parquet with pyarrow, a table of a DuckDB
file with duckdb; a glob's files concatenated in sorted order), its columns are
renamed per the config, values translated, timestamps parsed (format, then
source zone -> reporting zone, made naive), numbers and flags coerced, derived
columns computed, and the result validated row by row (:mod:`cxkit.validate`).

Canonical dtypes: ids ``str``; timestamps ``datetime64[ns]`` naive in the
reporting zone; numbers ``float64`` (``contacts`` ``Int64``); flags ``bool``
(``boolean`` when some are missing); labels ``str``. Export columns that are not
mapped are kept under their snake_cased names, as numbers when every non-empty
value is a number, as flags when every one is yes/no/true/false, else as text.

A non-empty value that cannot be read as its column's type becomes missing and
its row is quarantined as ``unparseable_value``; the quarantine shows the
column in ``unparsed_columns`` and the export's original text in
``unparsed_values`` (e.g. ``created_at (Opened)='31/02/2024'; csat='five'``).
The same holds for a derived column whose expression has to read an input's
text as a number or a timestamp and cannot: ``contacts`` in
``unparsed_columns``, ``contacts (derived from Replies)='many'`` in
``unparsed_values``. Only failing rows carry that text; it never reaches the
clean tables.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from cxkit._churn import churn_by_inactivity
from cxkit._derive import Unreadable
from cxkit._formats import (
    FALSE,
    NA_VALUES,
    OFFSET_PATTERN,
    STRUCTURAL_SHARE,
    TRUE,
    check_day_month,
    check_delimiter,
    epoch_unit_hint,
    export_files,
    export_names,
    format_hint,
    parse_epoch,
    parse_numbers,
)
from cxkit._pseudonym import pseudonym_key, pseudonymise_ids
from cxkit.config import (
    EPOCH_FORMATS,
    RESERVED,
    SourceConfig,
    TableConfig,
    evaluate_expression,
    load_config,
    resolve_as_of,
    sample_config_path,
)
from cxkit.data import SupportData
from cxkit.exceptions import ConfigError, SchemaError, SourceError
from cxkit.registry import add_ticket_quantities, check_declared
from cxkit.schema import TABLES, columns_of
from cxkit.validate import UNPARSED, UNPARSED_VALUES, validate_tables

__all__ = ["read_support_data", "sample_config_path", "read_table"]

_OFFSET = re.compile(OFFSET_PATTERN)  # time + zone


def read_support_data(config="sample", *, as_of=None) -> SupportData:
    """Read, map, parse and validate a company's exports.

    Parameters
    ----------
    config : str, Path, dict or SourceConfig, default "sample"
        ``"sample"`` for the bundled sample, the path of a source config (YAML),
        a config dict or a loaded :class:`~cxkit.config.SourceConfig`. A config
        with an ``engine:`` block is read, checked and reduced by that engine
        (:func:`cxkit.engine.open_source`) and its clean tables fetched.
    as_of : str or Timestamp, optional
        Dates after it are quarantined as "in the future"; default the
        config's ``as_of``, else now (reporting zone).

    Returns
    -------
    SupportData
        Validated tables; rows that failed a rule are in ``quarantine`` and
        counted in ``quality``. A row with an unreadable value shows which
        columns in ``unparsed_columns`` and their original text in
        ``unparsed_values`` (e.g. ``csat (Satisfaction)='five'``). In
        customer-level mode without a customers table, ``customers`` holds the
        ``customer_id`` column only.

    Raises
    ------
    ConfigError, SourceError, SchemaError
        Malformed config; missing or unreadable file; required column missing
        or a column mostly unparseable.

    Warns
    -----
    QuarantineWarning
        When rows were set aside.

    Examples
    --------
    >>> data = read_support_data("sample")  # doctest: +SKIP
    >>> data.quality.columns[:3].tolist()  # doctest: +SKIP
    ['table', 'rule', 'column']
    """
    if isinstance(config, str) and config == "sample":
        config = sample_config_path()
    cfg = config if isinstance(config, SourceConfig) else load_config(config)
    if cfg.engine is not None:  # read, checked and reduced by the engine; fetched here
        from cxkit.engine import open_source

        with open_source(cfg, as_of=as_of) as data:
            return data.to_support_data()
    raw = {name: read_table(tcfg, config=cfg) for name, tcfg in cfg.tables.items()}
    if cfg.pseudonymise_key_env:
        key = pseudonym_key(cfg.pseudonymise_key_env)
        for frame in raw.values():
            if "customer_id" in frame.columns:
                frame["customer_id"] = pseudonymise_ids(frame["customer_id"], key=key)
    when = resolve_as_of(as_of, cfg)
    clean, quality, quarantine = validate_tables(
        raw, as_of=when, plausibility=cfg.plausibility, currency=cfg.currency,
        dedupe={name: t.dedupe for name, t in cfg.tables.items() if t.dedupe is not None})
    customers = clean.get("customers")
    if customers is None:
        customers = clean["customer_level"][["customer_id"]].copy()
    elif cfg.churn is not None:  # no churned_at: churn by inactivity (cxkit._churn)
        customers = churn_by_inactivity(customers, clean, as_of=when, **cfg.churn)
    tickets = clean.get("tickets")
    check_declared(cfg.metrics, tickets)  # metrics: block (cxkit.registry)
    return SupportData(customers=customers, tickets=tickets,
                       revenue=clean.get("revenue"), surveys=clean.get("surveys"),
                       quality=quality, quarantine=quarantine, currency=cfg.currency,
                       timezone=cfg.timezone, customer_level=clean.get("customer_level"),
                       metrics=cfg.metrics)


def read_table(tcfg: TableConfig, *, config: SourceConfig) -> pd.DataFrame:
    """One table, mapped and typed but not yet validated.

    Carries ``source_row`` (1-based row in its export file, header excluded),
    ``source_file`` and the private ``UNPARSED`` and ``UNPARSED_VALUES``
    columns for :func:`cxkit.validate.validate_tables`: the canonical names of
    the columns whose value could not be parsed (``"created_at,csat"``) and
    each such value's original text, ``; ``-separated in the same order:
    ``column='text'``, with the export's column name in parentheses when it
    differs (``csat (Satisfaction)='five'``), ``(derived)`` for a column the
    config derives (the text is the derived value), ``(derived from x)`` for
    a derived column whose input ``x`` the expression could not read as a
    number or timestamp (the text is the input's), and ``(mapped to 'x')``
    when a value map translated the export's text. Both are ``""`` on rows
    that parsed.
    """
    frame, label = _read_files(tcfg, config.base_dir)
    ctx = _Context(tcfg, config, label)
    ctx.files = frame["source_file"]
    frame = _rename(frame, ctx)
    aliases = {export: new for new, export in ctx.export_of.items()}
    before_map = {}  # export text of the columns a value map translates
    for key, mapping in tcfg.values.items():
        col = key if key in frame.columns else aliases.get(key)
        if col is None:
            raise ConfigError(
                f"tables.{tcfg.name}.values: column {key!r} is not in {ctx.label}; use a "
                f"canonical or export column name: {', '.join(map(str, ctx.export_columns[:25]))}.")
        before_map.setdefault(col, frame[col])
        frame[col] = _map_values(frame[col], mapping)
    spec = columns_of(tcfg.name)
    bad = pd.Series("", index=frame.index, dtype=object)  # unparsed column names per row
    shown = pd.Series("", index=frame.index, dtype=object)  # and their text; "" where parsed
    given_of = {}  # for derive inputs: each column's values before parsing or inference
    for col in frame.columns:
        if tcfg.derive and col not in RESERVED:
            given_of[col] = frame[col]
        if col in spec and col not in tcfg.derive:
            given = frame[col]
            frame[col], mask = _coerce(given, spec[col].kind, col, ctx)
            name = col if ctx.export_name(col) == col else f"{col} ({ctx.export_name(col)})"
            _mark(bad, shown, mask, col, _notes(before_map.get(col, given), given, mask, name))
        elif col not in RESERVED:
            frame[col] = _infer(frame[col], ctx)
    for col, expr in tcfg.derive.items():
        unreadable: dict[str, Unreadable] = {}
        try:
            value = evaluate_expression(expr, frame, to_datetime=ctx.parse_datetime,
                                        aliases=aliases, unreadable=unreadable)
        except Exception as exc:  # ConfigError or a pandas type clash
            raise ConfigError(f"tables.{tcfg.name}.derive.{col}: {exc}") from None
        for src, check in unreadable.items():
            given = given_of.get(src, frame[src])
            export = before_map.get(src, given)
            _check_derive_input(export, check, col, src, ctx)
            label = f"{col} (derived from {ctx.export_name(src)})"
            _mark(bad, shown, check.failed, col, _notes(export, given, check.failed, label))
        if col in spec:
            given = value
            value, mask = _coerce(given, spec[col].kind, col, ctx, derived=True)
            _mark(bad, shown, mask, col, _notes(given, given, mask, f"{col} (derived)"))
        elif value.dtype == object:  # e.g. if_else(c, 1, null): typed like an unmapped column
            value = _infer(value, ctx)
        frame[col] = value
        given_of.pop(col, None)  # later expressions read the derived values
        before_map.pop(col, None)
    if tcfg.name == "tickets":  # first response, resolution time, FCR: derived once, here
        frame = add_ticket_quantities(frame, timezone=config.timezone)
    if tcfg.dedupe is not None:
        _dedupe_columns(frame, bad, shown, ctx, aliases)
    missing = [c.name for c in TABLES[tcfg.name] if c.required and c.name not in frame.columns]
    if missing:
        found = [c for c in ctx.export_columns]
        raise SchemaError(
            f"{label}: required column {missing[0]!r} of table {tcfg.name} not found. Columns "
            f"in the export: {', '.join(found[:25])}. Fix: map it in the config with "
            f"`tables.{tcfg.name}.columns.{missing[0]}: <export column name>`.")
    frame[UNPARSED] = bad
    frame[UNPARSED_VALUES] = shown
    return frame


class _Context:
    """What parsing needs to know about one table and how to name it in messages."""

    def __init__(self, tcfg: TableConfig, config: SourceConfig, label: str) -> None:
        self.tcfg, self.label = tcfg, label
        self.reporting = config.timezone
        self.source_zone = tcfg.timezone or config.timezone
        self.export_of: dict[str, str] = {}
        self.export_columns: list[str] = []
        self.files: pd.Series | None = None  # the export file of each row
        self.decimal = str(tcfg.read_options.get("decimal", "."))
        self.thousands = tcfg.read_options.get("thousands")

    def export_name(self, col: str) -> str:
        """The export's name of canonical or snake_cased column ``col``."""
        return str(self.tcfg.columns.get(col, self.export_of.get(col, col)))

    def parse_datetime(self, s: pd.Series) -> pd.Series:
        """Text or timestamps -> naive timestamps in the reporting zone (NaT if unparseable).

        Text with an explicit offset (``...T10:00:00+02:00``, ``...Z``) keeps
        its offset; naive values are in the table's source zone. DST-ambiguous
        wall times are read as standard time; non-existent ones shift forward.
        """
        if pd.api.types.is_datetime64_any_dtype(s):
            return self._to_reporting(s)
        text = _text(s)
        fmt = self.tcfg.datetime_format
        if fmt in EPOCH_FORMATS:  # Unix time is UTC whatever the export's zone
            return self._to_reporting(parse_epoch(text, EPOCH_FORMATS[fmt]))
        if fmt is not None:
            try:
                pd.to_datetime(pd.Series(["2024-01-01"]), format=fmt, errors="coerce")
            except ValueError as exc:  # a directive pandas does not know
                raise ConfigError(f"tables.{self.tcfg.name}.datetime_format {fmt!r} is not a "
                                  f"valid format ({exc}); use strftime codes such as "
                                  "\"%d/%m/%Y %H:%M\", or epoch_s / epoch_ms.") from None
        zoned = pd.Series(False, index=text.index)
        if fmt is None or "%z" in fmt or "%Z" in fmt:
            zoned = pd.Series([v is not None and bool(_OFFSET.search(v)) for v in text],
                              index=text.index, dtype=bool)
        out = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns]")
        if (~zoned).any():
            naive = pd.to_datetime(text[~zoned], format=fmt or "ISO8601", errors="coerce")
            out[~zoned] = self._to_reporting(naive.astype("datetime64[ns]"))
        if zoned.any():
            aware = pd.to_datetime(text[zoned], format=fmt or "ISO8601", errors="coerce", utc=True)
            out[zoned] = self._to_reporting(aware)
        return out

    def _to_reporting(self, s: pd.Series) -> pd.Series:
        if getattr(s.dt, "tz", None) is None:
            if self.source_zone == self.reporting:
                return s.astype("datetime64[ns]")
            s = s.dt.tz_localize(self.source_zone, ambiguous=False, nonexistent="shift_forward")
        return s.dt.tz_convert(self.reporting).dt.tz_localize(None).astype("datetime64[ns]")


def _read_files(tcfg: TableConfig, base: Path) -> tuple[pd.DataFrame, str]:
    files, names, label = export_files(tcfg, base)
    frames = []
    for path, name in zip(files, names, strict=True):
        df = _read_one(path, name, tcfg)
        df.insert(0, "source_row", np.arange(1, len(df) + 1))
        df.insert(1, "source_file", name)
        frames.append(df)
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    if frame.empty:
        raise SourceError(f"{label}: the export has no rows (table {tcfg.name}).")
    return frame.reset_index(drop=True), label


def _read_one(path: str, name: str, tcfg: TableConfig) -> pd.DataFrame:
    opts = {k: v for k, v in tcfg.read_options.items() if k not in ("decimal", "thousands")}
    try:
        if path.endswith(".parquet"):
            return pd.read_parquet(path, **opts)
        if path.endswith((".duckdb", ".db")):
            import duckdb
            with duckdb.connect(path, read_only=True) as con:
                quoted = '"' + str(tcfg.table).replace('"', '""') + '"'
                return con.execute(f"SELECT * FROM {quoted}").df()
        opts.setdefault("keep_default_na", False)
        opts.setdefault("na_values", NA_VALUES)
        frame = pd.read_csv(path, dtype=str, **opts)
        if frame.shape[1] == 1:
            check_delimiter(path, name, tcfg, opts)
        return frame
    except TypeError as exc:
        raise ConfigError(f"tables.{tcfg.name}.read_options: {exc}.") from None
    except SourceError:
        raise
    except Exception as exc:  # pandas, pyarrow and duckdb each raise their own types
        if not path.endswith((".parquet", ".duckdb", ".db")):
            check_delimiter(path, name, tcfg, opts)
        first = str(exc).replace(path, name).splitlines()[0][:200]  # no machine paths
        raise SourceError(f"{name}: cannot read table {tcfg.name} ({type(exc).__name__}: "
                          f"{first}). Check the file type, "
                          f"`tables.{tcfg.name}.read_options` (delimiter, encoding) and "
                          "`table` for DuckDB files.") from None


def _rename(frame: pd.DataFrame, ctx: _Context) -> pd.DataFrame:
    tcfg = ctx.tcfg
    ctx.export_columns, names = export_names(frame.columns, tcfg.columns, label=ctx.label,
                                             table=tcfg.name, reserved=RESERVED)
    ctx.export_of = {new: old for old, new in names.items()}
    frame = frame.rename(columns=names)
    # an export column that is mapped twice feeds both canonical columns
    for canonical, export in tcfg.columns.items():
        if canonical not in frame.columns:
            frame[canonical] = frame[names[export]]
    return frame


def _map_values(s: pd.Series, mapping) -> pd.Series:
    keys = s.astype(object).map(
        lambda v: v if v is None or v is pd.NA or v != v else str(v).strip())
    hit = keys.isin(list(mapping))
    out = s.astype(object).copy()
    out[hit] = keys[hit].map(lambda k: mapping[k])
    return out.where(out.notna(), None)


def _mark(bad: pd.Series, shown: pd.Series, mask: pd.Series, col: str,
          notes: pd.Series) -> None:
    """Append ``col`` (once per row) to the unparsed names and ``notes`` to the shown values."""
    at = mask.to_numpy()
    if at.any():
        bad[at] = [b if col in b.split(",") else f"{b},{col}" if b else col for b in bad[at]]
        shown[at] = [f"{s}; {n}" if s else n for s, n in zip(shown[at], notes, strict=True)]


def _notes(export: pd.Series, given: pd.Series, mask: pd.Series, label: str) -> pd.Series:
    """``label='text'`` for each flagged row, from the export's text (only flagged rows).

    ``given`` is what the parser saw; when a value map changed the export's
    text, ``(mapped to 'x')`` follows.
    """
    at = mask.to_numpy()
    if not at.any():
        return pd.Series([], index=mask.index[at], dtype=object)
    notes = []
    for raw, used in zip(export[at], given[at], strict=True):
        note = f"{label}={str(raw)!r}"
        if str(used) != str(raw):
            note += f" (mapped to {str(used)!r})"
        notes.append(note)
    return pd.Series(notes, index=mask.index[at], dtype=object)


def _text(s: pd.Series) -> pd.Series:
    """Stripped text with empty strings as missing."""
    # built as a list: Series.map would infer pandas 3's string dtype, whose missing value is NaN
    out = [None if v is None or v is pd.NA or v != v else str(v).strip() for v in s.astype(object)]
    return pd.Series([v if v else None for v in out], index=s.index, dtype=object)


def _coerce(s: pd.Series, kind: str, col: str, ctx: _Context, derived: bool = False):
    """Canonical dtype for ``kind``; returns (values, mask of unparseable values)."""
    if kind in ("id", "text"):
        if pd.api.types.is_float_dtype(s) and (s.dropna() % 1 == 0).all():
            s = s.astype("Int64")
        return _text(s), pd.Series(False, index=s.index)
    if kind == "datetime":
        text = s if pd.api.types.is_datetime64_any_dtype(s) else _text(s)
        out = text if derived and pd.api.types.is_datetime64_any_dtype(text) \
            else ctx.parse_datetime(text)
        out = out.astype("datetime64[ns]")
        expected = ctx.tcfg.datetime_format or "ISO 8601 (e.g. 2024-03-31 14:05)"
        fix = (f"set `tables.{ctx.tcfg.name}.datetime_format` to the export's format "
               "(strftime codes)")
    elif kind == "bool":
        if pd.api.types.is_bool_dtype(s):
            return s, pd.Series(False, index=s.index)
        text = _text(s)
        text = pd.Series([v if v is None else v.lower() for v in text], index=s.index, dtype=object)
        out = text.map(lambda v: True if v in TRUE else False if v in FALSE else None)
        out = out.astype("boolean")
        text = text.where(~(text.notna() & out.isna()), _text(s))
        expected = "yes/no, true/false or 1/0"
        fix = f"translate the export's labels with `tables.{ctx.tcfg.name}.values.{col}`"
    else:
        numeric = pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)
        text = s if numeric else _text(s)
        out = pd.to_numeric(text, errors="coerce").astype("float64") if text is s else \
            parse_numbers(text, decimal=ctx.decimal, thousands=ctx.thousands)
        if kind == "int":
            out = out.where(out % 1 == 0)
        expected = "a whole number" if kind == "int" else "a number"
        fix = f"translate non-numeric labels with `tables.{ctx.tcfg.name}.values.{col}`"
    mask = pd.Series(np.asarray(text.notna()) & np.asarray(out.isna()), index=s.index)
    if kind == "datetime" and not derived and text is not s:
        _check_dates(text, mask, col, ctx)
    nonempty = int(text.notna().sum())
    if nonempty and mask.sum() > STRUCTURAL_SHARE * nonempty:
        examples = ", ".join(repr(str(v)) for v in pd.unique(_text(s)[mask])[:3])
        hint = format_hint(_text(s)[mask]) if kind == "datetime" else ""
        key = f"tables.{ctx.tcfg.name}.derive.{col}"
        source = f"column {col} derived by `{key}`" if derived \
            else f"column {ctx.export_of.get(col, col)!r} (mapped to {col})"
        fix = f"correct the expression in `{key}`" if derived else \
            f"{fix}, or map the right column in `tables.{ctx.tcfg.name}.columns.{col}`"
        raise SchemaError(
            f"{ctx.label}: {source} has {int(mask.sum())} of {nonempty} "
            f"non-empty values ({mask.sum() / nonempty:.0%}) that cannot be read as "
            f"{expected}, e.g. {examples}.{hint} Fix: {fix}.")
    if kind == "int":
        out = out.astype("Int64")
    elif kind == "bool" and not out.isna().any():
        out = out.astype(bool)
    return out, mask


def _check_dates(text: pd.Series, failed: pd.Series, col: str, ctx: _Context) -> None:
    """Raise :class:`SchemaError` for swapped day and month or the wrong Unix-time unit."""
    fmt, name = ctx.tcfg.datetime_format, ctx.tcfg.name
    export = ctx.export_name(col)
    if fmt in EPOCH_FORMATS:
        other = epoch_unit_hint(text, fmt)
        if other is not None:
            unit = {"epoch_s": "seconds", "epoch_ms": "milliseconds"}
            raise SchemaError(f"{ctx.label}: column {export!r} (mapped to {col}) holds Unix "
                              f"times in {unit[other]}, not {unit[fmt]}. Fix: set "
                              f"`tables.{name}.datetime_format: {other}`.")
        return
    found = check_day_month(text, failed, fmt or "", ctx.files,
                            lambda t, f: pd.to_datetime(t, format=f, errors="coerce"))
    if found is None:
        return
    where, other, rows, share, whole = found
    several = ctx.files is not None and ctx.files.nunique() > 1
    setting = f"set `tables.{name}.datetime_format: \"{other}\"`"
    if whole:
        fix = setting + (f" if every file writes day and month this way, else re-export {where} "
                         "in the others' format" if several else "")
        raise SchemaError(
            f"{export!r} in {where or ctx.label} reads as {other} for all {rows} rows but as "
            f"{fmt} (the config's datetime_format) for only {share:.0%}: day and month are "
            f"swapped, and half-parsed dates would be wrong. Fix: {fix}.")
    raise SchemaError(
        f"{export!r} in {where or ctx.label} mixes day/month orders: {1 - share:.0%} of its "
        f"{rows} dates read only as {other}, the rest as {fmt} (the config's datetime_format), "
        "and dates with a day up to 12 read both ways, so they cannot be told apart. Fix: "
        f"re-export the file with one date format ({setting} if that is the export's).")


def _dedupe_columns(frame: pd.DataFrame, bad: pd.Series, shown: pd.Series, ctx: _Context,
                    aliases: dict) -> None:
    """Check the ``dedupe`` key columns and read its ``by`` column as timestamps."""
    rule, name = ctx.tcfg.dedupe, ctx.tcfg.name
    for col in rule.key + (() if rule.by == "file_order" else (rule.by,)):
        if col not in frame.columns or col in RESERVED:
            known = [c for c in frame.columns if c not in RESERVED]
            hint = f" (write {aliases[col]!r})" if col in aliases else ""
            raise ConfigError(f"tables.{name}.dedupe: column {col!r}{hint} is not in the mapped "
                              f"table {ctx.label}; use a canonical or snake_cased name: "
                              f"{', '.join(map(str, known[:25]))}.")
    if rule.by == "file_order":
        return
    by = rule.by
    if not (pd.api.types.is_datetime64_any_dtype(frame[by])
            or pd.api.types.is_numeric_dtype(frame[by])):
        given = frame[by]
        frame[by], mask = _coerce(given, "datetime", by, ctx)
        _mark(bad, shown, mask, by, _notes(given, given, mask, by))


def _check_derive_input(export: pd.Series, check: Unreadable, col: str, src: str,
                        ctx: _Context) -> None:
    """Raise :class:`SchemaError` when most of a derive input cannot be converted.

    The share is taken among the non-empty values the expression converted;
    above :data:`STRUCTURAL_SHARE` the expression or the format is wrong.
    """
    tried, failed = int(check.tried.sum()), int(check.failed.sum())
    if not tried or failed <= STRUCTURAL_SHARE * tried:
        return
    name = ctx.tcfg.name
    examples = ", ".join(repr(str(v)) for v in pd.unique(_text(export)[check.failed])[:3])
    expected = {"number": "a number", "datetime": "a timestamp"}.get(check.kind,
                                                                      "a number or a timestamp")
    if check.kind == "datetime":
        fix = f"set `tables.{name}.datetime_format` to the export's format (strftime codes)"
    else:
        fix = f"translate non-numeric labels with `tables.{name}.values.{src}`"
    raise SchemaError(
        f"{ctx.label}: `tables.{name}.derive.{col}` reads column {ctx.export_name(src)!r} as "
        f"{expected}, but {failed} of {tried} non-empty values ({failed / tried:.0%}) cannot "
        f"be read, e.g. {examples}. Fix: {fix}, or correct the expression.")


def _infer(s: pd.Series, ctx: _Context) -> pd.Series:
    """Type an unmapped column: numbers, then flags, else stripped text."""
    if pd.api.types.is_datetime64_any_dtype(s):
        return ctx.parse_datetime(s)
    if pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
        return s
    text = _text(s)
    present = text.dropna()
    if present.empty:
        return text
    num = parse_numbers(present, decimal=ctx.decimal, thousands=ctx.thousands)
    if num.notna().all():
        return parse_numbers(text, decimal=ctx.decimal, thousands=ctx.thousands)
    lower = present.str.lower()
    if lower.isin(TRUE | FALSE).all() and not lower.isin({"1", "0", "1.0", "0.0"}).all():
        out = text.map(lambda v: None if v is None else v.lower() in TRUE).astype("boolean")
        return out.astype(bool) if not out.isna().any() else out
    return text
