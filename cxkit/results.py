"""Immutable result types returned by every ``fit_*`` function.

One result type per kind of answer:

* :class:`ModelResult`: a fitted regression (logit, OLS, GLM, two-part, Cox)
  with one tidy table of estimates, the average effects of the drivers in
  the outcome's unit (percentage points of churn, currency, hazard ratio),
  the rows dropped and why, guardrail checks and a caveat sentence.
* :class:`WhatIfResult`: the predicted change of a scenario, with intervals.
* :class:`ImportanceResult`: the share of explained variation per driver.

Results are frozen dataclasses holding private copies of their tables; the
accessors return fresh copies, so changing a returned table never changes
the result. Displays carry no dates, memory addresses or paths.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from cxkit import registry

__all__ = [
    "ModelResult",
    "WhatIfResult",
    "ImportanceResult",
    "Summary",
    "TIDY_COLUMNS",
    "driver_label",
    "to_json_safe",
]

TIDY_COLUMNS = ["term", "estimate", "std_error", "statistic", "p_value", "conf_low", "conf_high"]

def driver_label(term: str) -> tuple[str, str, float]:
    """Plain-words label of a driver, the unit suffix of its delta and a scale.

    Returns ``(label, unit, scale)`` from the metric registry
    (:func:`cxkit.registry.lookup`): a delta ``d`` of the driver is written
    as ``f"{d * scale:+g}{unit} {label}"`` (``rate`` columns, stored 0-1,
    are written in percentage points).
    """
    metric = registry.lookup(term)
    unit, scale = metric.sentence_unit
    return metric.label, unit, scale


def to_json_safe(value: Any) -> Any:
    """Convert numpy/pandas values to plain Python; NaN and missing become ``None``."""
    if isinstance(value, dict):
        return {str(k): to_json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json_safe(v) for v in value]
    if isinstance(value, pd.DataFrame):
        return [to_json_safe(r) for r in value.to_dict(orient="records")]
    if isinstance(value, np.ndarray):
        return [to_json_safe(v) for v in value.tolist()]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        f = float(value)
        return None if math.isnan(f) or math.isinf(f) else f
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    return str(value) if not isinstance(value, str) else value


def _fmt(x: float, digits: int = 1) -> str:
    return "nan" if x is None or not np.isfinite(x) else f"{x:.{digits}f}"


class Summary:
    """Display object: a title, a few key facts and tables, stable repr and HTML."""

    def __init__(self, title: str, facts: dict[str, Any], tables: dict[str, pd.DataFrame],
                 note: str = ""):
        self.title = title
        self.facts = dict(facts)
        self.tables = {k: v.copy() for k, v in tables.items()}
        self.note = note

    def __repr__(self) -> str:
        lines = [self.title, "=" * len(self.title)]
        lines += [f"{k}: {v}" for k, v in self.facts.items()]
        for name, table in self.tables.items():
            lines += ["", name, table.to_string(index=False, float_format=lambda x: f"{x:.4g}")]
        if self.note:
            lines += ["", self.note]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        from cxkit.display import column_unit, format_table, format_value

        facts = "".join(f"<li>{k}: {format_value(v, column_unit(k))}</li>"
                        for k, v in self.facts.items())
        tables = "".join(f"<h4>{name}</h4>" + format_table(table).to_html()
                         for name, table in self.tables.items())
        note = f"<p>{self.note}</p>" if self.note else ""
        return f"<div><h3>{self.title}</h3><ul>{facts}</ul>{tables}{note}</div>"


def _frame(df: pd.DataFrame | None) -> pd.DataFrame:
    return pd.DataFrame() if df is None else df.copy()


@dataclass(frozen=True, repr=False)
class ModelResult:
    """A fitted model: estimates, driver effects, dropped rows, guardrails.

    Attributes
    ----------
    kind : str
        ``"logit"``, ``"log_ols"``, ``"two_part"``, ``"tweedie"``, ``"cox"``,
        ``"ols"`` or ``"within"``.
    outcome : str
        Outcome column.
    drivers : tuple of str
        Driver columns whose effects are reported.
    formula : str
        Model formula (for Cox, the covariates joined by ``+``).
    n_obs : int
        Rows used in the fit.
    effect_unit : str
        Unit of the ``ame`` columns and of :meth:`effect`: ``"pp"``
        (percentage points), a currency code, or ``"hazard ratio"``.
    outcome_label : str
        Plain words for the outcome, e.g. ``"monthly churn"``.
    alpha : float
        Intervals are ``1 - alpha`` intervals.
    diagnostics : dict
        Scalar fit facts (AUC, events, clusters, ...), JSON-safe.
    caveat : str
        One paragraph stating the design and what the numbers do not prove.
    model_result : object
        The underlying statsmodels result (escape hatch; not compared).
    """

    kind: str
    outcome: str
    drivers: tuple
    formula: str
    n_obs: int
    effect_unit: str
    outcome_label: str
    alpha: float
    tidy_table: pd.DataFrame = field(compare=False)
    effects_table: pd.DataFrame = field(compare=False)
    dropped_table: pd.DataFrame = field(compare=False)
    guardrails_table: pd.DataFrame = field(compare=False)
    calibration_table: pd.DataFrame | None = field(default=None, compare=False)
    diagnostics: dict = field(default_factory=dict, compare=False)
    caveat: str = ""
    model_result: Any = field(default=None, compare=False)

    def __post_init__(self) -> None:
        for name in ("tidy_table", "effects_table", "dropped_table", "guardrails_table",
                     "calibration_table"):
            value = getattr(self, name)
            object.__setattr__(self, name, None if value is None else value.copy())
        object.__setattr__(self, "drivers", tuple(self.drivers))
        object.__setattr__(self, "diagnostics", to_json_safe(dict(self.diagnostics)))

    # -- tables (always copies) -------------------------------------------
    def tidy(self) -> pd.DataFrame:
        """One row per model term: ``term, estimate, std_error, statistic,
        p_value, conf_low, conf_high`` (+ ``odds_ratio`` / ``hazard_ratio`` /
        ``ame, ame_conf_low, ame_conf_high`` where they apply) and ``evidence``,
        the term's evidence label (:func:`cxkit.evidence.evidence_label`)."""
        from cxkit.evidence import evidence_labels

        out = self.tidy_table.copy()
        out["evidence"] = evidence_labels(self, out["term"]).to_numpy()
        return out

    def effects(self) -> pd.DataFrame:
        """Average effect of +1 unit of each driver, in :attr:`effect_unit`.

        Columns ``term, ame, ame_std_error, ame_conf_low, ame_conf_high,
        p_value, unit``.
        """
        return self.effects_table.copy()

    @property
    def dropped(self) -> pd.DataFrame:
        """Rows removed before fitting: ``step, reason, rows_dropped, rows_remaining``."""
        return self.dropped_table.copy()

    @property
    def guardrails(self) -> pd.DataFrame:
        """Design checks: ``check, status, detail`` (status passes/warning/fails/not run)."""
        return self.guardrails_table.copy()

    @property
    def calibration(self) -> pd.DataFrame | None:
        """Predicted vs observed outcome by decile of prediction (binary outcomes)."""
        return None if self.calibration_table is None else self.calibration_table.copy()

    # -- sentences ----------------------------------------------------------
    def effect(self, term: str, delta: float = 1.0) -> dict:
        """Effect of changing ``term`` by ``delta`` units, with its interval.

        The average effect per unit is scaled linearly by ``delta`` (a
        first-order approximation; :func:`cxkit.whatif.what_if` recomputes
        predictions exactly). For Cox models the hazard ratio is raised to
        the power ``delta``.

        Returns
        -------
        dict
            ``term, delta, estimate, conf_low, conf_high, unit, evidence,
            sentence``; the sentence ends with the evidence label in brackets.
        """
        table = self.effects_table.set_index("term")
        if term not in table.index:
            from cxkit.exceptions import ModelError

            raise ModelError(f"No effect for term {term!r}; available terms: "
                             f"{', '.join(table.index)}. Pass one of these.")
        row = table.loc[term]
        level = round(100 * (1 - self.alpha))
        label, unit, scale = driver_label(term)
        change = f"{delta * scale:+g}{unit} {label}"
        if self.effect_unit == "hazard ratio":
            est, lo, hi = (float(row[c]) ** delta for c in ("ame", "ame_conf_low", "ame_conf_high"))
            lo, hi = min(lo, hi), max(lo, hi)
            sentence = (f"{change} ≈ hazard ratio {est:.2f} for {self.outcome_label} "
                        f"({level}% CI {lo:.2f} to {hi:.2f})")
        else:
            est, lo, hi = (float(row[c]) * delta for c in ("ame", "ame_conf_low", "ame_conf_high"))
            lo, hi = min(lo, hi), max(lo, hi)
            digits = 2
            sentence = (f"{change} ≈ {est:+.{digits}f} {self.effect_unit} {self.outcome_label} "
                        f"({level}% CI {_fmt(lo, digits)} to {_fmt(hi, digits)})")
        from cxkit.evidence import CONFOUNDED, evidence_label

        evidence = evidence_label(self, term)
        sentence += (f" [{evidence}: not a finding]" if evidence == CONFOUNDED
                     else f" [{evidence}]")
        return {"term": term, "delta": float(delta), "estimate": est, "conf_low": lo,
                "conf_high": hi, "unit": self.effect_unit, "evidence": evidence,
                "sentence": sentence}

    # -- display ------------------------------------------------------------
    def summary(self) -> Summary:
        """Display object (repr and HTML) with the fit facts and tables."""
        facts = {"model": self.kind, "outcome": self.outcome, "formula": self.formula,
                 "rows used": f"{self.n_obs:,}"}
        facts.update({k: v for k, v in self.diagnostics.items() if v is not None})
        from cxkit.sensitivity import describe_sensitivity

        sensitivity = describe_sensitivity(self).drop(columns="sentence")
        tables = {"Estimates": self.tidy(), "Effects (" + self.effect_unit + ")":
                  self.effects_table, "Sensitivity to unobserved confounding": sensitivity,
                  "Rows dropped": self.dropped_table, "Guardrails": self.guardrails_table}
        return Summary(f"{self.kind} model of {self.outcome}", facts, tables, self.caveat)

    def __repr__(self) -> str:
        return (f"ModelResult(kind={self.kind!r}, outcome={self.outcome!r}, "
                f"drivers={list(self.drivers)}, n_obs={self.n_obs})")

    def _repr_html_(self) -> str:
        return self.summary()._repr_html_()

    def plot(self, *, ax=None):
        """Forest plot of the driver effects; returns the matplotlib ``Axes``."""
        from cxkit.plots import forest_plot

        return forest_plot(self, ax=ax)

    def to_dict(self) -> dict:
        """JSON-safe dictionary (plain types, ``None`` for missing values)."""
        return to_json_safe({
            "kind": self.kind, "outcome": self.outcome, "drivers": list(self.drivers),
            "formula": self.formula, "n_obs": self.n_obs, "effect_unit": self.effect_unit,
            "outcome_label": self.outcome_label, "alpha": self.alpha,
            "tidy": self.tidy_table, "effects": self.effects_table,
            "dropped": self.dropped_table, "guardrails": self.guardrails_table,
            "calibration": self.calibration_table, "diagnostics": self.diagnostics,
            "caveat": self.caveat,
        })


