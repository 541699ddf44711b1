"""The ``derive`` expression language of source configs.

``derive`` adds or replaces columns with expressions evaluated, in the order
given, over the mapped table (after value mapping and parsing). The language:

- column names (``replies``; names with spaces or symbols in backticks:
  ```Solved at```), numbers, strings in quotes, ``null``, ``true``, ``false``;
- arithmetic ``+ - * /`` (division by zero gives missing), comparisons
  ``== != < <= > >=``, logic ``and or not`` (missing counts as false);
- functions: ``if_else(cond, a, b)``, ``is_null(x)``, ``coalesce(a, b, ...)``
  (first non-missing), ``minutes_between(start, end)``,
  ``hours_between(start, end)`` (``end - start``; negative when end is earlier)
  and ``to_datetime(x)`` (parsed with the table's format and time zone).

Examples: ``contacts: "replies + 1"``,
``churned_at: "if_else(status == 'cancelled', status_changed_at, null)"``,
``first_response_minutes: "minutes_between(created_at, first_reply_at)"``.
Nothing else is allowed (no attribute access, no indexing, no other calls):
expressions are checked against a whitelist with :mod:`ast`, never ``eval``-ed.
Compare with missing values through ``is_null(x)``, not ``x == null``.

Text that an expression has to read as a number (arithmetic, a comparison
with a number) or as a timestamp (``to_datetime``, ``*_between``, a comparison
with a timestamp) and cannot becomes missing; the evaluation reports it per
input column (:class:`Unreadable`), only for values the result depends on
(the chosen branch of ``if_else``, the first present argument of
``coalesce``, the deciding operands of ``and``/``or``), so the reader can
quarantine those rows.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from cxkit._ticket_quantities import float_literal
from cxkit.exceptions import ConfigError

FUNCTIONS = {"if_else": (3, 3), "is_null": (1, 1), "coalesce": (1, None),
             "minutes_between": (2, 2), "hours_between": (2, 2), "to_datetime": (1, 1)}

_ALLOWED = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare, ast.Call,
            ast.Name, ast.Constant, ast.Load, ast.Add, ast.Sub, ast.Mult, ast.Div, ast.USub,
            ast.UAdd, ast.Not, ast.And, ast.Or, ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt,
            ast.GtE)
_CONSTANTS = {"null": None, "true": True, "false": False}


def parse_expression(expr: str) -> tuple[ast.Expression, dict[str, str]]:
    """Parse a derive expression and check it against the whitelist.

    Returns the syntax tree and the placeholder -> column name map of the
    backticked names. Raises :class:`ConfigError` naming the problem.
    """
    text, names = _replace_backticks(expr)
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        raise ConfigError(f"cannot parse {expr!r} ({exc.msg}); see 'Derived columns' in the "
                          "README for the language.") from None
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED):
            raise ConfigError(f"{expr!r} uses {type(node).__name__}, which the derive language "
                              "does not allow (only + - * /, comparisons, and/or/not and the "
                              f"functions {', '.join(FUNCTIONS)}).")
        if isinstance(node, ast.Constant) and not isinstance(node.value, (int, float, str)):
            raise ConfigError(f"{expr!r}: constant {node.value!r} is not allowed; use numbers, "
                              "quoted strings, null, true or false.")
        if isinstance(node, ast.Call):
            fname = node.func.id if isinstance(node.func, ast.Name) else None
            if fname not in FUNCTIONS or node.keywords:
                raise ConfigError(f"{expr!r}: unknown function {ast.unparse(node.func)!r}; "
                                  f"available: {', '.join(FUNCTIONS)}.")
            low, high = FUNCTIONS[fname]
            if len(node.args) < low or (high is not None and len(node.args) > high):
                wanted = low if low == high else f"{low} or more"
                raise ConfigError(f"{expr!r}: {fname}() takes {wanted} argument(s), "
                                  f"got {len(node.args)}.")
        if isinstance(node, ast.Compare):
            if len(node.ops) != 1:
                raise ConfigError(f"{expr!r}: chained comparisons are not allowed; join them "
                                  "with 'and'.")
            sides = [node.left, *node.comparators]
            if any(isinstance(s, ast.Name) and s.id == "null" for s in sides):
                raise ConfigError(f"{expr!r}: comparing with null is always false; use "
                                  "is_null(x) instead.")
    return tree, names


def _replace_backticks(expr: str) -> tuple[str, dict[str, str]]:
    out, names, i, quote = [], {}, 0, None
    while i < len(expr):
        ch = expr[i]
        if quote:
            out.append(ch)
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
            out.append(ch)
        elif ch == "`":
            end = expr.find("`", i + 1)
            if end < 0:
                raise ConfigError(f"{expr!r}: a backtick-quoted column name is not closed.")
            key = f"__col{len(names)}__"
            names[key] = expr[i + 1:end]
            out.append(key)
            i = end
        else:
            out.append(ch)
        i += 1
    return "".join(out), names


@dataclass(frozen=True)
class Unreadable:
    """Values of one input column that an expression had to convert.

    ``kind`` is ``"number"`` or ``"datetime"`` (``"mixed"`` when the
    expression reads the column as both); ``tried`` marks the rows whose
    non-empty value it converted and ``failed`` those it could not (a subset
    of ``tried``); both are boolean series on the frame's index.
    """

    kind: str
    tried: pd.Series
    failed: pd.Series


def evaluate_expression(expr: str, frame: pd.DataFrame, *, to_datetime=None,
                        aliases: Mapping[str, str] | None = None,
                        unreadable: MutableMapping[str, Unreadable] | None = None) -> pd.Series:
    """Evaluate a derive expression over ``frame``; one value per row.

    Parameters
    ----------
    expr : str
        The expression (see the module docstring for the language).
    frame : DataFrame
        The columns the expression may name.
    to_datetime : callable, optional
        Parses text into naive reporting-zone timestamps, NaT where it cannot
        (the reader passes the table's own parser); ``pd.to_datetime`` by
        default.
    aliases : mapping of str to str, optional
        Other names (the export's own column names) of ``frame``'s columns.
    unreadable : dict, optional
        When given, filled with one :class:`Unreadable` per column of
        ``frame`` whose text the expression had to read as a number or a
        timestamp, keyed by that column's name in ``frame``. A value that
        could not be read counts as missing; empty values are never ``failed``.

    Returns
    -------
    Series
        One value per row of ``frame``.

    Raises
    ------
    ConfigError
        For an unknown column or values that cannot be compared.
    """
    tree, names = parse_expression(expr)
    parse_dt = to_datetime or (lambda s: pd.to_datetime(s, errors="coerce"))
    ev = _Evaluator(frame, names, parse_dt, expr, dict(aliases or {}), unreadable)
    return _as_series(ev.visit(tree.body), frame.index)


def _as_series(value: Any, index: pd.Index) -> pd.Series:
    if isinstance(value, pd.Series):
        return value
    return pd.Series([value] * len(index), index=index, dtype=object if value is None else None)


def _truth(value: Any, index: pd.Index) -> pd.Series:
    s = _as_series(value, index)
    if s.dtype == bool:
        return s
    return s.astype("boolean").fillna(False).astype(bool)


def _numeric(value: Any, index: pd.Index) -> pd.Series:
    s = _as_series(value, index)
    if pd.api.types.is_bool_dtype(s) or not pd.api.types.is_numeric_dtype(s):
        s = pd.to_numeric(s.astype(object), errors="coerce")
    return s.astype("float64")


def _unify(a: pd.Series, b: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Give two series one dtype: float64 for two numeric ones, else object."""
    if a.dtype == b.dtype:
        return a, b
    num = pd.api.types.is_numeric_dtype
    if num(a) and num(b) and not (pd.api.types.is_bool_dtype(a) or pd.api.types.is_bool_dtype(b)):
        return a.astype("float64"), b.astype("float64")
    return a.astype(object), b.astype(object)


def _present(s: pd.Series) -> pd.Series:
    """Non-missing values that are not blank text."""
    present = s.notna()
    if s.dtype == object or pd.api.types.is_string_dtype(s):
        blank = s.map(lambda v: isinstance(v, str) and not v.strip()).astype(bool)
        present &= ~blank
    return present.astype(bool)


def _kind(value: Any) -> str | None:
    """``"number"``, ``"datetime"`` or ``"text"`` for a column-like value; else None."""
    if isinstance(value, pd.Series):
        if pd.api.types.is_bool_dtype(value):
            return None
        if pd.api.types.is_numeric_dtype(value):
            return "number"
        if pd.api.types.is_datetime64_any_dtype(value):
            return "datetime"
        if value.dtype == object or pd.api.types.is_string_dtype(value):
            return "text"
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return "number"
    return None


class _Evaluator:
    """Visits the syntax tree; ``want`` asks a column for numbers or timestamps.

    A column read where the parent needs numbers or timestamps is converted
    right there, so that what could not be converted is known per column;
    ``scope`` marks the rows whose value the result depends on.
    """

    def __init__(self, frame: pd.DataFrame, names: dict, parse_dt, expr: str,
                 aliases: dict, unreadable: MutableMapping | None) -> None:
        self.frame, self.names, self.parse_dt, self.expr = frame, names, parse_dt, expr
        self.aliases, self.unreadable = aliases, unreadable
        self.index = frame.index
        self.scope = pd.Series(True, index=frame.index)

    def visit(self, node: ast.AST, want: str | None = None) -> Any:
        return getattr(self, "_" + type(node).__name__)(node, want)

    def _within(self, rows: pd.Series, node: ast.AST, want: str | None = None) -> Any:
        """Visit ``node`` for ``rows`` only (conversions elsewhere are not reported)."""
        outer = self.scope
        self.scope = outer & rows
        try:
            return self.visit(node, want)
        finally:
            self.scope = outer

    def _Constant(self, node, want):
        value = node.value
        if isinstance(value, str) and want is not None:  # a quoted literal used as a number/date
            if want == "number":
                bad = pd.isna(pd.to_numeric(value, errors="coerce"))
            else:
                bad = self.parse_dt(pd.Series([value], dtype=object)).isna().all()
            if bad:
                kind = "a number" if want == "number" else "a timestamp in the table's format"
                raise ConfigError(f"{self.expr!r}: the literal {value!r} is used as {kind} but "
                                  "cannot be read as one; write it as one or compare text "
                                  "with text.")
        return value

    def _Name(self, node, want):
        if node.id in _CONSTANTS:
            return _CONSTANTS[node.id]
        col = self.names.get(node.id, node.id)
        if col not in self.frame.columns:
            col = self.aliases.get(col, col)
        if col not in self.frame.columns:
            raise ConfigError(f"{self.expr!r}: unknown column {col!r}; columns are "
                              f"{', '.join(map(str, self.frame.columns))}.")
        s = self.frame[col]
        if want is None or _kind(s) == want:
            return s
        out = _numeric(s, self.index) if want == "number" else self._dt(s)
        self._report(col, want, s, out)
        return out

    def _report(self, col: str, want: str, given: pd.Series, out: pd.Series) -> None:
        if self.unreadable is None:
            return
        tried = _present(given) & self.scope
        failed = tried & out.isna().to_numpy()
        seen = self.unreadable.get(col)
        if seen is not None:
            want = seen.kind if seen.kind == want else "mixed"
            tried, failed = tried | seen.tried, failed | seen.failed
        self.unreadable[col] = Unreadable(kind=want, tried=tried, failed=failed)

    def _BinOp(self, node, want):
        a, b = (_numeric(self.visit(n, "number"), self.index) for n in (node.left, node.right))
        op = type(node.op)
        if op is ast.Add:
            return a + b
        if op is ast.Sub:
            return a - b
        if op is ast.Mult:
            return a * b
        out = a / b.where(b != 0)
        return out

    def _UnaryOp(self, node, want):
        if isinstance(node.op, ast.Not):
            return ~_truth(self.visit(node.operand), self.index)
        num = _numeric(self.visit(node.operand, "number"), self.index)
        return -num if isinstance(node.op, ast.USub) else num

    def _BoolOp(self, node, want):
        out = _truth(self.visit(node.values[0]), self.index)
        for v in node.values[1:]:
            both = isinstance(node.op, ast.And)
            p = _truth(self._within(out if both else ~out, v), self.index)
            out = (out & p) if both else (out | p)
        return out

    def _Compare(self, node, want):
        left, right = node.left, node.comparators[0]
        a, b = self.visit(left), self.visit(right)
        # text against a number or a timestamp is read as one
        if _kind(a) == "text" and _kind(b) in ("number", "datetime"):
            a = self.visit(left, _kind(b))
        elif _kind(b) == "text" and _kind(a) in ("number", "datetime"):
            b = self.visit(right, _kind(a))
        a = _as_series(a, self.index)
        if pd.api.types.is_numeric_dtype(a) and isinstance(b, str):
            b = pd.to_numeric(b, errors="coerce")
        ops = {ast.Eq: "eq", ast.NotEq: "ne", ast.Lt: "lt", ast.LtE: "le", ast.Gt: "gt",
               ast.GtE: "ge"}
        try:
            out = getattr(a, ops[type(node.ops[0])])(b)
        except TypeError as exc:
            raise ConfigError(f"{self.expr!r}: cannot compare these values ({exc}).") from None
        b_missing = _as_series(b, self.index).isna() if isinstance(b, pd.Series) else False
        missing = a.isna() | b_missing
        return out.astype("boolean").fillna(False).astype(bool) & ~missing

    def _Call(self, node, want):
        name, args = node.func.id, node.args
        if name == "if_else":
            cond = _truth(self.visit(args[0]), self.index)
            a = self._within(cond, args[1], want)
            b = self._within(~cond, args[2], want)
            a, b = _unify(*self._align(a, b))
            return a.where(cond, b)
        if name == "is_null":
            return _as_series(self.visit(args[0]), self.index).isna()
        if name == "coalesce":
            out = self.visit(args[0], want)
            for arg in args[1:]:
                other = self._within(_as_series(out, self.index).isna(), arg, want)
                out, other = _unify(*self._align(out, other))
                out = out.where(out.notna(), other)
            return _as_series(out, self.index)
        if name == "to_datetime":
            return self._dt(self.visit(args[0], "datetime"))
        start, end = (self._dt(self.visit(a, "datetime")) for a in args)
        seconds = (end - start).dt.total_seconds()
        return seconds / (60.0 if name == "minutes_between" else 3600.0)

    def _align(self, a, b):
        """Two series; a null literal takes the other side's dtype (NaT for dates)."""
        if a is None and isinstance(b, pd.Series):
            return pd.Series(index=self.index, dtype=b.dtype), b
        if b is None and isinstance(a, pd.Series):
            return a, pd.Series(index=self.index, dtype=a.dtype)
        return _as_series(a, self.index), _as_series(b, self.index)

    def _dt(self, value):
        s = _as_series(value, self.index)
        if pd.api.types.is_datetime64_any_dtype(s):
            return s
        return self.parse_dt(s)


# --- the same language compiled to engine expressions ------------------------------------

@dataclass(frozen=True)
class UnreadableExpr:
    """:class:`Unreadable` as engine expressions: boolean ``tried`` and ``failed`` per row."""

    kind: str
    tried: Any
    failed: Any


def compile_expression(expr: str, columns, *, to_datetime=None,
                       aliases: Mapping[str, str] | None = None,
                       unreadable: MutableMapping[str, UnreadableExpr] | None = None,
                       reporting_zone: str = "UTC") -> Any:
    """Compile a derive expression to an Ibis value expression (one value per row).

    The same parser and whitelist as :func:`evaluate_expression`; nothing is
    evaluated as Python code. The semantics are the pandas evaluator's:
    missing counts as false in logic and comparisons, division by zero gives
    missing, text read as a number or a timestamp and unreadable becomes
    missing and is reported per input column in ``unreadable``
    (:class:`UnreadableExpr`), only for the rows the result depends on.

    Parameters
    ----------
    expr : str
        The expression.
    columns : ibis.Table or mapping of str to ibis.Value
        The columns the expression may name.
    to_datetime : callable, optional
        Text expression -> timestamp expression, NULL where unreadable (the
        engine reader passes the table's parser, giving naive UTC instants);
        a plain cast by default.
    aliases : mapping, optional
        Other names (the export's) of the columns.
    unreadable : dict, optional
        Filled with one :class:`UnreadableExpr` per column whose text had to
        be read as a number or timestamp.
    reporting_zone : str, default "UTC"
        Zone of timestamp literals compared with timestamp columns (the
        pandas reader compares reporting-zone wall times; the engine's
        timestamps are UTC instants).

    Returns
    -------
    ibis.Value

    Raises
    ------
    ConfigError
        For an unknown column, values that cannot be compared, or branches
        of different types (text and numbers) that the engine cannot mix.
    """
    import ibis  # the pandas evaluator does not need Ibis

    if hasattr(columns, "columns") and not isinstance(columns, Mapping):
        columns = {c: columns[c] for c in columns.columns}
    tree, names = parse_expression(expr)
    comp = _Compiler(ibis, dict(columns), names, to_datetime, expr, dict(aliases or {}),
                     unreadable, reporting_zone)
    return comp.value(comp.visit(tree.body))


class _Compiler:
    """:class:`_Evaluator` for Ibis expressions: the same visits, engine values."""

    def __init__(self, ibis, columns, names, to_datetime, expr, aliases, unreadable, zone):
        self.ibis, self.columns, self.names, self.expr = ibis, columns, names, expr
        self.aliases, self.unreadable, self.zone = aliases, unreadable, zone
        self.parse_dt = to_datetime or (lambda s: s.try_cast("timestamp"))
        self.scope = ibis.literal(True)

    # helpers ---------------------------------------------------------------------------------
    def is_expr(self, v) -> bool:
        return isinstance(v, self.ibis.Expr)

    def value(self, v):
        """Any value as an expression (Python constants as literals; ints as int64)."""
        ibis = self.ibis
        if self.is_expr(v):
            if v.type().is_integer():
                return v.cast("int64")
            return v
        if v is None:
            return ibis.null()
        if isinstance(v, bool):
            return ibis.literal(v, type="boolean")
        if isinstance(v, int):
            return ibis.literal(v, type="int64")
        if isinstance(v, float):
            return float_literal(v)
        return ibis.literal(str(v), type="string")

    def kind(self, v) -> str | None:
        if self.is_expr(v):
            t = v.type()
            if t.is_boolean():
                return None
            if t.is_numeric():
                return "number"
            if t.is_timestamp():
                return "datetime"
            if t.is_string():
                return "text"
            return None
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return "number"
        return None

    def numeric(self, v):
        ibis = self.ibis
        if not self.is_expr(v):
            if v is None:
                return ibis.null("float64")
            if isinstance(v, bool):
                return float_literal(float(v))
            number = pd.to_numeric(pd.Series([v], dtype=object), errors="coerce").iloc[0]
            return ibis.null("float64") if pd.isna(number) else float_literal(float(number))
        t = v.type()
        if t.is_boolean():
            return ibis.cases((v, float_literal(1)), (~v, float_literal(0)),
                              else_=ibis.null("float64"))
        out = v.cast("float64") if t.is_numeric() else v.try_cast("float64")
        return ibis.ifelse(out.isnan(), ibis.null("float64"), out)

    def truth(self, v):
        ibis = self.ibis
        if not self.is_expr(v):
            return ibis.literal(bool(v) if v is not None else False)
        t = v.type()
        if t.is_boolean():
            return v.fill_null(False)
        if t.is_numeric():
            return (v != 0).fill_null(False)
        raise ConfigError(f"{self.expr!r}: text cannot be used as true/false; compare it "
                          "(x == 'yes').")

    def present(self, v):
        if v.type().is_string():
            return v.notnull() & (v.strip() != "")
        if v.type().is_floating():
            return v.notnull() & ~v.isnan()
        return v.notnull()

    def dt(self, v):
        if self.is_expr(v) and v.type().is_timestamp():
            return v
        return self.parse_dt(self.value(v))

    def within(self, rows, node, want=None):
        outer = self.scope
        self.scope = outer & rows
        try:
            return self.visit(node, want)
        finally:
            self.scope = outer

    def unify(self, a, b):
        """Two expressions of one type: float64 for two numbers; a null takes the other's."""
        ibis = self.ibis
        if a is None and b is None:
            return ibis.null(), ibis.null()
        if a is None:
            b = self.value(b)
            return ibis.null(b.type()), b
        if b is None:
            a = self.value(a)
            return a, ibis.null(a.type())
        a, b = self.value(a), self.value(b)
        ta, tb = a.type(), b.type()
        if ta == tb:
            return a, b
        if ta.is_numeric() and tb.is_numeric():
            return a.cast("float64"), b.cast("float64")
        if ta.is_timestamp() and tb.is_timestamp():
            return a, b.cast(ta)
        raise ConfigError(f"{self.expr!r}: the branches give {ta} and {tb}; the engine needs "
                          "one type (quote numbers to make both text, or convert with "
                          "to_datetime).")

    # visits ----------------------------------------------------------------------------------
    def visit(self, node, want=None):
        return getattr(self, "_" + type(node).__name__)(node, want)

    def _Constant(self, node, want):
        value = node.value
        if isinstance(value, str) and want is not None:
            if want == "number":
                bad = pd.isna(pd.to_numeric(value, errors="coerce"))
            else:
                bad = pd.isna(pd.to_datetime(value, errors="coerce", format="mixed"))
            if bad:
                kind = "a number" if want == "number" else "a timestamp in the table's format"
                raise ConfigError(f"{self.expr!r}: the literal {value!r} is used as {kind} but "
                                  "cannot be read as one; write it as one or compare text "
                                  "with text.")
        return value

    def _Name(self, node, want):
        if node.id in _CONSTANTS:
            return _CONSTANTS[node.id]
        col = self.names.get(node.id, node.id)
        if col not in self.columns:
            col = self.aliases.get(col, col)
        if col not in self.columns:
            raise ConfigError(f"{self.expr!r}: unknown column {col!r}; columns are "
                              f"{', '.join(map(str, self.columns))}.")
        s = self.columns[col]
        if want is None or self.kind(s) == want:
            return s
        out = self.numeric(s) if want == "number" else self.dt(s)
        self._report(col, want, s, out)
        return out

    def _report(self, col, want, given, out):
        if self.unreadable is None:
            return
        tried = self.present(given) & self.scope
        failed = tried & out.isnull()
        seen = self.unreadable.get(col)
        if seen is not None:
            want = seen.kind if seen.kind == want else "mixed"
            tried, failed = tried | seen.tried, failed | seen.failed
        self.unreadable[col] = UnreadableExpr(kind=want, tried=tried, failed=failed)

    def _BinOp(self, node, want):
        a, b = (self.numeric(self.visit(n, "number")) for n in (node.left, node.right))
        op = type(node.op)
        if op is ast.Add:
            return a + b
        if op is ast.Sub:
            return a - b
        if op is ast.Mult:
            return a * b
        return a / b.nullif(float_literal(0))

    def _UnaryOp(self, node, want):
        if isinstance(node.op, ast.Not):
            return ~self.truth(self.visit(node.operand))
        num = self.numeric(self.visit(node.operand, "number"))
        return -num if isinstance(node.op, ast.USub) else num

    def _BoolOp(self, node, want):
        out = self.truth(self.visit(node.values[0]))
        for v in node.values[1:]:
            both = isinstance(node.op, ast.And)
            p = self.truth(self.within(out if both else ~out, v))
            out = (out & p) if both else (out | p)
        return out

    def _Compare(self, node, want):
        left, right = node.left, node.comparators[0]
        a, b = self.visit(left), self.visit(right)
        if self.kind(a) == "text" and self.kind(b) in ("number", "datetime"):
            a = self.visit(left, self.kind(b))
        elif self.kind(b) == "text" and self.kind(a) in ("number", "datetime"):
            b = self.visit(right, self.kind(a))
        a, b = self._comparable(a, b), self._comparable(b, a)
        ops = {ast.Eq: "__eq__", ast.NotEq: "__ne__", ast.Lt: "__lt__", ast.LtE: "__le__",
               ast.Gt: "__gt__", ast.GtE: "__ge__"}
        try:
            out = getattr(self.value(a), ops[type(node.ops[0])])(self.value(b))
        except Exception as exc:  # Ibis refuses to compare the two types
            raise ConfigError(f"{self.expr!r}: cannot compare these values "
                              f"({type(exc).__name__}).") from None
        return out.fill_null(False)

    def _comparable(self, v, other):
        """A literal string next to numbers or timestamps, read as one."""
        if not isinstance(v, str) or not self.is_expr(other):
            return v
        if self.kind(other) == "number":
            return self.numeric(v)
        if self.kind(other) == "datetime":  # a reporting-zone wall time -> a UTC instant
            stamp = pd.to_datetime(v, errors="coerce", format="mixed")
            if pd.isna(stamp):
                return self.ibis.null("timestamp")
            stamp = stamp.tz_convert("UTC") if stamp.tzinfo else \
                stamp.tz_localize(self.zone, ambiguous=False,
                                  nonexistent="shift_forward").tz_convert("UTC")
            return self.ibis.literal(stamp.tz_localize(None).to_pydatetime(),
                                     type="timestamp")
        return v

    def _Call(self, node, want):
        ibis, name, args = self.ibis, node.func.id, node.args
        if name == "if_else":
            cond = self.truth(self.visit(args[0]))
            a = self.within(cond, args[1], want)
            b = self.within(~cond, args[2], want)
            a, b = self.unify(a, b)
            return ibis.ifelse(cond, a, b)
        if name == "is_null":
            v = self.visit(args[0])
            if not self.is_expr(v):
                return ibis.literal(v is None)
            return v.isnull() | v.isnan() if v.type().is_floating() else v.isnull()
        if name == "coalesce":
            out = self.visit(args[0], want)
            for arg in args[1:]:
                missing = out.isnull() if self.is_expr(out) else ibis.literal(out is None)
                other = self.within(missing, arg, want)
                out, other = self.unify(out, other)
                out = ibis.coalesce(out, other)
            return out
        if name == "to_datetime":
            return self.dt(self.visit(args[0], "datetime"))
        start, end = (self.dt(self.visit(a, "datetime")) for a in args)
        micro = end.delta(start, unit="microsecond").cast("float64")
        return micro / float_literal(60e6 if name == "minutes_between" else 3600e6)
