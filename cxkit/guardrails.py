"""Guardrails: the design checks shown with every estimate.

Every ``fit_*`` result carries a ``guardrails`` table (``check, status,
detail``; status is ``passes``, ``warning``, ``fails`` or ``not run``) and a
``caveat`` paragraph, both built here from the model's
:class:`~cxkit.fitting.ModelSpec`:

* exposure strictly before the outcome, quality given contact, events per
  parameter, how the standard errors were computed;
* :func:`placebo_check` — do period-t drivers "predict" the revenue change
  that happened *before* period t? They should not.

The comparison models an analyst probes a finding with (naive vs adjusted,
within-customer, mediation, per segment) live in :mod:`cxkit.comparisons`.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import statsmodels.api as sm

from cxkit import fitting
from cxkit.exceptions import ModelError
from cxkit.fitting import ModelSpec

__all__ = ["design_checks", "caveat_text", "placebo_check", "placebo_outcome",
           "PLACEBO_OUTCOME"]

PLACEBO_OUTCOME = "placebo_revenue_change_amount"


def _row(check: str, status: str, detail: str) -> dict:
    return {"check": check, "status": status, "detail": detail}


def placebo_outcome(panel: pd.DataFrame, *, entity: str = "customer_id") -> np.ndarray:
    """``revenue_amount[t-1] - revenue_amount[t-2]`` of each row's customer (NaN if absent).

    Aligned with the rows of ``panel``; periods are consecutive
    ``period_index`` values of the same ``entity``. Computed on arrays (one
    sort when the panel is not already ordered), without copying the panel.
    """
    fitting.check_columns(panel, [entity, "period_index", "revenue_amount"], role="Placebo")
    ent = pd.factorize(panel[entity])[0]
    per = panel["period_index"].to_numpy()
    rev = panel["revenue_amount"].to_numpy(dtype=float)
    ordered = len(ent) < 2 or bool(np.all((ent[1:] > ent[:-1]) | (
        (ent[1:] == ent[:-1]) & (per[1:] > per[:-1]))))
    order = np.arange(len(ent)) if ordered else np.lexsort((per, ent))
    e, p, r = ent[order], per[order], rev[order]
    lag1 = np.full(len(r), np.nan)
    lag2 = np.full(len(r), np.nan)
    same1 = (e[1:] == e[:-1]) & (p[1:] == p[:-1] + 1)
    lag1[1:][same1] = r[:-1][same1]
    same2 = (e[2:] == e[:-2]) & (p[2:] == p[:-2] + 2)
    lag2[2:][same2] = r[:-2][same2]
    out = np.empty(len(r))
    out[order] = lag1 - lag2
    return out


def placebo_check(panel: pd.DataFrame, *, drivers, controls=fitting.DEFAULT_CONTROLS,
                  design: str = "quality_given_contact", cluster: str | None = "customer_id",
                  cov_type: str | None = None, entity: str = "customer_id",
                  alpha: float = 0.05, spec: ModelSpec | None = None) -> pd.DataFrame:
    """Regress the revenue change measured BEFORE period t on the period-t drivers.

    The placebo outcome is ``revenue_amount[t-1] - revenue_amount[t-2]`` of the
    same customer (:func:`placebo_outcome`). Support experienced in period t
    cannot cause it, so a clear association means the drivers pick up
    pre-existing differences between customers (e.g. accounts already in
    decline get worse support), which would bias the churn/revenue effects too.
    OLS with the same drivers (and transforms), controls, design and standard
    errors as the model (``spec``, when given, replaces the other arguments).

    Returns
    -------
    DataFrame
        One row per driver: ``term, estimate, conf_low, conf_high, p_value,
        std_effect, verdict``. ``std_effect`` is ``estimate * sd(driver term) /
        sd(placebo)`` (size, for reading); the verdict is ``fails`` when the
        interval excludes 0, else ``passes``.

    Raises
    ------
    ModelError
        The check cannot run: revenue never varies in the usable rows (no
        earlier change to test), or fewer than 30 rows have two earlier
        periods of revenue. The message says which.
    """
    if spec is None:
        spec = fitting.make_spec(panel, outcome=PLACEBO_OUTCOME, drivers=drivers,
                                 controls=controls, design=design, cluster=cluster,
                                 cov_type=cov_type)
    else:
        spec = dataclasses.replace(spec, outcome=PLACEBO_OUTCOME)
    outcome = placebo_outcome(panel, entity=entity)
    used, _ = fitting.prepare_rows(panel, spec, extra={PLACEBO_OUTCOME: outcome},
                                   observed_only=False)
    y = used[PLACEBO_OUTCOME].to_numpy(dtype=float)
    if len(used) and np.std(y) == 0:
        constant = panel["revenue_amount"].dropna().unique()
        what = (f"revenue_amount is always {constant[0]:g}" if len(constant) == 1 else
                "each customer's revenue is the same from period to period")
        raise ModelError(f"Placebo check not run: {what} in the {len(used):,} usable rows, so "
                         f"there is no earlier revenue change to test (e.g. no revenue table, "
                         f"or fixed fees).")
    if len(used) < 30:
        raise ModelError(f"Placebo check not run: only {len(used)} rows have two earlier "
                         f"periods of revenue; it needs at least 30 (a longer history).")
    design_matrix = fitting.build_design(used, spec)
    fitting.check_rank(design_matrix, spec)
    model = sm.OLS(pd.Series(y, name=PLACEBO_OUTCOME),
                   pd.DataFrame(design_matrix.matrix, columns=list(design_matrix.names)))
    res = fitting.fit_model(model, spec, groups=fitting.cluster_codes(used, spec.cluster),
                            label="Placebo OLS")
    names = list(spec.driver_names)
    tidy = fitting.coefficient_rows(res, alpha=alpha, unit="currency", spec=spec)
    tidy = tidy.set_index("term").loc[names].reset_index()
    sd_y = np.std(y, ddof=1)
    tidy["std_effect"] = [b * np.std(design_matrix.matrix[:, design_matrix.index(d)], ddof=1)
                          / sd_y for b, d in zip(tidy["estimate"], names, strict=True)]
    covers = (tidy["conf_low"] <= 0) & (tidy["conf_high"] >= 0)
    tidy["verdict"] = np.where(covers, "passes", "fails")
    return tidy[["term", "estimate", "conf_low", "conf_high", "p_value", "std_effect",
                 "verdict"]]


def _errors_row(spec: ModelSpec, used: pd.DataFrame) -> dict:
    one_per_customer = ("customer_id" in used.columns and len(used) > 0
                        and not used["customer_id"].duplicated().any())
    if spec.cov_type == "cluster":
        return _row("clustered_errors", "passes", f"standard errors clustered by {spec.cluster}")
    kind = ("robust (HC1)" if spec.cov_type == "HC1" else "model-based (nonrobust)")
    if one_per_customer:
        return _row("clustered_errors", "passes", f"one row per customer: {kind} standard "
                    f"errors, no clustering needed")
    return _row("clustered_errors", "warning", f"{kind} standard errors without clustering: "
                "repeated rows per customer understate uncertainty")


def design_checks(panel: pd.DataFrame, used: pd.DataFrame, spec: ModelSpec, *, events,
                  n_params: int, placebo: bool = True, alpha: float = 0.05) -> pd.DataFrame:
    """The guardrails table attached to a result (``check, status, detail``)."""
    rows = []
    outcome = spec.outcome
    if spec.horizon is not None and spec.horizon >= 1:
        rows.append(_row("exposure_before_outcome", "passes",
                         f"outcome measured {spec.horizon} period(s) after the drivers"))
    elif outcome.endswith("_next") or "_next_" in outcome:
        rows.append(_row("exposure_before_outcome", "passes",
                         f"{outcome} is measured in the period after the drivers"))
    else:
        rows.append(_row("exposure_before_outcome", "warning",
                         f"cannot confirm {outcome} is measured after the drivers; use a "
                         f"*_next outcome from build_panel"))
    if spec.design == "quality_given_contact":
        rows.append(_row("quality_given_contact", "passes",
                         "only periods with a ticket: compares customers who all contacted "
                         "support, by how well it went"))
    else:
        rows.append(_row("quality_given_contact", "warning",
                         "all customers: quality metrics exist only for contacted customers "
                         "and contact itself signals problems; read effects with care"))
    if events is not None:
        epp = events / max(n_params, 1)
        rows.append(_row("events_per_parameter", "passes" if epp >= 10 else "warning",
                         f"{events} events / {n_params} parameters = {epp:.1f}"))
    rows.append(_errors_row(spec, used))
    if placebo:
        try:
            table = placebo_check(panel, drivers=(), spec=spec, alpha=alpha)
            failed = table.loc[table["verdict"] == "fails", "term"].tolist()
            detail = "; ".join(f"{t}: {e:.3g} ({lo:.3g} to {hi:.3g})" for t, e, lo, hi in
                               table[["term", "estimate", "conf_low", "conf_high"]].itertuples(
                                   index=False))
            rows.append(_row("placebo_prior_revenue_change", "fails" if failed else "passes",
                             ("drivers predict the earlier revenue change: " + ", ".join(failed)
                              + ". " if failed else "") + detail))
        except ModelError as exc:
            rows.append(_row("placebo_prior_revenue_change", "not run", str(exc)))
    else:
        rows.append(_row("placebo_prior_revenue_change", "not run", "placebo=False"))
    return pd.DataFrame(rows)


def standard_error_words(spec: ModelSpec) -> str:
    """How the standard errors were computed, in words (for caveats)."""
    if spec.cov_type == "cluster":
        return ("standard errors clustered by customer" if spec.cluster == "customer_id"
                else f"standard errors clustered by {spec.cluster}")
    if spec.cov_type == "HC1":
        return "robust (HC1) standard errors, not clustered"
    return "model-based (nonrobust) standard errors"


def caveat_text(spec: ModelSpec, *, outcome_label: str, n_obs: int,
                checks: pd.DataFrame | None = None) -> str:
    """One paragraph stating the design and what the estimates do not prove.

    It says what the fit did: the standard errors as computed
    (:func:`standard_error_words`), "the following period" only when the
    checks confirm the outcome comes after the drivers (one row per
    customer: an association with no order in time), and "all guardrail
    checks pass" only when every check ran and passed; a check that did not
    run is named with its reason.
    """
    status = (checks.set_index("check")["status"] if checks is not None and len(checks)
              else pd.Series(dtype=object))
    ordered = status.get("exposure_before_outcome") == "passes"
    adj = ", ".join(spec.control_names) if spec.controls else "nothing"
    errors = standard_error_words(spec)
    if ordered:
        who = ("customer-periods with at least one ticket (quality given contact)"
               if spec.design == "quality_given_contact" else "all customer-periods")
        text = (f"Design: {n_obs:,} {who}; support metrics of period t related to "
                f"{outcome_label} in the following period, adjusted for {adj}, {errors}. "
                f"These are associations: unmeasured differences between customers "
                f"(e.g. accounts prone to problems) can bias them.")
    else:
        text = (f"Design: {n_obs:,} rows; support metrics related to {outcome_label}, adjusted "
                f"for {adj}, {errors}. The data do not show that the support experience came "
                f"before the outcome, so these are associations only; unmeasured differences "
                f"between customers can bias them.")
    if len(status):
        bad = status.index[status.isin(["fails", "warning"])].tolist()
        skipped = checks.loc[checks["status"] == "not run", ["check", "detail"]]
        if bad:
            text += " Guardrails flagged: " + ", ".join(bad) + "."
        if len(skipped):
            text += " Not run: " + "; ".join(f"{c} ({d})" for c, d in skipped.itertuples(
                index=False)) + "."
        if not bad and not len(skipped):
            text += " All guardrail checks pass."
    return text
