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
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import Any

import pandas as pd

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
                raise ConfigError(f"{expr!r}: {fname}() takes {low if low == high else f'{low} or more'} "
                                  f"argument(s), got {len(node.args)}.")
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


def evaluate_expression(expr: str, frame: pd.DataFrame, *, to_datetime=None,
                        aliases: Mapping[str, str] | None = None) -> pd.Series:
    """Evaluate a derive expression over ``frame``; one value per row.

    ``aliases`` maps other names (the export's own column names) to columns.

    ``to_datetime`` parses text into naive reporting-zone timestamps (the
    reader passes the table's own parser); ``pd.to_datetime`` by default.
    Raises :class:`ConfigError` for an unknown column.
    """
    tree, names = parse_expression(expr)
    parse_dt = to_datetime or (lambda s: pd.to_datetime(s, errors="coerce"))
    ev = _Evaluator(frame, names, parse_dt, expr, dict(aliases or {}))
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


class _Evaluator:
    def __init__(self, frame: pd.DataFrame, names: dict, parse_dt, expr: str,
                 aliases: dict) -> None:
        self.frame, self.names, self.parse_dt, self.expr = frame, names, parse_dt, expr
        self.aliases = aliases
        self.index = frame.index

    def visit(self, node: ast.AST) -> Any:
        return getattr(self, "_" + type(node).__name__)(node)

    def _Constant(self, node):
        return node.value

    def _Name(self, node):
        if node.id in _CONSTANTS:
            return _CONSTANTS[node.id]
        col = self.names.get(node.id, node.id)
        if col not in self.frame.columns:
            col = self.aliases.get(col, col)
        if col not in self.frame.columns:
            raise ConfigError(f"{self.expr!r}: unknown column {col!r}; columns are "
                              f"{', '.join(map(str, self.frame.columns))}.")
        return self.frame[col]

    def _BinOp(self, node):
        a, b = (_numeric(self.visit(n), self.index) for n in (node.left, node.right))
        op = type(node.op)
        if op is ast.Add:
            return a + b
        if op is ast.Sub:
            return a - b
        if op is ast.Mult:
            return a * b
        out = a / b.where(b != 0)
        return out

    def _UnaryOp(self, node):
        value = self.visit(node.operand)
        if isinstance(node.op, ast.Not):
            return ~_truth(value, self.index)
        num = _numeric(value, self.index)
        return -num if isinstance(node.op, ast.USub) else num

    def _BoolOp(self, node):
        parts = [_truth(self.visit(v), self.index) for v in node.values]
        out = parts[0]
        for p in parts[1:]:
            out = (out & p) if isinstance(node.op, ast.And) else (out | p)
        return out

    def _Compare(self, node):
        a = _as_series(self.visit(node.left), self.index)
        b = self.visit(node.comparators[0])
        if pd.api.types.is_numeric_dtype(a) and isinstance(b, str):
            b = pd.to_numeric(b, errors="coerce")
        ops = {ast.Eq: "eq", ast.NotEq: "ne", ast.Lt: "lt", ast.LtE: "le", ast.Gt: "gt",
               ast.GtE: "ge"}
        try:
            out = getattr(a, ops[type(node.ops[0])])(b)
        except TypeError as exc:
            raise ConfigError(f"{self.expr!r}: cannot compare these values ({exc}).") from None
        missing = a.isna() | (_as_series(b, self.index).isna() if isinstance(b, pd.Series) else False)
        return out.astype("boolean").fillna(False).astype(bool) & ~missing

    def _Call(self, node):
        name = node.func.id
        args = [self.visit(a) for a in node.args]
        if name == "if_else":
            cond = _truth(args[0], self.index)
            a, b = _unify(*self._align(args[1], args[2]))
            return a.where(cond, b)
        if name == "is_null":
            return _as_series(args[0], self.index).isna()
        if name == "coalesce":
            out = args[0]
            for other in args[1:]:
                out, other = _unify(*self._align(out, other))
                out = out.where(out.notna(), other)
            return _as_series(out, self.index)
        if name == "to_datetime":
            return self._dt(args[0])
        start, end = self._dt(args[0]), self._dt(args[1])
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
