"""Model terms: drivers and controls parsed against a whitelist, and their transforms.

A term is what a user writes in ``drivers=`` or ``controls=`` (Python API,
a notebook's parameters, a run config). It is parsed with :mod:`ast` and
checked against a whitelist; nothing is ever evaluated as code:

- a column of the panel: ``resolution_hours_mean``;
- a transform of a column: ``log(x)``, ``log1p(x)``, ``sqrt(x)`` (also written
  ``np.log(x)``, ``np.log1p(x)``, ``np.sqrt(x)``);
- a threshold, a 0/1 indicator: ``x >= 4``, ``x > 4``, ``x <= 4``, ``x < 4``;
- controls only: a categorical column ``C(plan)`` or
  ``C(plan, Treatment(reference='basic'))`` (a non-numeric plain column is
  categorical too).

Anything else (another function, an attribute, a subscript, arithmetic)
raises :class:`~cxkit.exceptions.ParameterError` naming the term. The term's
canonical text (``ast.unparse``) names its column in the design matrix and
its rows in the estimates table.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

import numpy as np

from cxkit.exceptions import ParameterError

__all__ = ["Term", "parse_term", "parse_terms", "TRANSFORMS", "THRESHOLDS", "DEFAULT_CONTROLS"]

#: Controls of the retention and revenue models when none are given.
DEFAULT_CONTROLS = ("C(plan)", "C(segment)", "np.log1p(tenure_months)")

#: transform name -> (function, derivative, rule for valid inputs, words for that rule)
TRANSFORMS = {
    "log": (np.log, lambda x: 1.0 / x, lambda x: x > 0, "x > 0"),
    "log1p": (np.log1p, lambda x: 1.0 / (1.0 + x), lambda x: x > -1, "x > -1"),
    "sqrt": (np.sqrt, lambda x: 0.5 / np.sqrt(x), lambda x: x > 0, "x > 0"),
}
#: threshold operator -> comparison
THRESHOLDS = {ast.GtE: (">=", np.greater_equal), ast.Gt: (">", np.greater),
              ast.LtE: ("<=", np.less_equal), ast.Lt: ("<", np.less)}
_OPS = {word: fn for word, fn in THRESHOLDS.values()}


@dataclass(frozen=True)
class Term:
    """One parsed driver or control.

    Attributes
    ----------
    text : str
        Canonical text, e.g. ``"log(resolution_hours_mean)"``; names the
        design column (for ``categorical``: the prefix of its columns).
    column : str
        The panel column it reads.
    kind : str
        ``"column"``, ``"transform"``, ``"threshold"`` or ``"categorical"``.
    function : str or None
        Transform name (``log``, ``log1p``, ``sqrt``) or threshold operator
        (``>=``, ``>``, ``<=``, ``<``).
    value : float, str or None
        Threshold cutoff, or the reference level of a categorical term.
    """

    text: str
    column: str
    kind: str = "column"
    function: str | None = None
    value: float | str | None = None

    @property
    def binary(self) -> bool:
        """Whether the term is a 0/1 indicator by construction (a threshold)."""
        return self.kind == "threshold"

    def apply(self, x) -> np.ndarray:
        """The term's design column from raw column values (floats)."""
        x = np.asarray(x, dtype=float)
        if self.kind == "transform":
            with np.errstate(divide="ignore", invalid="ignore"):
                return TRANSFORMS[self.function][0](x)
        if self.kind == "threshold":
            return _OPS[self.function](x, float(self.value)).astype(float)
        return x

    def slope(self, x) -> np.ndarray:
        """d(term)/d(column) at raw values ``x`` (1 for a plain column)."""
        x = np.asarray(x, dtype=float)
        if self.kind == "transform":
            with np.errstate(divide="ignore", invalid="ignore"):
                return TRANSFORMS[self.function][1](x)
        if self.kind == "threshold":
            raise ValueError("a threshold has no slope; compare 0 with 1")
        return np.ones_like(x)

    def invalid(self, x) -> np.ndarray:
        """Rows whose (non-missing) raw value the transform is not defined for."""
        x = np.asarray(x, dtype=float)
        if self.kind != "transform":
            return np.zeros(x.shape, dtype=bool)
        with np.errstate(invalid="ignore"):
            return ~np.isnan(x) & ~TRANSFORMS[self.function][2](x)

    def rule(self) -> str:
        """Words for the valid inputs of a transform, e.g. ``"x > 0"``."""
        return TRANSFORMS[self.function][3].replace("x", self.column) \
            if self.kind == "transform" else ""


