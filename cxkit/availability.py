"""What an export holds: default terms resolved against the data, and notes for what is absent.

Exports differ: one has segments, surveys, CES and first-response times, the
next only ticket creation and resolution times. Two things let the same
notebooks run on both without any branching in a notebook cell:

- **"auto" terms.** In ``drivers`` or ``controls``, the word ``"auto"``
  stands for the default terms this panel can support
  (:func:`expand_terms`): for controls, those of
  :data:`~cxkit.terms.DEFAULT_CONTROLS` whose columns exist and vary (no
  ``C(segment)`` without a segment column); for drivers, those of
  :data:`DEFAULT_DRIVERS` the export measures (no first-response median
  without first-response times). Other terms are kept as written: a term the
  user names explicitly is never dropped.
- **Notes instead of errors for absent data.** A function wrapped with
  :func:`adapts` returns a :class:`Missing` note — one sentence saying what
  is missing and how to add it — when the data lack a table or column it
  needs (:class:`~cxkit.exceptions.MissingDataError`) or when a driver the
  caller asked for is not measured in the export (its panel column is empty).
  A :class:`Missing` passed on to another wrapped function is passed through
  (figures show the sentence; functions that combine several results skip
  it), so a notebook section whose data are absent shows why, and the rest
  of the notebook runs.

A typo stays an error: a column the panel does not have at all raises
:class:`~cxkit.exceptions.ModelError` with its close matches, as before.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import pandas as pd

from cxkit.exceptions import MissingDataError

__all__ = ["Missing", "adapts", "expand_terms", "AUTO", "DEFAULT_DRIVERS"]

AUTO = "auto"
#: The support drivers "auto" stands for, when measured.
DEFAULT_DRIVERS = ("resolution_hours_mean", "fcr_rate", "first_response_minutes_median")


@dataclass(frozen=True)
class Missing:
    """A section the data cannot fill: one sentence on what is missing and how to add it.

    Shown in a notebook as that sentence. It stands in for the result the
    section would have shown: any public attribute or call returns the note
    itself (``note.summary()``, ``note.effects()``, ``note.guardrails``), and
    ``note.plot()`` shows the sentence where the figure would be. Anything
    else (iterating, indexing, ``len``) raises the
    :class:`~cxkit.exceptions.MissingDataError` it stands for.
    """

    sentence: str

    def __repr__(self) -> str:
        return f"Not shown: {self.sentence}"

    def _repr_markdown_(self) -> str:
        return f"*Not shown:* {self.sentence}"

    def __call__(self, *args, **kwargs) -> Missing:
        return self

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        if name == "plot" or name.endswith("_plot"):
            return lambda *args, **kwargs: _show(self)
        return self

    def _refuse(self, *args, **kwargs):
        raise MissingDataError(self.sentence)

    __iter__ = __len__ = __getitem__ = _refuse


def _show(note: Missing) -> None:
    """Display ``note`` now (a figure cell ends with ``;``, which hides returned values)."""
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:  # pragma: no cover - IPython is a dependency of the notebooks
        return None
    if get_ipython() is not None:
        display(note)
    return None


def term_columns(term: str) -> list[str]:
    """Columns a driver or control term reads: ``np.log1p(tenure_months)`` -> tenure_months."""
    from cxkit.terms import parse_term

    return [parse_term(term, role="control").column]


def _varies(panel: pd.DataFrame, column: str) -> bool:
    return column in panel.columns and panel[column].nunique(dropna=True) > 1


def _measured(panel: pd.DataFrame, column: str) -> bool:
    return column in panel.columns and panel[column].notna().any()


def expand_terms(panel: pd.DataFrame, terms, *, role: str) -> list[str]:
    """``terms`` with each ``"auto"`` replaced by the default terms this panel supports.

    Parameters
    ----------
    panel : DataFrame
        The customer x period panel (or any frame of model rows).
    terms : sequence of str
        Driver or control terms; ``"auto"`` may appear anywhere, once.
    role : {"driver", "control"}

    Returns
    -------
    list of str
        Terms in order, ``"auto"`` expanded, duplicates removed: for
        controls, :data:`~cxkit.terms.DEFAULT_CONTROLS` whose columns exist
        and vary; for drivers, :data:`DEFAULT_DRIVERS` with any value.

    Examples
    --------
    >>> import pandas as pd
    >>> panel = pd.DataFrame({"plan": ["a", "b"], "tenure_months": [1.0, 2.0]})
    >>> expand_terms(panel, ["auto", "ticket_count_prior"], role="control")
    ['C(plan)', 'np.log1p(tenure_months)', 'ticket_count_prior']
    """
    if isinstance(terms, str):
        terms = [terms]
    if role not in ("driver", "control"):
        raise ValueError(f"role={role!r}: use 'driver' or 'control'")
    out: list[str] = []
    for term in terms:
        if term != AUTO:
            out.append(term)
        elif role == "control":
            from cxkit.terms import DEFAULT_CONTROLS

            out.extend(t for t in DEFAULT_CONTROLS
                       if all(_varies(panel, c) for c in term_columns(t)))
        else:
            out.extend(t for t in DEFAULT_DRIVERS if _measured(panel, t))
    return list(dict.fromkeys(out))


def unmeasured_note(panel: pd.DataFrame, drivers) -> Missing | None:
    """A note when a driver's panel column exists but the export never measures it.

    Also when ``"auto"`` finds no default driver the export measures.
    """
    drivers = [drivers] if isinstance(drivers, str) else list(drivers)
    if AUTO in drivers and not expand_terms(panel, drivers, role="driver"):
        return Missing("No support metric is measured in this export, so there is no driver "
                       "to estimate: the tickets table needs at least resolved_at (resolution "
                       "time) or another mapped ticket column; see the README's data model.")
    empty = [c for t in drivers if t != AUTO for c in term_columns(t)
             if c in panel.columns and not panel[c].notna().any()]
    if not empty:
        return None
    return Missing(f"{_listing(empty)} {'has' if len(empty) == 1 else 'have'} no values in this "
                   f"export, so the section cannot estimate {'its' if len(empty) == 1 else 'their'}"
                   f" effect. Map the ticket column it is made from in the source config (see "
                   f"the README's data model), or leave it out of drivers.")


def _listing(names) -> str:
    names = [f"`{n}`" for n in names]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _measured_changes(panel: pd.DataFrame, changes):
    """What-if changes limited to the columns this export measures."""
    if not isinstance(changes, dict):
        return changes
    return {c: v for c, v in changes.items() if _measured(panel, c)}


def adapts(func=None, *, combine: bool = False):
    """Let a notebook-facing function adapt to what the data hold.

    The wrapped function:

    - expands ``"auto"`` in its ``drivers`` and ``controls`` arguments against
      its first argument, when that is a DataFrame (:func:`expand_terms`);
    - returns a :class:`Missing` note instead of fitting when a requested
      driver is not measured in the export, or when the function raises
      :class:`~cxkit.exceptions.MissingDataError`;
    - passes a :class:`Missing` argument through (``*_plot`` functions show
      it); with ``combine=True`` (functions that gather several results)
      it skips :class:`Missing` positional arguments and treats a
      :class:`Missing` keyword argument as ``None`` instead;
    - limits what-if ``changes`` to the columns the export measures.
    """
    if func is None:
        return functools.partial(adapts, combine=combine)
    is_plot = func.__name__.endswith("_plot")

    def passed_on(note: Missing):
        return _show(note) if is_plot else note

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        if combine:
            args = tuple(a for a in args if not isinstance(a, Missing))
            kwargs = {k: (None if isinstance(v, Missing) else v) for k, v in kwargs.items()}
        else:
            for value in (*args, *kwargs.values()):
                if isinstance(value, Missing):
                    return passed_on(value)
        frames = [a for a in args if isinstance(a, pd.DataFrame)]
        panel = frames[0] if frames else None
        if panel is not None:
            if kwargs.get("drivers") is not None:
                note = unmeasured_note(panel, kwargs["drivers"])
                if note is not None:
                    return passed_on(note)
            for key, role in (("drivers", "driver"), ("controls", "control")):
                if kwargs.get(key) is not None:
                    kwargs[key] = expand_terms(panel, kwargs[key], role=role)
            if "changes" in kwargs:
                kwargs["changes"] = _measured_changes(panel, kwargs["changes"])
        try:
            return func(*args, **kwargs)
        except MissingDataError as exc:
            return passed_on(Missing(str(exc)))

    return wrapper
