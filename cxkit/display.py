"""Tables for people: numbers formatted by unit, the same in JupyterLab and in reports.

:func:`format_table` turns a DataFrame into a :class:`DisplayTable` built on
pandas' ``Styler`` (the one table library of cxkit): every number is shown in
its unit — shares and percentages as ``58.6%``, percentage points with a sign
(``+0.41 pp``), money with its currency and thousands separators, durations
in hours and minutes (``1 h 02 min``), counts with separators, p-values as
``<0.001`` — without the index column, missing values as ``–`` with a
footnote, long tables cut to their first (or latest) rows with the full table
one click away as CSV, and wide tables folded so they fit the page.

The unit of a column comes, in this order, from ``units=``, from
``df.attrs["units"]``, from a ``unit`` column (row by row), from the metric
registry (:func:`cxkit.registry.lookup`) and from the column name (the
naming rule of cxkit: ``_rate`` for 0-1 shares, ``_pct``, ``_amount``,
``_hours``, ``_minutes``, ``_count``, ``p_value``...).

:func:`register_display` (called by :func:`cxkit.set_theme`) makes every
DataFrame a notebook shows go through :func:`format_table`, so a notebook
opened in JupyterLab looks like its rendered report.
"""

from __future__ import annotations

import base64
import hashlib
import html
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["UNITS", "DisplayTable", "format_table", "format_value", "column_unit",
           "register_display"]

#: Unit names :func:`format_value` knows, with what each means.
UNITS = {
    "share": "a share 0-1, shown as a percentage",
    "pct": "a percentage 0-100",
    "pp": "percentage points, shown with a sign",
    "money": "an amount in the data's currency",
    "hours": "a duration in hours, shown in hours and minutes",
    "minutes": "a duration in minutes, shown in hours and minutes",
    "count": "a whole number, with thousands separators",
    "p_value": "a p-value; below 0.001 shown as <0.001",
    "ratio": "an odds or hazard ratio",
    "score": "a score on a survey scale",
    "number": "any other number",
    "signed": "any other number, shown with a sign",
    "date": "a date or a period start",
    "text": "text, shown as is",
}

MISSING = "–"
_IDENTIFIER = re.compile(r"[a-z][a-z0-9]*(_[a-z0-9]+)+")
_CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}
_UNIT_WORDS = {"pp": "pp", "percentage points": "pp", "share": "share", "rate": "share",
               "%": "pct", "pct": "pct", "percent": "pct", "hours": "hours", "h": "hours",
               "minutes": "minutes", "min": "minutes", "customers": "count", "count": "count",
               "tickets": "count", "hazard ratio": "ratio", "odds ratio": "ratio",
               "score": "score"}
_TOKEN_UNITS = (("amount", "money"), ("pp", "pp"), ("pct", "pct"), ("rate", "share"),
                ("share", "share"), ("hours", "hours"), ("minutes", "minutes"),
                ("count", "count"), ("ratio", "ratio"), ("csat", "score"), ("ces", "score"),
                ("nps", "score"), ("ame", "pp"), ("change", "signed"))

# the metric registry's unit names -> the formats here ("value": not a known metric)
_REGISTRY_UNITS = {"rate": "share", "pct": "pct", "pp": "pp", "hours": "hours",
                   "minutes": "minutes", "score": "score", "points": "score", "count": "count",
                   "ratio": "score", "amount": "money", "months": "number"}

#: Rows shown before a table is cut (the rest is in its CSV link).
TOP_ROWS = 15
#: Value columns per block before a wide table is folded into blocks.
MAX_COLUMNS = 8

# selectors carry the wrapper's class too, so they outrank JupyterLab's (and nbconvert's)
# right-aligned ":not(.jp-RenderedMarkdown).jp-RenderedHTMLCommon td"
_CSS = """<style>
.cx-table-wrap table.cx-table { border-collapse: collapse; margin: .4em 0 .2em; font-size: 0.85em;
  font-variant-numeric: tabular-nums; max-width: 100%; }
.cx-table-wrap table.cx-table th { text-align: left; vertical-align: bottom; font-weight: 600;
  border-bottom: 1px solid #999; padding: .25em .6em; white-space: normal;
  overflow-wrap: anywhere; min-width: 4em; max-width: 14em; }
.cx-table-wrap table.cx-table td { padding: .25em .6em; border-bottom: 1px solid #e4e4e4;
  vertical-align: top; max-width: 28em; text-align: left; }
.cx-table-wrap table.cx-table td.cx-num { text-align: right; white-space: nowrap; }
.cx-table-wrap table.cx-table caption { caption-side: bottom; text-align: left; color: #555;
  font-size: 0.9em; padding-top: .3em; }
</style>"""


