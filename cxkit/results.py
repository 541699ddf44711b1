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
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from cxkit.evidence import ASSOCIATION, CONFOUNDED, evidence_label

__all__ = [
    "ModelResult",
    "WhatIfResult",
    "ImportanceResult",
    "Summary",
    "TIDY_COLUMNS",
    "ESTIMATE_COLUMNS",
    "to_json_safe",
]

TIDY_COLUMNS = ["term", "estimate", "std_error", "statistic", "p_value", "conf_low", "conf_high"]
#: Columns of every result's estimates table (one row per term and quantity).
ESTIMATE_COLUMNS = ["term", "quantity", "estimate", "std_error", "statistic", "p_value",
                    "conf_low", "conf_high", "unit", "evidence"]


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


def _frozen_mapping(value) -> Mapping:
    return MappingProxyType(to_json_safe(dict(value or {})))


def _same(a, b, names, tables) -> bool:
    """Equality of two results: plain fields equal and tables equal cell by cell."""
    if type(a) is not type(b):
        return NotImplemented
    if any(getattr(a, n) != getattr(b, n) for n in names):
        return False
    for t in tables:
        x, y = getattr(a, t), getattr(b, t)
        if (x is None) != (y is None) or (x is not None and not x.equals(y)):
            return False
    return True


def _state(obj) -> dict:
    """Picklable state of a result (mapping proxies become dicts)."""
    return {k: dict(v) if isinstance(v, MappingProxyType) else v for k, v in vars(obj).items()}


def _restore(obj, state: dict) -> None:
    for k, v in state.items():
        object.__setattr__(obj, k, MappingProxyType(v) if k in ("diagnostics", "changes") else v)


