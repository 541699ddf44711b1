"""Reading one table inside the engine: the canonical engine table of a source config.

:func:`read_engine_table` is :func:`cxkit.io.read_table` as an Ibis expression:
the same mapping, value maps, parsing, type inference, derived columns and
unreadable-value reporting, evaluated by the backend instead of pandas, so that
nothing is loaded into memory.

- The export is opened by :func:`cxkit._engine_source.open_export` (files
  read by DuckDB directly, ``table:`` sources in the backend). CSV columns are
  read as text and parsed by engine expressions; a
  value that cannot be read becomes missing and is named in
  ``_unparsed_columns`` with its original text in ``_unparsed_values``
  (``created_at (Opened)='31/02/2024'; csat='five'``), exactly as
  :func:`cxkit.io.read_table` writes them. ``source_row`` is the 1-based row
  of the file, ``source_file`` its path relative to the config folder.
- ``table:`` sources (a table of the connected backend, or of a DuckDB file
  given as ``path:``) keep the warehouse's column types; unmapped columns keep
  them too (no inference from the values). ``source_row`` numbers the rows in
  the order of all their columns (ascending, missing last): deterministic, but
  not the load order, which a warehouse does not keep. ``source_file`` is the
  table name (the file's name for a table of a DuckDB file, as in :mod:`cxkit.io`).
- Timestamps are naive ``timestamp`` columns holding UTC instants: naive
  source values are wall times in the table's zone (``timezone:``, else the
  config's), converted by the zone's IANA rules compiled to comparisons
  (:func:`cxkit._engine_time.to_utc`; the same instants on every backend); DST-ambiguous wall
  times are read as standard time and non-existent ones move forward to the
  change, as in :mod:`cxkit.io`. Unix times are UTC.

Each table's unreadable values are counted in one aggregate query, so that a
column mostly unreadable stops with the same one-line
:class:`~cxkit.exceptions.SchemaError` as the pandas reader. It runs on the
finished table (the materialised one when the caller passes ``materialise``,
so a CSV file is parsed once), or over the export before the table is built
when that is needed anyway: to type unmapped text columns (numbers, then
flags, else text, as :mod:`cxkit.io` does), for the Unix-time unit hint, and
for derived columns (a second query then counts their unreadable inputs).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import pandas as pd

from cxkit._derive import UnreadableExpr, compile_expression
from cxkit._engine_source import Source, open_export, unreadable
from cxkit._engine_time import to_utc
from cxkit._formats import (
    FALSE,
    MIN_SWAPPED,
    OFFSET_PATTERN,
    STRUCTURAL_SHARE,
    TRUE,
    check_day_month,
    epoch_unit_hint,
    export_names,
    format_hint,
    swapped_format,
)
from cxkit._ticket_quantities import add_ticket_quantity_exprs, float_literal
from cxkit.config import EPOCH_FORMATS, RESERVED, SourceConfig, TableConfig
from cxkit.exceptions import ConfigError, SchemaError, SourceError
from cxkit.schema import TABLES, columns_of
from cxkit.validate import UNPARSED, UNPARSED_VALUES

__all__ = ["read_engine_table"]

_ZERO_ONE = ("1", "0", "1.0", "0.0")
_ISO_SHAPES = (  # ISO 8601 shapes pandas reads and the engine's cast does not
    (r"^(\d{4})(\d{2})(\d{2})$", r"\1-\2-\3"),
    (r"^(\d{4}-\d{1,2})$", r"\1-01"),
    (r"^(\d{4})$", r"\1-01-01"),
    (r"^(\d{4}-\d{1,2}-\d{1,2}[T ]\d{1,2})$", r"\1:00"),
)
_EPOCH_LIMIT_S = 9.2e9  # pandas timestamps end in 2262: larger Unix times are unreadable
_US = {"s": 1_000_000, "ms": 1_000}


# --- the engine's own functions, called by name (no SQL strings) -------------------------

@ibis.udf.scalar.builtin(name="timezone")
def _wall(zone: str, ts: dt.Timestamp(timezone="UTC")) -> dt.Timestamp():
    """DuckDB/Postgres ``timezone(zone, timestamptz)``: instant -> wall time in ``zone``."""


@ibis.udf.scalar.builtin(name="try_strptime")
def _try_strptime(text: str, fmt: str) -> dt.Timestamp():
    """DuckDB ``try_strptime``: NULL where the text does not match the format."""


# --- reading -----------------------------------------------------------------------------

def read_engine_table(con, tcfg: TableConfig, *, config: SourceConfig,
                      materialise=None) -> ir.Table:
    """One table as an Ibis expression: mapped, typed and tracked, not yet validated.

    Parameters
    ----------
    con : ibis backend
        The connection (DuckDB for file sources; DuckDB, Postgres or PySpark
        for ``table:`` sources).
    tcfg : TableConfig
        The table's entry of the source config.
    config : SourceConfig
        The whole config (reporting zone, folder of relative paths).
    materialise : callable, optional
        ``materialise(table) -> table`` (e.g. a temporary table of the
        backend), applied to the finished table before its structural checks
        count unreadable values on it, so that a CSV file is parsed once; the
        materialised table is returned.

    Returns
    -------
    ibis.Table
        The canonical columns the export has, its other columns under
        snake_cased names, ``source_row``, ``source_file``,
        ``_unparsed_columns`` and ``_unparsed_values`` (``""`` on rows that
        parsed), and for tickets ``first_response_minutes``,
        ``resolution_hours`` and ``first_contact_resolved``. Timestamps are
        naive UTC instants.

    Raises
    ------
    ConfigError, SourceError, SchemaError
        As :func:`cxkit.io.read_table`: a config the engine cannot follow
        (with what to do instead), a missing or unreadable file, a required
        column missing or a column mostly unreadable.
    """
    source = open_export(con, tcfg, config)
    return _Reader(con, tcfg, config, source, materialise).read()


# --- parsing, typing and reporting -------------------------------------------------------

def _py_repr(s: ir.StringValue) -> ir.StringValue:
    """Python's ``repr`` of text, as the pandas reader writes values into messages."""
    esc = (s.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")
           .replace("\t", "\\t"))
    double = s.contains("'") & ~s.contains('"')
    return ibis.ifelse(double, '"' + esc + '"', "'" + esc.replace("'", "\\'") + "'")