def _is_missing(value) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    try:
        return bool(isinstance(value, float) and math.isnan(value))
    except TypeError:
        return False


def _number(x: float) -> str:
    """A plain number: about three significant digits, thousands separators."""
    a = abs(x)
    if a == 0:
        return "0"
    if a >= 100:
        return f"{x:,.0f}"
    if a >= 10:
        return f"{x:.1f}"
    if a >= 0.01:
        return f"{x:.2f}"
    return f"{x:.2g}"


def _duration(minutes: float) -> str:
    sign = "−" if minutes < 0 else ""
    m = abs(minutes)
    if m < 10:
        return f"{sign}{m:.1f} min"
    if m < 60:
        return f"{sign}{m:.0f} min"
    if m >= 48 * 60:
        return f"{sign}{m / 60:,.0f} h"
    h, rest = divmod(round(m), 60)
    return f"{sign}{h} h {rest:02d} min"


def _money(x: float, currency: str | None) -> str:
    body = f"{abs(x):,.0f}" if abs(x) >= 1000 else f"{abs(x):,.2f}"
    sign = "−" if x < 0 else ""
    if not currency:
        return sign + body
    symbol = _CURRENCY_SYMBOLS.get(currency)
    return f"{sign}{symbol}{body}" if symbol else f"{sign}{body} {currency}"


def format_value(value, unit: str = "number", *, currency: str | None = None) -> str:
    """One value as text in its unit (see :data:`UNITS`); missing values as ``–``.

    Examples
    --------
    >>> format_value(0.5862, "share"), format_value(-0.4129, "pp"), format_value(61.8, "minutes")
    ('58.6%', '−0.41 pp', '1 h 02 min')
    >>> format_value(1234.5, "money", currency="USD"), format_value(2.3e-39, "p_value")
    ('$1,234', '<0.001')
    """
    if _is_missing(value):
        return MISSING
    if unit == "text" or isinstance(value, str):
        text = str(value)
        return text.replace("_", " ") if _IDENTIFIER.fullmatch(text) else text
    if unit == "date" or isinstance(value, (pd.Timestamp, np.datetime64)):
        ts = pd.Timestamp(value)
        return ts.strftime("%b %Y") if ts.day == 1 and ts.hour == 0 else ts.strftime("%Y-%m-%d")
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    try:
        x = float(value)
    except (TypeError, ValueError):
        return str(value)
    if not math.isfinite(x):
        return MISSING
    if unit == "share":
        x *= 100
        unit = "pct"
    if unit == "pct":
        return f"{x:.1f}%" if abs(x) < 99.95 or x == 100 else f"{x:,.0f}%"
    if unit == "pp":
        size = f"{abs(x):.2g}" if 0 < abs(x) < 0.005 else f"{abs(x):.2f}"
        return f"{'+' if x > 0 else '−' if x < 0 else '±'}{size} pp"
    if unit == "money":
        return _money(x, currency)
    if unit == "hours":
        return _duration(x * 60)
    if unit == "minutes":
        return _duration(x)
    if unit == "count":
        return f"{x:,.0f}" if x == round(x) else f"{x:,.1f}"
    if unit == "p_value":
        return "<0.001" if x < 0.001 else f"{x:.3f}" if x < 0.1 else f"{x:.2f}"
    if unit in ("ratio", "score"):
        return f"{x:,.2f}"
    text = _number(x)
    if unit == "signed":
        return ("+" + text) if x > 0 else text.replace("-", "−")
    return text.replace("-", "−")