@dataclass(frozen=True, repr=False)
class WhatIfResult:
    """Predicted change of a scenario against the observed population.

    Attributes
    ----------
    changes : dict
        The scenario, e.g. ``{"fcr_rate": {"add": 0.10}}``.
    effect_unit : str
        ``"pp"`` for churn/retention rows; a currency code for money rows.
    method : str
        How the interval was obtained.
    """

    changes: dict
    effect_unit: str
    method: str
    alpha: float
    table_: pd.DataFrame = field(compare=False)
    sentence: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "table_", self.table_.copy())
        object.__setattr__(self, "changes", to_json_safe(dict(self.changes)))

    def table(self) -> pd.DataFrame:
        """``quantity, baseline, scenario, change, conf_low, conf_high, unit``."""
        return self.table_.copy()

    def to_dict(self) -> dict:
        """JSON-safe dictionary."""
        return to_json_safe({"changes": self.changes, "effect_unit": self.effect_unit,
                             "method": self.method, "alpha": self.alpha,
                             "table": self.table_, "sentence": self.sentence})

    def summary(self) -> Summary:
        """Display object with the scenario table and sentence."""
        return Summary("What-if scenario", {"changes": self.changes, "method": self.method},
                       {"Predicted change": self.table_}, self.sentence)

    def __repr__(self) -> str:
        return f"WhatIfResult({self.sentence})"

    def _repr_html_(self) -> str:
        return self.summary()._repr_html_()


