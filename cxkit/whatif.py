"""What-if scenarios: predicted change in churn and money if support changes.

:func:`what_if` takes a fitted retention model (and optionally a revenue
model), applies a scenario to the drivers of the population the model was
fitted on (e.g. resolution time x 0.8, first-contact resolution + 10 pp),
and predicts the change of the average churn probability (percentage points
per period) and, with a revenue model or a value per retained customer, of
money per period.

Intervals come from parametric simulation: ``n_sim`` coefficient vectors
drawn from the estimated (cluster-robust) normal distribution of the
coefficients, the prediction recomputed for each draw, percentile interval.
The point estimate uses the estimated coefficients.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from cxkit import fitting, registry
from cxkit.availability import adapts
from cxkit.evidence import weakest
from cxkit.exceptions import ModelError, ParameterError
from cxkit.labels import driver_label
from cxkit.results import ModelResult, WhatIfResult, to_json_safe
from cxkit.revenue import predict_revenue

__all__ = ["what_if", "apply_changes"]

def apply_changes(df: pd.DataFrame, changes: dict) -> pd.DataFrame:
    """Copy of ``df`` with each column changed by ``{"multiply"|"add"|"set": value}``.

    Values are clipped to the column's valid range in the metric registry
    (:func:`cxkit.registry.value_bounds`): ``_rate`` to [0, 1], ``_pct`` to
    [0, 100], CSAT to [1, 5], CES to [1, 7], other columns at 0 or more.
    """
    out = df.copy()
    for column, change in changes.items():
        if column not in out.columns:
            raise ParameterError(f"Scenario column {column!r} is not in the data; change one of "
                             f"the model drivers.")
        if not isinstance(change, dict) or len(change) != 1 or \
                next(iter(change)) not in ("multiply", "add", "set"):
            raise ParameterError(f"Scenario for {column!r} must be one of {{'multiply': x}}, "
                             f"{{'add': x}} or {{'set': x}}; got {change!r}.")
        (how, value), = change.items()
        x = out[column].astype(float)
        x = x * value if how == "multiply" else x + value if how == "add" else x * 0 + value
        lo, hi = registry.value_bounds(column)
        out[column] = x.clip(lo, hi)
    return out


def _scenario(result: ModelResult, panel: pd.DataFrame, changes: dict):
    """The model's rows and design matrices before and under the scenario."""
    spec = result.spec
    frame, _ = fitting.prepare_rows(panel, spec)
    design = fitting.build_design(frame, spec)
    if list(design.names) != list(np.asarray(result.model_result.model.exog_names
                                             if not isinstance(result.model_result, tuple)
                                             else result.model_result[0].model.exog_names)):
        raise ModelError("The panel does not give the model's design columns (a category "
                         "is missing or new); pass the panel the model was fitted on.")
    used = {c: v for c, v in changes.items() if c in frame.columns}
    changed = apply_changes(frame[list(used)], used)
    values = {c: changed[c].to_numpy(dtype=float) for c in used}
    for term in spec.drivers:
        if term.column in values and term.invalid(values[term.column]).any():
            raise ParameterError(f"The scenario takes {term.column} outside the domain of "
                                 f"the driver {term.text} ({term.rule()}); choose a smaller "
                                 f"change.")
    return frame, design.matrix, design.with_values(values)


def _parameters(model_result) -> tuple[np.ndarray, np.ndarray]:
    """Stacked parameters and block-diagonal covariance of one or two fitted parts."""
    parts = model_result if isinstance(model_result, tuple) else (model_result,)
    theta = np.concatenate([np.asarray(p.params, float) for p in parts])
    cov = np.zeros((len(theta), len(theta)))
    start = 0
    for p in parts:
        k = len(p.params)
        cov[start:start + k, start:start + k] = p.cov_params()
        start += k
    return theta, cov


