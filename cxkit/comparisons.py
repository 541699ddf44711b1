"""Comparison models an analyst probes a retention or revenue finding with.

* :func:`compare_naive` — the naive all-customer model next to the adjusted
  quality-given-contact model and the within-customer model.
* :func:`fit_within` — customer fixed effects (within transformation).
* :func:`fit_by_segment` and :func:`adjust_pvalues` — per-segment fits with
  Benjamini-Hochberg adjusted p-values (statsmodels' ``multipletests``).

These sit above :mod:`cxkit.models` (they fit it) and beside the design
checks of :mod:`cxkit.guardrails`; mediation has its own module,
:mod:`cxkit.mediation`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import statsmodels.api as sm
from statsmodels.stats.multitest import multipletests

from cxkit import fitting, models
from cxkit.availability import adapts
from cxkit.evidence import CONFOUNDED
from cxkit.exceptions import ModelError
from cxkit.fitting import DEFAULT_CONTROLS
from cxkit.results import ModelResult

__all__ = ["compare_naive", "fit_within", "fit_by_segment", "adjust_pvalues", "is_absorbing"]


def _row(check: str, status: str, detail: str) -> dict:
    return {"check": check, "status": status, "detail": detail}


@adapts
def compare_naive(panel: pd.DataFrame, *, drivers=(), volume: str = "ticket_count",
                  prior: str = "ticket_count_prior", controls=DEFAULT_CONTROLS,
                  outcome: str = "churned_next", cluster: str | None = "customer_id",
                  alpha: float = 0.05) -> pd.DataFrame:
    """Naive, adjusted and within-customer churn effects side by side (pp per unit).

    * ``naive``: all customers, ``outcome ~ volume + controls`` (``prior``
      is taken out of the controls if given there); quality drivers are left
      out because they exist only for contacted customers.
    * ``adjusted``: quality given contact, ``outcome ~ volume + drivers +
      controls + prior``.
    * ``within``: :func:`fit_within` on ``volume + drivers`` (customer fixed
      effects; removes any time-constant customer trait such as a propensity
      to have problems, which the prior-volume control only proxies). For
      churn, which happens once and ends the customer's history, the within
      comparison is biased in size and can be in sign (see
      :func:`fit_within`): read it as a check on the ticket-volume trap, not
      as an effect size.

    Returns
    -------
    DataFrame
        One row per term (``volume`` then ``drivers``) with ``<spec>_ame,
        <spec>_conf_low, <spec>_conf_high, <spec>_p_value`` for spec in naive,
        adjusted, within (NaN where a term is not in a specification), then
        ``evidence`` (the adjusted model's label: ticket volume is confounded
        by construction) and ``reading`` (how to read the row).
    """
    naive_controls = [t.text for t in fitting.parse_terms(controls, role="control")
                      if t.column != prior]
    naive = models.fit_retention(panel, drivers=[volume], controls=naive_controls,
                                 outcome=outcome, cluster=cluster, design="all", alpha=alpha,
                                 placebo=False)
    adjusted = models.fit_retention(panel, drivers=[volume, *drivers],
                                    controls=list(dict.fromkeys([*controls, prior])),
                                    outcome=outcome,
                                    cluster=cluster, design="quality_given_contact",
                                    alpha=alpha, placebo=False)
    within = fit_within(panel, drivers=[volume, *drivers], outcome=outcome, alpha=alpha)
    out = pd.DataFrame({"term": [volume, *drivers]})
    for name, res in (("naive", naive), ("adjusted", adjusted), ("within", within)):
        eff = res.effects()[["term", "estimate", "conf_low", "conf_high", "p_value"]]
        eff.columns = ["term", f"{name}_ame", f"{name}_conf_low", f"{name}_conf_high",
                       f"{name}_p_value"]
        out = out.merge(eff, on="term", how="left")
    labels = adjusted.effects().set_index("term")["evidence"]
    out["evidence"] = [labels[t] for t in out["term"]]
    out["reading"] = [
        "measures how much help customers needed: problem-prone customers contact support "
        "more and churn more, so the naive effect is the trap, not support (compare the "
        "columns; never a finding)" if ev == CONFOUNDED else
        "support quality given contact: read the adjusted column" for ev in out["evidence"]]
    return out


def fit_within(panel: pd.DataFrame, *, drivers, outcome: str = "churned_next",
               entity: str = "customer_id", time: str | None = "period_index",
               design: str = "quality_given_contact", alpha: float = 0.05) -> ModelResult:
    """Customer fixed-effects (within) linear model, clustered by customer.

    Outcome and drivers (and period dummies when ``time`` is given) are
    demeaned within each customer, removing every time-constant difference
    between customers (such as a propensity to have problems). OLS on the
    demeaned data without intercept; standard errors clustered by customer,
    as Stata's ``xtreg, fe vce(cluster)``. For a 0/1 outcome this is a linear
    probability model and effects are in percentage points per unit.
    Customers with a single usable row carry no information and are dropped
    (counted in ``dropped``).

    An outcome that can happen only once and ends the customer's rows (churn:
    once a row's outcome is 1, every later row's is too) breaks the design: the event
    fixes where the panel stops, so demeaning ties the outcome to the length
    of each customer's history, and fixed-effects methods need repeated
    events (Allison, 1996, *Sociological Methods & Research* 25(2)). The
    ``guardrails`` table then carries an ``absorbing_outcome`` warning and the
    estimates are a directional check, not effect sizes; use
    :func:`cxkit.fit_retention` for those.
    """
    spec = fitting.make_spec(panel, outcome=outcome, drivers=drivers,
                             controls=[time] if time else [], design=design, cluster=entity,
                             cov_type="cluster")
    drivers = list(spec.driver_names)
    df, dropped = fitting.prepare_rows(panel, spec)
    sizes = df.groupby(entity)[entity].transform("size")
    single = int((sizes < 2).sum())
    df = df.loc[sizes >= 2].reset_index(drop=True)
    dropped = pd.concat([dropped, pd.DataFrame([{
        "step": "single_row_customer", "reason": "customer has one usable row (no within "
        "variation)", "rows_dropped": single, "rows_remaining": len(df)}])], ignore_index=True)
    fitting.check_drivers(df, spec)
    y = df[outcome].astype(float)
    terms = fitting.build_design(df, fitting.make_spec(outcome=outcome, drivers=spec.drivers),
                                 intercept=False)
    x = pd.DataFrame(terms.matrix, columns=list(terms.names))
    if time:
        dummies = pd.get_dummies(df[time], prefix="period", drop_first=True, dtype=float)
        x = pd.concat([x, dummies], axis=1)
    g = df[entity]
    yd = y - y.groupby(g).transform("mean")
    xd = x - x.groupby(g).transform("mean")
    keep = [c for c in xd.columns if c in drivers or xd[c].abs().sum() > 0]
    demeaned = fitting.Design(matrix=xd[keep].to_numpy(), names=tuple(keep), terms=spec.drivers)
    fitting.check_rank(demeaned, spec)
    res = fitting.fit_model(sm.OLS(yd.rename(outcome), xd[keep]), spec,
                            groups=fitting.cluster_codes(df, entity), label="Within model")
    scale = 100.0 if set(pd.unique(y)) <= {0.0, 1.0} else 1.0
    unit = "pp" if scale == 100.0 else "outcome units"
    coefficients = fitting.coefficient_rows(res, alpha=alpha, unit="outcome units per unit",
                                            spec=spec)
    t = coefficients.set_index("term").loc[drivers]
    effects = fitting.estimate_rows(drivers, scale * t["estimate"].to_numpy(),
                                    scale * t["std_error"].to_numpy(), alpha=alpha,
                                    quantity="within_" + ("pp" if scale == 100.0 else "effect"),
                                    unit=unit, spec=spec)
    label = fitting.outcome_label(spec)
    rows = [_row("customer_fixed_effects", "passes",
                 "time-constant customer differences removed by demeaning")]
    absorbing = is_absorbing(panel, outcome=outcome, entity=entity, time=time)
    if absorbing:
        rows.append(_row("absorbing_outcome", "warning",
                         f"{outcome} never returns to 0 once it is 1 (an event that ends "
                         "the customer's rows): within-customer estimates are biased for it "
                         "(fixed effects need repeated events); read them for direction only "
                         "and take effect sizes from fit_retention"))
    checks = pd.DataFrame(rows)
    return ModelResult(
        kind="within", spec=spec, n_obs=len(df), effect_unit=unit,
        effect_quantity=effects["quantity"].iloc[0], outcome_label=label, alpha=alpha,
        estimates_table=pd.concat([coefficients, effects], ignore_index=True),
        dropped_table=dropped, guardrails_table=checks,
        diagnostics={"clusters": int(g.nunique())}, model_result=res,
        caveat=(f"Within-customer design: {len(df):,} rows of {g.nunique():,} customers; "
                f"effects come from changes over time within the same customer. Time-varying "
                f"confounders can still bias them."
                + (f" {outcome} ends the customer's history, so these estimates are biased "
                   "(fixed effects need repeated events): a check on direction, not effect "
                   "sizes." if absorbing else "")))


def is_absorbing(panel: pd.DataFrame, *, outcome: str, entity: str, time: str | None) -> bool:
    """Whether a 0/1 ``outcome`` never returns to 0 once it is 1 (churn within a horizon)."""
    observed = panel.loc[panel[outcome].notna(), [entity, outcome] + ([time] if time else [])]
    values = set(pd.unique(observed[outcome]))
    if not values <= {0, 1} or 1 not in values:
        return False
    if time:
        observed = observed.sort_values([entity, time], kind="stable")
    y = observed[outcome]
    return bool((y.groupby(observed[entity]).cummax() == y).all())


def adjust_pvalues(p, *, method: str = "fdr_bh") -> np.ndarray:
    """Multiple-testing adjusted p-values (default Benjamini-Hochberg); NaN stays NaN."""
    p = np.asarray(p, dtype=float)
    out = np.full_like(p, np.nan)
    ok = ~np.isnan(p)
    if ok.any():
        out[ok] = multipletests(p[ok], method=method)[1]
    return out


def fit_by_segment(panel: pd.DataFrame, *, by: str = "segment", fit=None,
                   **kwargs) -> pd.DataFrame:
    """Fit the same model per value of ``by``; raw and BH-adjusted p-values.

    ``fit`` defaults to :func:`cxkit.models.fit_retention`; ``kwargs`` go to
    it. Control terms mentioning ``by`` are removed (constant within a
    segment). A segment whose model cannot be fitted gets a row with its
    error message instead of stopping the loop.

    Returns
    -------
    DataFrame
        ``<by>, term, estimate, conf_low, conf_high, p_value, p_value_bh,
        n_obs, error``: each segment's ``effects()`` rows; ``p_value_bh`` is
        adjusted over all rows.
    """
    fit = fit or models.fit_retention
    fitting.check_columns(panel, [by], role="Segment")
    controls = fitting.parse_terms(kwargs.pop("controls", DEFAULT_CONTROLS), role="control")
    controls = [c.text for c in controls if c.column != by]
    rows = []
    for value in sorted(panel[by].dropna().unique()):
        part = panel.loc[panel[by] == value]
        part.attrs = dict(panel.attrs)
        try:
            res = fit(part, controls=controls, **kwargs)
        except ModelError as exc:
            rows.append({by: value, "term": None, "n_obs": len(part), "error": str(exc)})
            continue
        for r in res.effects().itertuples(index=False):
            rows.append({by: value, "term": r.term, "estimate": r.estimate,
                         "conf_low": r.conf_low, "conf_high": r.conf_high,
                         "p_value": r.p_value, "n_obs": res.n_obs, "error": None})
    out = pd.DataFrame(rows, columns=[by, "term", "estimate", "conf_low", "conf_high",
                                      "p_value", "n_obs", "error"])
    out.insert(6, "p_value_bh", adjust_pvalues(out["p_value"].astype(float)))
    return out