@dataclass(frozen=True, repr=False)
class ImportanceResult:
    """Share of the explained outcome variation attributable to each driver.

    Attributes
    ----------
    method : str
        ``"relative_weights"`` or ``"dominance"``.
    outcome : str
        Outcome column.
    r2 : float
        Total (pseudo-)R-squared of the drivers and controls.
    """

    method: str
    outcome: str
    r2: float
    alpha: float
    table_: pd.DataFrame = field(compare=False)
    note: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "table_", self.table_.copy())

    def table(self) -> pd.DataFrame:
        """``term, weight, share_pct, conf_low, conf_high, rank`` (weights in R2 units)."""
        return self.table_.copy()

    def to_dict(self) -> dict:
        """JSON-safe dictionary."""
        return to_json_safe({"method": self.method, "outcome": self.outcome, "r2": self.r2,
                             "alpha": self.alpha, "table": self.table_, "note": self.note})

    def summary(self) -> Summary:
        """Display object with the importance table."""
        return Summary(f"Driver importance for {self.outcome}",
                       {"method": self.method, "R2": round(self.r2, 4)},
                       {"Importance": self.table_}, self.note)

    def __repr__(self) -> str:
        return f"ImportanceResult(method={self.method!r}, outcome={self.outcome!r})"

    def _repr_html_(self) -> str:
        return self.summary()._repr_html_()