@adapts
def what_if(result: ModelResult, panel: pd.DataFrame, *, changes: dict,
            revenue_result: ModelResult | None = None, customers_per_period: float | None = None,
            value_per_retained_customer_amount: float | None = None, n_sim: int = 1000,
            seed: int = 0) -> WhatIfResult:
    """Predicted change in churn (pp) and money per period under a scenario.

    Parameters
    ----------
    result : ModelResult
        A retention logit from :func:`cxkit.models.fit_retention`.
    panel : DataFrame
        The panel the model was fitted on; the scenario applies to the same
        rows (same design, complete cases).
    changes : dict
        ``{column: {"multiply"|"add"|"set": value}}``; see :func:`apply_changes`.
    revenue_result : ModelResult, optional
        A revenue model from :func:`cxkit.revenue.fit_revenue` with the same
        drivers; adds revenue rows (currency per customer-period and per period).
    customers_per_period : float, optional
        Customer-periods the scenario applies to in one period (default: rows
        of the population divided by the number of periods in it).
    value_per_retained_customer_amount : float, optional
        Money one retained customer is worth; adds a retention-value row.
    n_sim : int
        Coefficient draws for the intervals: normal draws around the fitted
        coefficients with their cluster-robust covariance (for a revenue model
        fitted with ``interval="bootstrap"`` too; its bootstrap is not reused).
    seed : int
        Seed of the draws.

    Returns
    -------
    WhatIfResult
        ``table()`` rows ``churn_rate``, ``retained_customers_per_period``
        and, if asked, ``retention_value_per_period``,
        ``revenue_per_customer_period``, ``revenue_per_period``.
    """
    if result.kind != "logit":
        raise ParameterError(f"what_if needs a retention logit (fit_retention); got a "
                         f"{result.kind!r} model.")
    columns = [t.column for t in result.spec.drivers]
    unknown = [c for c in changes if c not in columns]
    if unknown:
        raise ParameterError(f"Scenario changes {unknown} are not drivers of the model "
                             f"({', '.join(result.drivers)}); fit the model with them as "
                             f"drivers.")
    outside_revenue = []
    if revenue_result is not None:
        revenue_columns = [t.column for t in revenue_result.spec.drivers]
        outside_revenue = [c for c in changes if c not in revenue_columns]
        if len(outside_revenue) == len(changes):
            raise ParameterError(f"No scenario driver ({', '.join(changes)}) is a driver of "
                                 f"the revenue model ({', '.join(revenue_result.drivers)}), so "
                                 f"its revenue change would be exactly 0 by construction. Fit "
                                 f"the revenue model with them as drivers, or leave "
                                 f"revenue_result out.")
        if outside_revenue:
            moved = ", ".join(c for c in changes if c not in outside_revenue)
            warnings.warn(f"{', '.join(outside_revenue)} not in the revenue model: the revenue "
                          f"rows move only with {moved}.", UserWarning, stacklevel=2)
    df0, x0, x1 = _scenario(result, panel, changes)
    res = result.model_result
    rng = np.random.default_rng(seed)
    beta, beta_cov = _parameters(res)
    draws = np.vstack([beta, rng.multivariate_normal(beta, beta_cov, n_sim)])

    def churn(b):
        return [np.mean(1 / (1 + np.exp(-x @ b))) for x in (x0, x1)]

    sims = np.array([churn(b) for b in draws])
    n_periods = df0["period_index"].nunique() if "period_index" in df0.columns else 1
    per_period = customers_per_period or len(df0) / max(n_periods, 1)
    alpha = result.alpha
    q = [100 * alpha / 2, 100 * (1 - alpha / 2)]

    def row(name, base, scen, diffs, unit):
        """One table row; ``base`` None = a change-only quantity (no levels)."""
        lo, hi = np.percentile(diffs, q)
        change = scen if base is None else scen - base
        return {"quantity": name, "baseline": np.nan if base is None else base,
                "scenario": np.nan if base is None else scen, "change": change,
                "conf_low": lo, "conf_high": hi, "unit": unit}

    d = sims[1:, 1] - sims[1:, 0]
    (c0, c1) = sims[0]
    rows = [row("churn_rate", 100 * c0, 100 * c1, 100 * d, "pp"),
            row("retained_customers_per_period", None, -(c1 - c0) * per_period,
                -d * per_period, "customers")]
    money_unit = None
    if value_per_retained_customer_amount is not None:
        v = value_per_retained_customer_amount
        money_unit = (revenue_result.effect_unit if revenue_result is not None
                      else str(panel.attrs.get("currency", "currency")))
        rows.append(row("retention_value_per_period", None, -(c1 - c0) * per_period * v,
                        -d * per_period * v, money_unit))
    if revenue_result is not None:
        theta, cov = _parameters(revenue_result.model_result)
        _, rx0, rx1 = _scenario(revenue_result, panel, changes)
        rdraws = np.vstack([theta, rng.multivariate_normal(theta, cov, n_sim)])
        smear = revenue_result.diagnostics.get("smearing_factor") or 1.0
        means = np.array([[np.mean(predict_revenue(revenue_result.kind, t, x, smear=smear))
                           for x in (rx0, rx1)] for t in rdraws])
        rd = means[1:, 1] - means[1:, 0]
        money_unit = revenue_result.effect_unit
        rows.append(row("revenue_per_customer_period", means[0, 0], means[0, 1], rd, money_unit))
        rows.append(row("revenue_per_period", None, (means[0, 1] - means[0, 0]) * per_period,
                        rd * per_period, money_unit))
    table = pd.DataFrame(rows)
    words = []
    for column, change in changes.items():
        label, unit, scale = driver_label(column)
        (how, value), = change.items()
        words.append(f"{label} x{value:g}" if how == "multiply" else
                     f"{label} {value * scale:+g}{unit}" if how == "add" else
                     f"{label} = {value:g}")
    first = table.iloc[0]
    level = round(100 * (1 - alpha))
    sentence = (f"Scenario ({', '.join(words)}): {first['change']:+.2f} pp {result.outcome_label} "
                f"({level}% CI {first['conf_low']:.2f} to {first['conf_high']:.2f}) over "
                f"{len(df0):,} customer-periods")
    money = table[table["quantity"].isin(["revenue_per_period", "retention_value_per_period"])]
    for r in money.itertuples(index=False):
        sentence += (f"; {r.quantity.replace('_', ' ')} {r.change:+,.0f} {r.unit} "
                     f"({r.conf_low:,.0f} to {r.conf_high:,.0f})")
    if outside_revenue:
        sentence += (f" (revenue moves only with the scenario's drivers in the revenue model; "
                     f"not {', '.join(outside_revenue)})")
    labels = result.effects().set_index("term")["evidence"]
    scenario_evidence = weakest([labels[t.text] for t in result.spec.drivers
                                 if t.column in changes])
    return WhatIfResult(changes=to_json_safe(changes), effect_unit="pp",
                        method=f"parametric simulation, {n_sim} coefficient draws, seed {seed}",
                        alpha=alpha, table_=table, sentence=sentence + ".",
                        evidence=scenario_evidence)
