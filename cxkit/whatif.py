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

from cxkit import models, registry
from cxkit.exceptions import ModelError
from cxkit.results import ModelResult, WhatIfResult, driver_label, to_json_safe
from cxkit.availability import adapts

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
            raise ModelError(f"Scenario column {column!r} is not in the data; change one of "
                             f"the model drivers.")
        if not isinstance(change, dict) or len(change) != 1 or \
                next(iter(change)) not in ("multiply", "add", "set"):
            raise ModelError(f"Scenario for {column!r} must be one of {{'multiply': x}}, "
                             f"{{'add': x}} or {{'set': x}}; got {change!r}.")
        (how, value), = change.items()
        x = out[column].astype(float)
        x = x * value if how == "multiply" else x + value if how == "add" else x * 0 + value
        lo, hi = registry.value_bounds(column)
        out[column] = x.clip(lo, hi)
    return out


def _design(res, df: pd.DataFrame) -> np.ndarray:
    """Model matrix of ``df`` built with the fitted model's formula."""
    spec = res.model.data.model_spec
    if hasattr(spec, "get_model_matrix"):
        return np.asarray(spec.get_model_matrix(df), float)
    import patsy

    return np.asarray(patsy.build_design_matrices([spec], df)[0], float)


def _population(result: ModelResult, panel: pd.DataFrame) -> pd.DataFrame:
    rhs = [t.strip() for t in result.formula.split("~", 1)[1].split(" (")[0].split("+")]
    controls = [t for t in rhs if t not in result.drivers]
    df, _ = models.prepare_rows(panel, drivers=list(result.drivers), controls=controls,
                                outcome=result.outcome, cluster=None,
                                design=result.diagnostics.get("design", "all"))
    return df


def _revenue_means(rev: ModelResult, x0, x1, draws) -> np.ndarray:
    """Mean revenue per row under x0 and x1 for each parameter draw (rows: draws)."""
    smear = rev.diagnostics.get("smearing_factor") or 1.0
    out = []
    for theta in draws:
        if rev.kind == "two_part":
            k = x0.shape[1]
            b, g = theta[:k], theta[k:]
            m = [np.mean(1 / (1 + np.exp(-x @ b)) * np.exp(x @ g) * smear) for x in (x0, x1)]
        elif rev.kind == "log_ols":
            m = [np.mean(np.exp(x @ theta) * smear - 1) for x in (x0, x1)]
        else:
            m = [np.mean(np.exp(x @ theta)) for x in (x0, x1)]
        out.append(m)
    return np.asarray(out)


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
        raise ModelError(f"what_if needs a retention logit (fit_retention); got a "
                         f"{result.kind!r} model.")
    unknown = [c for c in changes if c not in result.drivers]
    if unknown:
        raise ModelError(f"Scenario changes {unknown} are not drivers of the model "
                         f"({', '.join(result.drivers)}); fit the model with them as drivers.")
    outside_revenue = []
    if revenue_result is not None:
        outside_revenue = [c for c in changes if c not in revenue_result.drivers]
        if len(outside_revenue) == len(changes):
            raise ModelError(f"No scenario driver ({', '.join(changes)}) is a driver of the "
                             f"revenue model ({', '.join(revenue_result.drivers)}), so its "
                             f"revenue change would be exactly 0 by construction. Fit the "
                             f"revenue model with them as drivers, or leave revenue_result "
                             f"out.")
        if outside_revenue:
            moved = ", ".join(c for c in changes if c not in outside_revenue)
            warnings.warn(f"{', '.join(outside_revenue)} not in the revenue model: the revenue "
                          f"rows move only with {moved}.", UserWarning, stacklevel=2)
    df0 = _population(result, panel)
    df1 = apply_changes(df0, changes)
    res = result.model_result
    x0, x1 = _design(res, df0), _design(res, df1)
    rng = np.random.default_rng(seed)
    beta = np.asarray(res.params, float)
    draws = np.vstack([beta, rng.multivariate_normal(beta, np.asarray(res.cov_params()), n_sim)])

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
        rres = revenue_result.model_result
        parts = rres if isinstance(rres, tuple) else (rres,)
        theta = np.concatenate([np.asarray(p.params, float) for p in parts])
        cov = np.zeros((len(theta), len(theta)))
        start = 0
        for p in parts:
            k = len(p.params)
            cov[start:start + k, start:start + k] = p.cov_params()
            start += k
        rdf0 = _population(revenue_result, panel)
        rx0 = _design(parts[0], rdf0)
        rx1 = _design(parts[0], apply_changes(rdf0, {k: v for k, v in changes.items()
                                                     if k in rdf0.columns}))
        rdraws = np.vstack([theta, rng.multivariate_normal(theta, cov, n_sim)])
        means = _revenue_means(revenue_result, rx0, rx1, rdraws)
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
    return WhatIfResult(changes=to_json_safe(changes), effect_unit="pp",
                        method=f"parametric simulation, {n_sim} coefficient draws, seed {seed}",
                        alpha=alpha, table_=table, sentence=sentence + ".")