def _as_text(v: ir.Value) -> ir.StringValue:
    """``str(v)``: text as is, other types cast (missing stays missing)."""
    if v.type().is_string():
        return v
    if v.type().is_floating():
        whole = v.cast("int64").cast("string") + ".0"
        return ibis.ifelse((v % 1 == 0) & (v.abs() < float_literal(1e15)), whole,
                           v.cast("string"))
    if v.type().is_boolean():
        return ibis.ifelse(v, "True", "False")
    return v.cast("string")


def _stripped(v: ir.Value) -> ir.StringValue:
    """Stripped text with empty strings as missing (io's ``_text``).

    Trimming is slow; it runs only on text that starts or ends with a blank or
    control character, or is empty (a CASE is lazy).
    """
    s = _as_text(v)
    edge = (s.left(1) <= " ") | (s.right(1) <= " ")
    return ibis.ifelse(edge, s.strip().nullif(""), s)


@dataclass
class _Mark:
    col: str
    failed: ir.BooleanValue
    note: ir.StringValue


@dataclass
class _Check:
    """A structural check: run in the aggregate query, judged in column order."""

    col: str
    kind: str
    text: ir.StringValue  # stripped text the parser saw
    failed: ir.BooleanValue
    derived: bool = False
    epoch: bool = False
    derive_input: str | None = None  # set: an input column of a derived column
    derive_kind: str | None = None
    stats: dict = field(default_factory=dict)
    out_failed: ir.BooleanValue | None = None  # set: counted on the finished table