@dataclass(frozen=True, repr=False, eq=False)
class ModelResult:
    """A fitted model: its specification, one estimates table, dropped rows, guardrails.

    Attributes
    ----------
    kind : str
        ``"logit"``, ``"log_ols"``, ``"two_part"``, ``"tweedie"``, ``"cox"``,
        ``"ols"`` or ``"within"``.
    spec : ModelSpec
        What was fitted (:class:`cxkit.fitting.ModelSpec`): outcome, drivers
        with their transforms, controls, design, cluster, covariance, period,
        horizon.
    n_obs : int
        Rows used in the fit.
    effect_unit : str
        Unit of the effects (:meth:`effects`, :meth:`effect`): ``"pp"``
        (percentage points), a currency code, or ``"hazard ratio"``.
    effect_quantity : str
        The estimates ``quantity`` the effects are: ``"ame_pp"``,
        ``"effect_amount"``, ``"hazard_ratio"``, ``"within_pp"``...
    outcome_label : str
        Plain words for the outcome, e.g. ``"monthly churn"``.
    alpha : float
        Intervals are ``1 - alpha`` intervals.
    estimates_table : DataFrame
        The single source of estimates: one row per term and quantity,
        columns :data:`ESTIMATE_COLUMNS`. Compared by ``==``.
    diagnostics : mapping
        Scalar fit facts (AUC, events, clusters, ...), JSON-safe, read-only.
    caveat : str
        One paragraph stating the design and what the numbers do not prove.
    model_result : object
        The underlying statsmodels result (escape hatch; not compared).
    """

    kind: str
    spec: Any
    n_obs: int
    effect_unit: str
    effect_quantity: str
    outcome_label: str
    alpha: float
    estimates_table: pd.DataFrame
    dropped_table: pd.DataFrame
    guardrails_table: pd.DataFrame
    calibration_table: pd.DataFrame | None = None
    diagnostics: Mapping = field(default_factory=dict)
    caveat: str = ""
    model_result: Any = None

    def __post_init__(self) -> None:
        for name in ("estimates_table", "dropped_table", "guardrails_table",
                     "calibration_table"):
            value = getattr(self, name)
            object.__setattr__(self, name, None if value is None else value.copy())
        missing = [c for c in ESTIMATE_COLUMNS if c not in self.estimates_table.columns]
        if missing:
            raise ValueError(f"estimates table lacks columns {missing}")
        object.__setattr__(self, "diagnostics", _frozen_mapping(self.diagnostics))
        table = self.estimates_table
        unset = table["evidence"].isna()
        if unset.any():  # the one place labels are decided: cxkit.evidence
            table.loc[unset, "evidence"] = [evidence_label(self, t)
                                            for t in table.loc[unset, "term"]]

    def __eq__(self, other) -> bool:
        return _same(self, other, ("kind", "spec", "n_obs", "effect_unit", "effect_quantity",
                                   "alpha", "caveat", "diagnostics"),
                     ("estimates_table", "dropped_table", "guardrails_table"))

    def __hash__(self) -> int:
        return hash((self.kind, self.spec, self.n_obs))

    __getstate__ = _state
    __setstate__ = _restore

    # -- the specification ----------------------------------------------------
    @property
    def outcome(self) -> str:
        return self.spec.outcome

    @property
    def drivers(self) -> tuple:
        """Canonical text of each driver, e.g. ``("log(resolution_hours_mean)", "fcr_rate")``."""
        return self.spec.driver_names

    @property
    def formula(self) -> str:
        return self.spec.formula

    # -- tables (always copies) -------------------------------------------
    def estimates(self) -> pd.DataFrame:
        """Every estimate: ``term, quantity, estimate, std_error, statistic, p_value,
        conf_low, conf_high, unit, evidence`` (the table the other views read)."""
        return self.estimates_table.copy()

    def tidy(self, quantity: str | None = "coefficient") -> pd.DataFrame:
        """Rows of one quantity of the estimates table (default the model coefficients;
        ``None`` = all rows)."""
        table = self.estimates_table
        if quantity is not None:
            table = table.loc[table["quantity"] == quantity]
        return table.reset_index(drop=True)

    def effects(self) -> pd.DataFrame:
        """The drivers' effects in :attr:`effect_unit` (rows of :attr:`effect_quantity`).

        Logit: average marginal effect in percentage points per unit of the
        driver's column (for a transformed driver, through the transform; for
        a 0/1 driver or threshold, the 0 -> 1 change). Revenue: currency per
        unit. Cox: hazard ratio per unit.
        """
        table = self.estimates_table
        keep = (table["quantity"] == self.effect_quantity) & table["term"].isin(self.drivers)
        return table.loc[keep].reset_index(drop=True)

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
        """Effect of changing ``term`` by ``delta`` units of its column, with its interval.

        The effect per unit (a row of :meth:`effects`) is scaled linearly by
        ``delta`` (first-order; :func:`cxkit.whatif.what_if` recomputes
        predictions exactly). For Cox models the hazard ratio is raised to the
        power ``delta``. For a threshold driver ``delta=1`` is the switch from
        below to above the threshold.

        Returns
        -------
        dict
            ``term, delta, estimate, conf_low, conf_high, unit, evidence,
            sentence``; the sentence ends with the evidence label in brackets.
        """
        from cxkit.exceptions import ParameterError
        from cxkit.labels import driver_label

        table = self.effects()
        matches = [t for t in self.spec.drivers if term in (t.text, t.column)]
        if not matches:
            raise ParameterError(f"No effect for term {term!r}; available terms: "
                                 f"{', '.join(table['term'])}. Pass one of these.")
        driver = matches[0]
        row = table.set_index("term").loc[driver.text]
        level = round(100 * (1 - self.alpha))
        label, unit, scale = driver_label(driver.column)
        if driver.kind == "threshold":
            change = (f"{label} {driver.function} {driver.value * scale:g}{unit}"
                      + (" (vs below)" if delta >= 0 else " (vs above, reversed)"))
        else:
            change = f"{delta * scale:+g}{unit} {label}"
            if driver.kind == "transform":
                change += f" (model: {driver.text})"
        if self.effect_unit == "hazard ratio":
            est, lo, hi = (float(row[c]) ** delta for c in ("estimate", "conf_low", "conf_high"))
            lo, hi = min(lo, hi), max(lo, hi)
            sentence = (f"{change} ≈ hazard ratio {est:.2f} for {self.outcome_label} "
                        f"({level}% CI {lo:.2f} to {hi:.2f})")
        else:
            est, lo, hi = (float(row[c]) * delta for c in ("estimate", "conf_low", "conf_high"))
            lo, hi = min(lo, hi), max(lo, hi)
            sentence = (f"{change} ≈ {est:+.2f} {self.effect_unit} {self.outcome_label} "
                        f"({level}% CI {_fmt(lo, 2)} to {_fmt(hi, 2)})")
        evidence = row["evidence"]
        sentence += (f" [{evidence}: not a finding]" if evidence == CONFOUNDED
                     else f" [{evidence}]")
        return {"term": driver.text, "delta": float(delta), "estimate": est, "conf_low": lo,
                "conf_high": hi, "unit": self.effect_unit, "evidence": evidence,
                "sentence": sentence}

    # -- display ------------------------------------------------------------
    def summary(self) -> Summary:
        """Display object (repr and HTML) with the fit facts and tables."""
        cov = self.spec.cov_type + (f" by {self.spec.cluster}"
                                    if self.spec.cov_type == "cluster" else "")
        facts = {"model": self.kind, "outcome": self.outcome, "formula": self.formula,
                 "design": self.spec.design, "standard errors": cov,
                 "rows used": f"{self.n_obs:,}"}
        facts.update({k: v for k, v in self.diagnostics.items() if v is not None})
        from cxkit.sensitivity import describe_sensitivity

        sensitivity = describe_sensitivity(self).drop(columns="sentence")
        tables = {"Estimates": self.estimates_table,
                  "Sensitivity to unobserved confounding": sensitivity,
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
            "kind": self.kind, "spec": self.spec.to_dict(), "outcome": self.outcome,
            "drivers": list(self.drivers), "formula": self.formula, "n_obs": self.n_obs,
            "effect_unit": self.effect_unit, "effect_quantity": self.effect_quantity,
            "outcome_label": self.outcome_label, "alpha": self.alpha,
            "estimates": self.estimates_table, "dropped": self.dropped_table,
            "guardrails": self.guardrails_table, "calibration": self.calibration_table,
            "diagnostics": dict(self.diagnostics), "caveat": self.caveat,
        })