def _allowed(role: str) -> str:
    extra = ", C(column) or C(column, Treatment(reference='level'))" if role == "control" \
        else ""
    return (f"a column name, log(column), log1p(column), sqrt(column), a threshold such as "
            f"column >= 4{extra}")


def _number(node) -> float | None:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        inner = _number(node.operand)
        return None if inner is None else (-inner if isinstance(node.op, ast.USub) else inner)
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) \
            and not isinstance(node.value, bool):
        return float(node.value)
    return None


def _function_name(func) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) \
            and func.value.id == "np":
        return func.attr
    return None


def _reference(node, text: str):
    """The level of ``Treatment('x')`` / ``Treatment(reference='x')``."""
    if not (isinstance(node, ast.Call) and _function_name(node.func) == "Treatment"):
        return None
    args = list(node.args) + [k.value for k in node.keywords if k.arg == "reference"]
    if len(args) != 1 or len(node.args) + len(node.keywords) != 1 \
            or not isinstance(args[0], ast.Constant) or isinstance(args[0].value, bool):
        raise ParameterError(f"Control {text!r}: write Treatment(reference='level') with one "
                             f"quoted level or number.")
    return args[0].value


def parse_term(text, *, role: str = "driver") -> Term:
    """Parse one driver or control against the whitelist (never evaluated).

    Parameters
    ----------
    text : str or Term
        What the user wrote, e.g. ``"log(resolution_hours_mean)"``.
    role : {"driver", "control"}
        Controls may also be categorical (``C(plan)``).

    Raises
    ------
    ParameterError
        Anything outside the whitelist, e.g. ``np.savetxt(...)``.
    """
    if isinstance(text, Term):
        if role == "driver" and text.kind == "categorical":
            raise ParameterError(f"Driver {text.text!r} is categorical; put it in controls.")
        return text
    if not isinstance(text, str) or not text.strip():
        raise ParameterError(f"A {role} must be a non-empty string such as "
                             f"'resolution_hours_mean'; got {text!r}.")
    what = f"{role.capitalize()} {text!r}"
    try:
        node = ast.parse(text.strip(), mode="eval").body
    except SyntaxError:
        raise ParameterError(f"{what} cannot be read; use {_allowed(role)}.") from None
    canonical = ast.unparse(node)
    if isinstance(node, ast.Name):
        return Term(canonical, node.id)
    if isinstance(node, ast.Call):
        name = _function_name(node.func)
        arg = node.args[0] if len(node.args) >= 1 else None
        if name in TRANSFORMS and len(node.args) == 1 and not node.keywords \
                and isinstance(arg, ast.Name):
            return Term(canonical, arg.id, "transform", name)
        if name == "C" and isinstance(node.func, ast.Name) and not node.keywords \
                and isinstance(arg, ast.Name) and 1 <= len(node.args) <= 2:
            if role != "control":
                raise ParameterError(f"{what} is categorical; put it in controls (a driver "
                                     f"must be numeric, e.g. a 0/1 column or a threshold).")
            ref = _reference(node.args[1], text) if len(node.args) == 2 else None
            if len(node.args) == 2 and ref is None:
                raise ParameterError(f"{what}: the second argument of C() may only be "
                                     f"Treatment(reference='level').")
            return Term(canonical, arg.id, "categorical", None, ref)
    if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in THRESHOLDS \
            and isinstance(node.left, ast.Name):
        cutoff = _number(node.comparators[0])
        if cutoff is not None:
            return Term(canonical, node.left.id, "threshold", THRESHOLDS[type(node.ops[0])][0],
                        cutoff)
    raise ParameterError(f"{what} is not allowed; use {_allowed(role)}. Nothing in a "
                         f"{role} is executed as code.")


def parse_terms(texts, *, role: str = "driver") -> tuple[Term, ...]:
    """Parse a list of terms (a single string counts as one term); duplicates are refused."""
    if isinstance(texts, (str, Term)):
        texts = [texts]
    if texts is None:
        texts = []
    terms = tuple(parse_term(t, role=role) for t in texts)
    seen = [t.text for t in terms]
    dupes = sorted({t for t in seen if seen.count(t) > 1})
    if dupes:
        raise ParameterError(f"{role.capitalize()}s {dupes} are given twice; list each once.")
    return terms