def column_unit(name: str, series: pd.Series | None = None) -> str:
    """The unit of a column from its name (cxkit's naming rule) and dtype."""
    if series is not None:
        if pd.api.types.is_datetime64_any_dtype(series):
            return "date"
        if pd.api.types.is_bool_dtype(series):
            return "text"
        if not pd.api.types.is_numeric_dtype(series):
            return "text"
    low = str(name).lower()
    if low.startswith("p_value") or low.endswith("p_value") or low in ("p", "pvalue"):
        return "p_value"
    if low.startswith("n_") or low in ("n", "rows", "customers", "rank") or low.startswith("rows_"):
        return "count"
    tokens = low.split("_")
    if "ratio" not in tokens:  # the metric registry knows the unit of every metric column
        from cxkit.registry import lookup

        known = _REGISTRY_UNITS.get(lookup(str(name)).unit)
        if known:
            return known
    for token, unit in _TOKEN_UNITS:
        if token in tokens:
            return unit
    if series is not None and pd.api.types.is_integer_dtype(series):
        return "count"
    return "number"


def _row_unit(text) -> tuple[str | None, str | None]:
    """(unit, currency) named by a ``unit`` cell, or (None, None) when free text."""
    if _is_missing(text):
        return None, None
    word = str(text).strip()
    if word in _UNIT_WORDS:
        return _UNIT_WORDS[word], None
    if len(word) == 3 and word.isalpha() and word.isupper():
        return "money", word
    if word.startswith("%"):
        return "pct", None
    return None, None


def _level_unit(column: str, unit: str | None) -> str | None:
    """A level (baseline, scenario) of a quantity whose change is in pp is a percentage."""
    return "pct" if unit == "pp" and column in ("baseline", "scenario") else unit


@dataclass(frozen=True)
class DisplayTable:
    """A table formatted for reading: one or more Styler blocks and footnotes.

    Shown as HTML by JupyterLab and by the rendered reports; ``frame`` is the
    full table (all rows and columns) as given.
    """

    frame: pd.DataFrame
    blocks: tuple
    footnotes: tuple[str, ...] = ()

    def to_html(self) -> str:
        """The blocks and footnotes as one HTML fragment (with its CSS)."""
        parts = [_CSS] + [b.to_html() for b in self.blocks]
        parts += [f"<p class='cx-footnote' style='font-size:0.8em;color:#555;margin:.1em 0 1em'>"
                  f"{note}</p>" for note in self.footnotes]
        return "<div class='cx-table-wrap'>" + "\n".join(parts) + "</div>"

    def _repr_html_(self) -> str:
        return self.to_html()

    def __repr__(self) -> str:
        return repr(self.frame)


def _csv_link(frame: pd.DataFrame, label: str) -> str:
    data = base64.b64encode(frame.to_csv(index=False).encode("utf-8")).decode("ascii")
    return (f"<a download='table.csv' href='data:text/csv;base64,{data}'>"
            f"{html.escape(label)}</a>")


def _header(name) -> str:
    return str(name).replace("_", " ")