class _Reader:
    def __init__(self, con, tcfg: TableConfig, config: SourceConfig, source: Source,
                 materialise=None):
        self.con, self.tcfg, self.config, self.source = con, tcfg, config, source
        self.materialise = materialise
        self.backend = con.name
        self.label = source.label
        self.zone = tcfg.timezone or config.timezone
        self.decimal = str(tcfg.read_options.get("decimal", "."))
        self.thousands = tcfg.read_options.get("thousands")
        self.marks: list[_Mark] = []
        self.checks: list[_Check] = []
        self.export_of: dict[str, str] = {}
        self.export_columns: list[str] = []
        self.cur = source.table  # the source plus intermediate columns (see ``stage``)
        self.staged: list[str] = []

    def to_utc(self, wall: ir.TimestampValue) -> ir.TimestampValue:
        """Wall times in the table's zone -> UTC instants (``wall`` computed once)."""
        return wall if self.zone == "UTC" else to_utc(self.stage(wall), self.zone)

    def stage(self, expr: ir.Value) -> ir.Value:
        """``expr`` as a column of an intermediate projection: reused, never repeated in SQL."""
        name = f"__cxkit_{len(self.staged)}"
        self.cur = self.cur.mutate(**{name: expr})
        self.staged.append(name)
        return self.cur[name]

    # -- names -----------------------------------------------------------------------------
    def export_name(self, col: str) -> str:
        return str(self.tcfg.columns.get(col, self.export_of.get(col, col)))

    def _rename(self, t: ir.Table) -> dict[str, ir.Value]:
        tcfg = self.tcfg
        self.export_columns, names = export_names(t.columns, tcfg.columns, label=self.label,
                                                  table=tcfg.name, reserved=RESERVED)
        self.export_of = {new: old for old, new in names.items()}
        cols = {new: t[old] for old, new in names.items()}
        for canonical, export in tcfg.columns.items():  # an export column mapped twice
            if canonical not in cols:
                cols[canonical] = t[export]
        return cols

    # -- parsing ----------------------------------------------------------------------------
    def parse_numbers(self, text: ir.StringValue) -> ir.FloatingValue:
        s = text
        if self.decimal != "." or self.thousands:
            s = s.strip()
            if self.thousands:
                s = s.replace(str(self.thousands), "")
            if self.decimal != ".":
                s = ibis.ifelse(s.contains("."), ibis.null("string"), s)
                s = s.replace(self.decimal, ".")
        out = s.try_cast("float64")
        return ibis.ifelse(out.isnan(), ibis.null("float64"), out)

    def parse_datetime(self, v: ir.Value, *, stripped: bool = False) -> ir.TimestampValue:
        """Text or timestamps -> naive UTC instants (NULL where unreadable).

        ``stripped``: ``v`` is already stripped text with empty values missing.
        """
        if v.type().is_timestamp():
            return self._typed_timestamp(v)
        if v.type().is_date():
            return self.to_utc(v.cast(dt.Timestamp()))
        text = v if stripped else self.stage(_stripped(v))
        fmt = self.tcfg.datetime_format
        if fmt in EPOCH_FORMATS:  # Unix time is UTC whatever the export's zone
            number = text.try_cast("float64")
            us = (number * _US[EPOCH_FORMATS[fmt]]).round().cast("int64")
            ok = number.abs() <= _EPOCH_LIMIT_S * 1_000_000 / _US[EPOCH_FORMATS[fmt]]
            epoch = ibis.timestamp("1970-01-01 00:00:00")
            return ibis.ifelse(ok, epoch + us.as_interval("us"), ibis.null(dt.Timestamp()))
        if self.backend != "duckdb":
            raise ConfigError(f"tables.{self.tcfg.name}: text timestamps are parsed by the "
                              f"duckdb backend only; store them as timestamps in the "
                              f"{self.backend} table.")
        if fmt is not None:
            if "%z" in fmt or "%Z" in fmt:
                raise ConfigError(f"tables.{self.tcfg.name}.datetime_format {fmt!r}: the engine "
                                  "reader takes no zone directive; drop %z/%Z (ISO 8601 offsets "
                                  "are read without a format) or read without an `engine:` "
                                  "block.")
            try:
                pd.to_datetime(pd.Series(["2024-01-01"]), format=fmt, errors="coerce")
            except ValueError as exc:  # a directive pandas does not know
                raise ConfigError(f"tables.{self.tcfg.name}.datetime_format {fmt!r} is not a "
                                  f"valid format ({exc}); use strftime codes such as "
                                  "\"%d/%m/%Y %H:%M\", or epoch_s / epoch_ms.") from None
            return self.to_utc(_try_strptime(text, fmt))
        # the regular expression runs only on text that can end in an offset (a CASE is lazy)
        tail = text.right(3).left(1)
        maybe = (text.length() > 19) | text.endswith("Z") | (tail == "+") | (tail == "-")
        zoned = ibis.ifelse(maybe, text.re_search(OFFSET_PATTERN), False)
        offset = text.re_extract(r"(Z|[+-]\d{2}(:?\d{2})?)$", 1)
        local = text.re_replace(r"\s*(Z|[+-]\d{2}(:?\d{2})?)$", "")
        sign = ibis.ifelse(offset.startswith("-"), -1, 1)
        digits = offset.re_replace(r"[^0-9]", "")
        minutes = ibis.ifelse(offset == "Z", 0,
                              sign * (digits.substr(0, 2).cast("int64") * 60
                                      + digits.substr(2, 2).nullif("").cast("int64")
                                      .fill_null(0)))
        aware = _iso(local) - minutes.as_interval("m")
        naive = self.to_utc(_iso(text))
        return ibis.ifelse(zoned, aware, naive)

    def _typed_timestamp(self, v: ir.TimestampValue) -> ir.TimestampValue:
        if v.type().timezone is None:
            return self.to_utc(v)
        if self.backend in ("duckdb", "postgres"):
            return _wall("UTC", v.cast(dt.Timestamp(timezone="UTC")))
        return v.cast(dt.Timestamp())

    def coerce(self, given: ir.Value, kind: str, col: str, *, derived: bool = False):
        """Canonical type for ``kind``; returns (value, failed or None, check or None)."""
        typ = given.type()
        if kind in ("id", "text"):
            if typ.is_floating():  # whole-number ids stored as floats: "17", not "17.0"
                whole = (given % 1 == 0) & (given.abs() < float_literal(1e15))
                given = ibis.ifelse(whole, given.cast("int64").cast("string"),
                                    given.cast("string"))
            return _stripped(given), None, None
        if kind == "datetime":
            if typ.is_timestamp() or typ.is_date():
                return self.parse_datetime(given), None, None
            text = self.stage(_stripped(given))
            out = self.parse_datetime(text, stripped=True)
        elif kind == "bool":
            if typ.is_boolean():
                return given, None, None
            text = self.stage(_stripped(given))
            low = text.lower()
            out = ibis.cases((_one_of(low, TRUE), True), (_one_of(low, FALSE), False),
                             else_=ibis.null("boolean"))
        else:
            if typ.is_numeric() and not typ.is_boolean():
                out = given.cast("float64")
                if typ.is_floating():
                    out = ibis.ifelse(out.isnan(), ibis.null("float64"), out)
                text = None
            else:
                text = self.stage(_stripped(given))
                out = self.parse_numbers(text)
            if kind == "int":
                out = ibis.ifelse(out % 1 == 0, out, ibis.null("float64"))
            if text is None:  # typed numbers: only non-whole ones fail
                failed = given.notnull() & ~given.cast("float64").isnan() & out.isnull() \
                    if kind == "int" else None
                if kind == "int":
                    out = out.cast("int64")
                    text = _as_text(given)
                    check = _Check(col, kind, text, failed, derived=derived)
                    return out, failed, check
                return out, None, None
            if kind == "int":
                out = out.cast("int64")
        out = self.stage(out)  # the value, its flag and its note read one computed column
        failed = self.stage(text.notnull() & out.isnull())
        check = _Check(col, kind, text, failed, derived=derived,
                       epoch=kind == "datetime" and self.tcfg.datetime_format in EPOCH_FORMATS)
        return out, failed, check

    def infer(self, given: ir.Value, stats: dict | None) -> ir.Value:
        """Type an unmapped column: numbers, then flags, else stripped text (io's ``_infer``)."""
        typ = given.type()
        if typ.is_timestamp() or typ.is_date():
            return self.parse_datetime(given)
        if typ.is_floating():
            return ibis.ifelse(given.isnan(), ibis.null(typ), given)
        if typ.is_numeric() or typ.is_boolean():
            return given
        if not typ.is_string() or stats is None:
            return _stripped(given) if typ.is_string() else given
        text = _stripped(given)
        present, numbers, flags, zero_one = (int(stats[k]) for k in ("present", "numbers",
                                                                     "flags", "zero_one"))
        if present == 0:
            return text
        if numbers == present:
            return self.parse_numbers(text)
        if flags == present and zero_one < present:
            return ibis.ifelse(text.isnull(), ibis.null("boolean"),
                               _one_of(text.lower(), TRUE))
        return text

    def _infer_stats(self, given: ir.Value) -> dict:
        text = _stripped(given)
        low = text.lower()
        return {"present": text.notnull().sum(),
                "numbers": (text.notnull() & self.parse_numbers(text).notnull()).sum(),
                "flags": _one_of(low, TRUE | FALSE).sum(),
                "zero_one": _one_of(low, _ZERO_ONE).sum()}

    def note(self, label: str, export: ir.Value, given: ir.Value) -> ir.StringValue:
        """``label='text'``, with `` (mapped to 'x')`` when a value map changed the text."""
        raw, used = _as_text(export).fill_null("None"), _as_text(given).fill_null("None")
        out = label + "=" + _py_repr(raw)
        return ibis.ifelse(used != raw, out + " (mapped to " + _py_repr(used) + ")", out)

    def mark(self, col: str, failed, note) -> None:
        if failed is not None:
            self.marks.append(_Mark(col, failed, note))

    # -- the table --------------------------------------------------------------------------
    def read(self) -> ir.Table:
        tcfg, t = self.tcfg, self.source.table
        cols = self._rename(t)
        aliases = {export: new for new, export in self.export_of.items()}
        before_map: dict[str, ir.Value] = {}
        for key, mapping in tcfg.values.items():
            col = key if key in cols else aliases.get(key)
            if col is None:
                raise ConfigError(
                    f"tables.{tcfg.name}.values: column {key!r} is not in {self.label}; use a "
                    f"canonical or export column name: "
                    f"{', '.join(map(str, self.export_columns[:25]))}.")
            before_map.setdefault(col, cols[col])
            cols[col] = _map_values(cols[col], mapping)
        spec = columns_of(tcfg.name)
        given_of: dict[str, ir.Value] = {}
        infer_stats: dict[str, dict] = {}
        pending: list[str] = []  # unmapped columns typed once the aggregate query has run
        for col in list(cols):
            if tcfg.derive:
                given_of[col] = cols[col]
            if col in spec and col not in tcfg.derive:
                given = cols[col]
                cols[col], failed, check = self.coerce(given, spec[col].kind, col)
                if failed is not None:
                    name = col if self.export_name(col) == col \
                        else f"{col} ({self.export_name(col)})"
                    self.mark(col, failed, self.note(name, before_map.get(col, given), given))
                    self.checks.append(check)
            else:
                if self.source.infer and cols[col].type().is_string():
                    infer_stats[col] = self._infer_stats(cols[col])
                pending.append(col)
        # the counts need a pass over the export before the table is built only to type
        # unmapped columns, for Unix-time hints and for derived columns; else they are
        # taken from the finished (materialised) table
        deferred = not (infer_stats or tcfg.derive or any(c.epoch for c in self.checks))
        stats = {} if deferred else self._aggregate(self.cur, infer_stats)
        for col in pending:
            cols[col] = self.infer(cols[col], stats.get(col))
        base_checks = list(self.checks)
        if not deferred:
            self._judge()
        self._derive(cols, given_of, before_map, aliases, spec)
        if tcfg.dedupe is not None:
            self._dedupe_columns(cols, aliases)
        missing = [c.name for c in TABLES[tcfg.name] if c.required and c.name not in cols]
        if missing:
            raise SchemaError(
                f"{self.label}: required column {missing[0]!r} of table {tcfg.name} not found. "
                f"Columns in the export: {', '.join(map(str, self.export_columns[:25]))}. Fix: "
                f"map it in the config with `tables.{tcfg.name}.columns.{missing[0]}: <export "
                "column name>`.")
        out = _assemble(self.cur, cols, self.marks)
        if tcfg.name == "tickets":  # first response, resolution time, FCR: derived once, here
            out = add_ticket_quantity_exprs(out)
            last = (UNPARSED, UNPARSED_VALUES)
            out = out.select(*[c for c in out.columns if c not in last], *last)
        if self.materialise is not None:
            out = self.materialise(out)
        if deferred:
            self.checks = base_checks
            self._aggregate_output(out)
            self._judge()
        return out

    def _aggregate_output(self, out: ir.Table) -> None:
        """The structural counts from the finished table: its unparsed names and values."""
        listed = "," + out[UNPARSED] + ","
        aggs = {"__rows": out.count()}
        for i, chk in enumerate(self.checks):
            chk.out_failed = listed.contains(f",{chk.col},")
            aggs[f"c__nonempty__{i}"] = (out[chk.col].notnull() | chk.out_failed).sum()
            aggs[f"c__failed__{i}"] = chk.out_failed.sum()
        row = self._run(out.aggregate(**aggs))
        for i, chk in enumerate(self.checks):
            chk.stats = {"nonempty": int(row[f"c__nonempty__{i}"] or 0),
                         "failed": int(row[f"c__failed__{i}"] or 0)}
        self._output = out
        self._table_for_examples = self.cur

    # -- derived columns ---------------------------------------------------------------------
    def _derive(self, cols, given_of, before_map, aliases, spec) -> None:
        tcfg = self.tcfg
        if not tcfg.derive:
            return
        self.checks = []
        for col, expr in tcfg.derive.items():
            unreadable: dict[str, UnreadableExpr] = {}
            try:
                value = compile_expression(expr, cols, to_datetime=self.parse_datetime,
                                           aliases=aliases, unreadable=unreadable,
                                           reporting_zone=self.config.timezone)
            except ConfigError as exc:
                raise ConfigError(f"tables.{tcfg.name}.derive.{col}: {exc}") from None
            for src, check in unreadable.items():
                given = given_of.get(src, cols[src])
                export = before_map.get(src, given)
                label = f"{col} (derived from {self.export_name(src)})"
                self.mark(col, check.failed, self.note(label, export, given))
                self.checks.append(_Check(col, check.kind, _stripped(export), check.failed,
                                          derive_input=src, derive_kind=check.kind,
                                          stats={"tried": check.tried}))
            if col in spec:
                given = value
                value, failed, chk = self.coerce(given, spec[col].kind, col, derived=True)
                if failed is not None:
                    self.mark(col, failed, self.note(f"{col} (derived)", given, given))
                    self.checks.append(chk)
            cols[col] = value
            given_of.pop(col, None)
            before_map.pop(col, None)
        if self.checks:
            self._aggregate(self.cur, {})
            self._judge()

    def _dedupe_columns(self, cols, aliases) -> None:
        rule, name = self.tcfg.dedupe, self.tcfg.name
        for col in rule.key + (() if rule.by == "file_order" else (rule.by,)):
            if col not in cols or col in RESERVED:
                known = list(cols)
                hint = f" (write {aliases[col]!r})" if col in aliases else ""
                raise ConfigError(f"tables.{name}.dedupe: column {col!r}{hint} is not in the "
                                  f"mapped table {self.label}; use a canonical or snake_cased "
                                  f"name: {', '.join(map(str, known[:25]))}.")
        if rule.by == "file_order":
            return
        by = rule.by
        typ = cols[by].type()
        if not (typ.is_timestamp() or typ.is_numeric()):
            given = cols[by]
            cols[by], failed, _check = self.coerce(given, "datetime", by)
            self.mark(by, failed, self.note(by, given, given))

    # -- the aggregate query and the structural errors ---------------------------------------
    def _aggregate(self, t: ir.Table, infer_stats: dict) -> dict:
        aggs = {"__rows": t.count()}
        for col, exprs in infer_stats.items():
            for key, e in exprs.items():
                aggs[f"i__{key}__{col}"] = e
        for i, chk in enumerate(self.checks):
            tried = chk.stats.get("tried", chk.text.notnull())
            aggs[f"c__nonempty__{i}"] = tried.sum()
            aggs[f"c__failed__{i}"] = chk.failed.sum()
            if chk.epoch:
                aggs[f"c__median__{i}"] = chk.text.try_cast("float64").abs().median()
        row = self._run(t.aggregate(**aggs))
        out: dict[str, dict] = {}
        for col, exprs in infer_stats.items():
            out[col] = {key: row[f"i__{key}__{col}"] or 0 for key in exprs}
        for i, chk in enumerate(self.checks):
            chk.stats = {"tried": chk.stats.get("tried"),
                         "nonempty": int(row[f"c__nonempty__{i}"] or 0),
                         "failed": int(row[f"c__failed__{i}"] or 0)}
            if chk.epoch:
                chk.stats["median"] = row[f"c__median__{i}"]
        self._table_for_examples = t
        return out

    def _run(self, query: ir.Table) -> pd.Series:
        """The one row of an aggregate query; an empty export or a read error stops."""
        try:
            row = self.con.execute(query).iloc[0]
        except (ConfigError, SchemaError, SourceError):
            raise
        except Exception as exc:
            raise unreadable(exc, self.tcfg, self.label) from None
        if int(row["__rows"]) == 0:
            raise SourceError(f"{self.label}: the export has no rows (table {self.tcfg.name}).")
        return row

    def _judge(self) -> None:
        for chk in self.checks:
            if chk.derive_input is not None:
                self._judge_derive_input(chk)
                continue
            if chk.kind == "datetime" and not chk.derived:
                self._check_dates(chk)
            nonempty, failed = chk.stats["nonempty"], chk.stats["failed"]
            if not nonempty or failed <= STRUCTURAL_SHARE * nonempty:
                continue
            name, col = self.tcfg.name, chk.col
            examples = self._examples(chk)
            if chk.kind == "datetime":
                expected = self.tcfg.datetime_format or "ISO 8601 (e.g. 2024-03-31 14:05)"
                fix = (f"set `tables.{name}.datetime_format` to the export's format "
                       "(strftime codes)")
            elif chk.kind == "bool":
                expected = "yes/no, true/false or 1/0"
                fix = f"translate the export's labels with `tables.{name}.values.{col}`"
            else:
                expected = "a whole number" if chk.kind == "int" else "a number"
                fix = f"translate non-numeric labels with `tables.{name}.values.{col}`"
            hint = format_hint(pd.Series(examples["all"], dtype=object)) \
                if chk.kind == "datetime" else ""
            key = f"tables.{name}.derive.{col}"
            source = f"column {col} derived by `{key}`" if chk.derived \
                else f"column {self.export_of.get(col, col)!r} (mapped to {col})"
            fix = f"correct the expression in `{key}`" if chk.derived else \
                f"{fix}, or map the right column in `tables.{name}.columns.{col}`"
            raise SchemaError(
                f"{self.label}: {source} has {failed} of {nonempty} non-empty values "
                f"({failed / nonempty:.0%}) that cannot be read as {expected}, e.g. "
                f"{examples['shown']}.{hint} Fix: {fix}.")

    def _examples(self, chk: _Check) -> dict:
        t = self._table_for_examples
        rows = t.filter(chk.failed).select(v=chk.text, f=t.source_file, r=t.source_row)
        got = self.con.execute(rows.order_by(["f", "r"]).limit(1000))
        values = pd.unique(got["v"].astype(object))
        return {"all": list(values[:200]),
                "shown": ", ".join(repr(str(v)) for v in values[:3])}

    def _judge_derive_input(self, chk: _Check) -> None:
        tried, failed = chk.stats["nonempty"], chk.stats["failed"]
        if not tried or failed <= STRUCTURAL_SHARE * tried:
            return
        name, src = self.tcfg.name, chk.derive_input
        examples = self._examples(chk)["shown"]
        expected = {"number": "a number", "datetime": "a timestamp"}.get(
            chk.derive_kind, "a number or a timestamp")
        if chk.derive_kind == "datetime":
            fix = f"set `tables.{name}.datetime_format` to the export's format (strftime codes)"
        else:
            fix = f"translate non-numeric labels with `tables.{name}.values.{src}`"
        raise SchemaError(
            f"{self.label}: `tables.{name}.derive.{chk.col}` reads column "
            f"{self.export_name(src)!r} as {expected}, but {failed} of {tried} non-empty values "
            f"({failed / tried:.0%}) cannot be read, e.g. {examples}. Fix: {fix}, or correct "
            "the expression.")

    def _check_dates(self, chk: _Check) -> None:
        """Swapped day and month, or the wrong Unix-time unit (io's ``_check_dates``)."""
        fmt, name = self.tcfg.datetime_format, self.tcfg.name
        export = self.export_name(chk.col)
        if chk.epoch:
            median = chk.stats.get("median")
            other = None if median is None or pd.isna(median) else \
                epoch_unit_hint(pd.Series([float(median)]), fmt)
            if other is not None:
                unit = {"epoch_s": "seconds", "epoch_ms": "milliseconds"}
                raise SchemaError(f"{self.label}: column {export!r} (mapped to {chk.col}) holds "
                                  f"Unix times in {unit[other]}, not {unit[fmt]}. Fix: set "
                                  f"`tables.{name}.datetime_format: {other}`.")
            return
        if chk.stats["failed"] < MIN_SWAPPED or swapped_format(fmt or "") is None:
            return
        found = self._day_month(chk, fmt)
        if found is None:
            return
        where, other, rows, share, whole = found
        setting = f"set `tables.{name}.datetime_format: \"{other}\"`"
        if whole:
            fix = setting + (f" if every file writes day and month this way, else re-export "
                             f"{where} in the others' format" if self.source.files > 1 else "")
            raise SchemaError(
                f"{export!r} in {where or self.label} reads as {other} for all {rows} rows but "
                f"as {fmt} (the config's datetime_format) for only {share:.0%}: day and month "
                f"are swapped, and half-parsed dates would be wrong. Fix: {fix}.")
        raise SchemaError(
            f"{export!r} in {where or self.label} mixes day/month orders: {1 - share:.0%} of "
            f"its {rows} dates read only as {other}, the rest as {fmt} (the config's "
            "datetime_format), and dates with a day up to 12 read both ways, so they cannot be "
            f"told apart. Fix: re-export the file with one date format ({setting} if that is "
            "the export's).")

    def _day_month(self, chk: _Check, fmt: str):
        """Fetch the files where at least 1% of the dates failed and ask ``check_day_month``."""
        t = self._table_for_examples
        if chk.out_failed is not None:  # counted on the finished table
            o, bad = self._output, chk.out_failed
            per_file = o.filter(o[chk.col].notnull() | bad).group_by(f=o.source_file).aggregate(
                rows=ibis._.count(), failed=bad.sum())
        else:
            per_file = t.filter(chk.text.notnull()).group_by(f=t.source_file).aggregate(
                rows=ibis._.count(), failed=chk.failed.sum())
        per_file = self.con.execute(per_file)
        limit = per_file["rows"].clip(lower=0) * 0.01
        files = per_file.loc[per_file["failed"] >= limit.clip(lower=MIN_SWAPPED), "f"].tolist()
        if not files:
            return None
        got = self.con.execute(t.filter(chk.text.notnull() & t.source_file.isin(files))
                               .select(v=chk.text, f=t.source_file, r=t.source_row,
                                       bad=chk.failed).order_by(["f", "r"]))
        text = got["v"].astype(object)
        return check_day_month(text, got["bad"].astype(bool), fmt, got["f"],
                               lambda s, f: pd.to_datetime(s, format=f, errors="coerce"))