@dataclass(frozen=True, repr=False, eq=False)
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

    changes: Mapping
    effect_unit: str
    method: str
    alpha: float
    table_: pd.DataFrame
    sentence: str = ""
    evidence: str = ASSOCIATION

    def __post_init__(self) -> None:
        object.__setattr__(self, "table_", self.table_.copy())
        object.__setattr__(self, "changes", MappingProxyType(to_json_safe(dict(self.changes))))

    def __eq__(self, other) -> bool:
        return _same(self, other, ("changes", "effect_unit", "method", "alpha", "sentence",
                                   "evidence"), ("table_",))

    def __hash__(self) -> int:
        return hash((self.method, self.sentence))

    __getstate__ = _state
    __setstate__ = _restore

    def table(self) -> pd.DataFrame:
        """``quantity, baseline, scenario, change, conf_low, conf_high, unit``."""
        return self.table_.copy()

    def tidy(self, quantity: str | None = None) -> pd.DataFrame:
        """The scenario's changes as estimates rows (``quantity="scenario_change"``;
        the interval is the simulation's percentile interval)."""
        t = self.table_
        out = pd.DataFrame({"term": t["quantity"], "quantity": "scenario_change",
                            "estimate": t["change"], "std_error": np.nan, "statistic": np.nan,
                            "p_value": np.nan, "conf_low": t["conf_low"],
                            "conf_high": t["conf_high"], "unit": t["unit"],
                            "evidence": self.evidence})
        if quantity is not None:
            out = out.loc[out["quantity"] == quantity]
        return out[ESTIMATE_COLUMNS].reset_index(drop=True)

    def to_dict(self) -> dict:
        """JSON-safe dictionary."""
        return to_json_safe({"changes": dict(self.changes), "effect_unit": self.effect_unit,
                             "method": self.method, "alpha": self.alpha,
                             "table": self.table_, "sentence": self.sentence})

    def summary(self) -> Summary:
        """Display object with the scenario table and sentence."""
        return Summary("What-if scenario", {"changes": dict(self.changes),
                                            "method": self.method},
                       {"Predicted change": self.table_}, self.sentence)

    def plot(self, *, ax=None):
        """Churn rate (pp) before and under the scenario, with the change's interval."""
        from cxkit.plots import scenario_plot

        return scenario_plot(self.table_, alpha=self.alpha, ax=ax)

    def __repr__(self) -> str:
        return f"WhatIfResult({self.sentence})"

    def _repr_html_(self) -> str:
        return self.summary()._repr_html_()


@dataclass(frozen=True, repr=False, eq=False)
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
    table_: pd.DataFrame
    note: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "table_", self.table_.copy())

    def __eq__(self, other) -> bool:
        return _same(self, other, ("method", "outcome", "r2", "alpha", "note"), ("table_",))

    def __hash__(self) -> int:
        return hash((self.method, self.outcome, self.r2))

    def table(self) -> pd.DataFrame:
        """``term, weight, share_pct, conf_low, conf_high, rank`` (weights in R2 units)."""
        return self.table_.copy()

    def tidy(self, quantity: str | None = None) -> pd.DataFrame:
        """Importance weights as estimates rows (``quantity="importance_weight"``, unit R2;
        bootstrap percentile interval). Importance is not an effect: association only."""
        t = self.table_
        out = pd.DataFrame({"term": t["term"], "quantity": "importance_weight",
                            "estimate": t["weight"], "std_error": np.nan, "statistic": np.nan,
                            "p_value": np.nan, "conf_low": t["conf_low"],
                            "conf_high": t["conf_high"], "unit": "R2",
                            "evidence": ASSOCIATION})
        if quantity is not None:
            out = out.loc[out["quantity"] == quantity]
        return out[ESTIMATE_COLUMNS].reset_index(drop=True)

    def to_dict(self) -> dict:
        """JSON-safe dictionary."""
        return to_json_safe({"method": self.method, "outcome": self.outcome, "r2": self.r2,
                             "alpha": self.alpha, "table": self.table_, "note": self.note})

    def summary(self) -> Summary:
        """Display object with the importance table."""
        return Summary(f"Driver importance for {self.outcome}",
                       {"method": self.method, "R2": round(self.r2, 4)},
                       {"Importance": self.table_}, self.note)

    def plot(self, *, ax=None):
        """Bar chart of each driver's share of the explained variation (%)."""
        from cxkit.plots import importance_plot

        return importance_plot(self.table_, alpha=self.alpha, ax=ax)

    def __repr__(self) -> str:
        return f"ImportanceResult(method={self.method!r}, outcome={self.outcome!r})"

    def _repr_html_(self) -> str:
        return self.summary()._repr_html_()