def format_table(df: pd.DataFrame, *, units: Mapping[str, str] | None = None,
                 currency: str | None = None, top: int | None = TOP_ROWS,
                 max_columns: int = MAX_COLUMNS) -> DisplayTable:
    """A DataFrame formatted by unit for people to read.

    Parameters
    ----------
    df : DataFrame
        Any table; a meaningful (non-range) index becomes a column.
    units : mapping, optional
        Column -> unit name (see :data:`UNITS`); overrides ``df.attrs["units"]``
        and the unit read from the column name.
    currency : str, optional
        Currency code of ``money`` columns; default ``df.attrs["currency"]``.
    top : int or None
        Rows shown; a longer table shows its first ``top`` rows (its latest,
        when it is ordered by a date column) and links the full table as CSV.
        ``None`` shows every row.
    max_columns : int
        Value columns per block; a wider table is folded into blocks that
        repeat its label columns, and a one-row table is shown as a list.

    Returns
    -------
    DisplayTable

    Examples
    --------
    >>> import cxkit as cx
    >>> t = cx.format_table(cx.compute_kpis(cx.load_data("sample"), period="M"))  # doctest: +SKIP
    """
    frame = df.copy()
    if not isinstance(frame.index, pd.RangeIndex) or frame.index.name is not None:
        frame = frame.reset_index()
    source = frame.copy()
    frame.columns = [str(c) for c in frame.columns]
    currency = currency or frame.attrs.get("currency") or df.attrs.get("currency")
    given = {**dict(df.attrs.get("units") or {}), **dict(units or {})}
    col_units = {c: given.get(c) or column_unit(c, frame[c]) for c in frame.columns}
    footnotes = []

    row_units = None
    if "unit" in frame.columns:
        parsed = [_row_unit(u) for u in frame["unit"]]
        if all(u is not None for u, _ in parsed):
            row_units = parsed
            frame = frame.drop(columns="unit")
        elif any(u is not None for u, _ in parsed):
            row_units = parsed
    if top is not None and len(frame) > top:
        dated = next((c for c in frame.columns if col_units[c] == "date"), None)
        latest = dated is not None and frame[dated].is_monotonic_increasing
        shown = frame.tail(top) if latest else frame.head(top)
        which = "latest" if latest else "first"
        footnotes.append(f"Showing the {which} {top} of {len(frame):,} rows; "
                         + _csv_link(source, "the full table as CSV") + ".")
        if row_units is not None:
            idx = list(range(len(frame)))[-top:] if latest else list(range(top))
            row_units = [row_units[i] for i in idx]
        frame = shown.reset_index(drop=True)

    text = pd.DataFrame(index=frame.index)
    for c in frame.columns:
        unit = col_units[c]
        values = frame[c].tolist()
        if row_units is not None and unit not in ("text", "date", "count", "p_value") \
                and c != "n_obs":
            text[c] = [format_value(v, _level_unit(c, ru) or unit, currency=rc or currency)
                       for v, (ru, rc) in zip(values, row_units, strict=True)]
        else:
            text[c] = [format_value(v, unit, currency=currency) for v in values]
    if (text == MISSING).to_numpy().any():
        footnotes.append(f"{MISSING} no value: nothing to compute it from in that row "
                         "(e.g. no tickets or answers in the group), or not defined for it.")

    numeric = [c for c in frame.columns if col_units[c] not in ("text", "date")]
    labels = [c for c in frame.columns if c not in numeric]
    if len(frame) == 1 and len(frame.columns) > max_columns:
        text = pd.DataFrame({"measure": [_header(c) for c in text.columns],
                             "value": text.iloc[0].tolist()})
        blocks = [_styler(text, numeric=["value"])]
    elif len(numeric) > max_columns:
        keys = labels[:2]
        rest = [c for c in frame.columns if c not in keys]
        step = max(1, max_columns)
        blocks = [_styler(text[keys + rest[i:i + step]], numeric=numeric)
                  for i in range(0, len(rest), step)]
    else:
        blocks = [_styler(text, numeric=numeric)]
    return DisplayTable(frame=df, blocks=tuple(blocks), footnotes=tuple(footnotes))


def _styler(text: pd.DataFrame, *, numeric):
    """One Styler block: no index, readable headers, numbers right-aligned."""
    shown = text.rename(columns=_header)
    num = [_header(c) for c in text.columns if c in numeric]
    digest = hashlib.sha1(shown.to_csv().encode("utf-8")).hexdigest()[:10]
    styler = shown.style.hide(axis="index").set_table_attributes('class="cx-table"')
    styler.set_uuid(digest)
    styler.cell_ids = False
    classes = pd.DataFrame("", index=shown.index, columns=shown.columns)
    for c in num:
        classes[c] = "cx-num"
    heads = [{"selector": f"th.col{i}", "props": "text-align: right;"}
             for i, c in enumerate(shown.columns) if c in num]
    return styler.set_td_classes(classes).set_table_styles(heads, overwrite=False)


def register_display() -> None:
    """Show DataFrames in notebooks through :func:`format_table`.

    Does nothing outside IPython. The plain-text form of a DataFrame is
    unchanged.
    """
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with ipykernel
        return
    shell = get_ipython()
    if shell is None:
        return
    formatter = shell.display_formatter.formatters["text/html"]
    formatter.for_type(pd.DataFrame, lambda df: format_table(df).to_html())