def _one_of(text: ir.StringValue, words) -> ir.BooleanValue:
    """``text`` equals one of ``words``: equalities (an IN list becomes a join in DuckDB)."""
    out = None
    for w in sorted(words):
        out = text == w if out is None else out | (text == w)
    return out


def _iso(text: ir.StringValue) -> ir.TimestampValue:
    """ISO 8601 text -> naive timestamps (the shapes pandas' ``format="ISO8601"`` reads)."""
    shaped = text
    for pattern, repl in _ISO_SHAPES:  # each leaves text it does not match as it is
        shaped = shaped.re_replace(pattern, repl)
    # the regular expressions run only where the plain cast fails (a CASE is lazy)
    plain = text.try_cast(dt.Timestamp())
    return ibis.ifelse(plain.notnull() | text.isnull(), plain, shaped.try_cast(dt.Timestamp()))


def _map_values(v: ir.Value, mapping) -> ir.StringValue:
    """A value map: stripped text found in ``mapping`` -> ``str`` of its value (null: missing)."""
    text = _as_text(v)
    key = text.strip()
    branches = [(key == str(k), ibis.literal(None if out is None else str(out), type="string"))
                for k, out in mapping.items()]
    return ibis.cases(*branches, else_=text) if branches else text


def _assemble(t: ir.Table, cols: dict, marks: list[_Mark]) -> ir.Table:
    """The output table: tracking columns, then the mapped columns, then the unparsed ones."""
    names, order = {}, []
    for m in marks:
        if m.col not in names:
            order.append(m.col)
            names[m.col] = m.failed
        else:
            names[m.col] = names[m.col] | m.failed
    if marks:  # the text is built only on rows with an unreadable value (a CASE is lazy)
        anything = None
        for m in marks:
            anything = m.failed if anything is None else anything | m.failed
        unparsed = ibis.literal(",").join(
            [ibis.ifelse(names[c], c, ibis.null("string")) for c in order])
        shown = ibis.literal("; ").join(
            [ibis.ifelse(m.failed, m.note, ibis.null("string")) for m in marks])
        unparsed = ibis.ifelse(anything, unparsed.fill_null(""), "")
        shown = ibis.ifelse(anything, shown.fill_null(""), "")
    else:
        unparsed = shown = ibis.literal("")
    out = {"source_row": t.source_row, "source_file": t.source_file, **cols,
           UNPARSED: unparsed, UNPARSED_VALUES: shown}
    return t.select(**out)
