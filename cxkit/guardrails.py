"""Guardrails: checks that keep a support-to-outcome estimate honest.

Every ``fit_*`` result carries a ``guardrails`` table (``check, status,
detail``; status is ``passes``, ``warning``, ``fails`` or ``not run``) and a
``caveat`` paragraph built here. The module also offers the comparisons an
analyst uses to probe a finding:

* :func:`placebo_check` — do period-t drivers "predict" the revenue change
  that happened *before* period t? They should not.
* :func:`compare_naive` — the naive all-customer model next to the adjusted
  quality-given-contact model.
* :func:`fit_within` — customer fixed effects (within transformation).
* :func:`fit_by_segment` and :func:`adjust_pvalues` — per-segment fits
  with Benjamini-Hochberg adjusted p-values.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import statsmodels.api as sm
import statsmodels.formula.api as smf
from statsmodels.stats.multitest import multipletests

from cxkit import models
from cxkit.exceptions import ModelError
from cxkit.results import ModelResult
from cxkit.availability import adapts

__all__ = ["design_checks", "caveat_text", "placebo_check", "compare_naive", "fit_within",
           "fit_by_segment", "adjust_pvalues"]

PLACEBO_OUTCOME = "placebo_revenue_change_amount"


def _row(check: str, status: str, detail: str) -> dict:
    return {"check": check, "status": status, "detail": detail}


def placebo_check(panel: pd.DataFrame, *, drivers, controls=models.DEFAULT_CONTROLS,
                  design: str = "quality_given_contact", cluster: str | None = "customer_id",
                  entity: str = "customer_id", alpha: float = 0.05) -> pd.DataFrame:
    """Regress the revenue change measured BEFORE period t on the period-t drivers.

    The placebo outcome is ``revenue_amount[t-1] - revenue_amount[t-2]`` of the
    same customer (consecutive ``period_index`` values). Support experienced in
    period t cannot cause it, so a clear association means the drivers pick up
    pre-existing differences between customers (e.g. accounts already in
    decline get worse support), which would bias the churn/revenue effects too.
    OLS with the same controls, design and clustered standard errors.

    Returns
    -------
    DataFrame
        One row per driver: ``term, estimate, conf_low, conf_high, p_value,
        std_effect, verdict``. ``std_effect`` is ``estimate * sd(driver) /
        sd(placebo)`` (size, for reading); the verdict is ``fails`` when the
        interval excludes 0, else ``passes``.

    Raises
    ------
    ModelError
        The check cannot run: revenue never varies in the usable rows (no
        earlier change to test), or fewer than 30 rows have two earlier
        periods of revenue. The message says which.
    """
    models.check_columns(panel, [entity, "period_index", "revenue_amount"], role="Placebo")
    base = panel[[entity, "period_index", "revenue_amount"]]
    lag = []
    for k in (1, 2):
        shifted = base.assign(period_index=base["period_index"] + k)
        lag.append(shifted.rename(columns={"revenue_amount": f"rev_lag{k}_"}))
    df = panel.merge(lag[0], on=[entity, "period_index"], how="left").merge(
        lag[1], on=[entity, "period_index"], how="left")
    df[PLACEBO_OUTCOME] = df["rev_lag1_"] - df["rev_lag2_"]
    if "outcome_observed" in df.columns:
        df = df.drop(columns="outcome_observed")  # the placebo outcome is in the past
    used, _ = models.prepare_rows(df, drivers=drivers, controls=controls,
                                  outcome=PLACEBO_OUTCOME, cluster=cluster, design=design)
    if len(used) and used[PLACEBO_OUTCOME].std() == 0:
        constant = panel["revenue_amount"].dropna().unique()
        what = (f"revenue_amount is always {constant[0]:g}" if len(constant) == 1 else
                "each customer's revenue is the same from period to period")
        raise ModelError(f"Placebo check not run: {what} in the {len(used):,} usable rows, so "
                         f"there is no earlier revenue change to test (e.g. no revenue table, "
                         f"or fixed fees).")
    if len(used) < 30:
        raise ModelError(f"Placebo check not run: only {len(used)} rows have two earlier "
                         f"periods of revenue; it needs at least 30 (a longer history).")
    model = smf.ols(models.build_formula(PLACEBO_OUTCOME, drivers, controls), used)
    res = models._fit(model, groups=models._groups(used, cluster), drivers=list(drivers),
                      label="Placebo OLS")
    tidy = models.tidy_frame(res, alpha).set_index("term").loc[list(drivers)].reset_index()
    sd_y = used[PLACEBO_OUTCOME].std()
    tidy["std_effect"] = [b * used[d].std() / sd_y for b, d in zip(tidy["estimate"], drivers)]
    covers = (tidy["conf_low"] <= 0) & (tidy["conf_high"] >= 0)
    tidy["verdict"] = np.where(covers, "passes", "fails")
    return tidy[["term", "estimate", "conf_low", "conf_high", "p_value", "std_effect",
                 "verdict"]]


def design_checks(panel: pd.DataFrame, used: pd.DataFrame, *, outcome: str, drivers, controls,
                  design: str, cluster, events, n_params: int, placebo: bool = True,
                  alpha: float = 0.05) -> pd.DataFrame:
    """The guardrails table attached to a result (``check, status, detail``)."""
    rows = []
    horizon = panel.attrs.get("horizon")
    if isinstance(horizon, (int, np.integer)) and horizon >= 1:
        rows.append(_row("exposure_before_outcome", "passes",
                         f"outcome measured {horizon} period(s) after the drivers"))
    elif outcome.endswith("_next") or "_next_" in outcome:
        rows.append(_row("exposure_before_outcome", "passes",
                         f"{outcome} is measured in the period after the drivers"))
    else:
        rows.append(_row("exposure_before_outcome", "warning",
                         f"cannot confirm {outcome} is measured after the drivers; use a "
                         f"*_next outcome from build_panel"))
    if design == "quality_given_contact":
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
    one_per_customer = ("customer_id" in used.columns and len(used)
                        and not used["customer_id"].duplicated().any())
    if cluster:
        rows.append(_row("clustered_errors", "passes", f"standard errors clustered by {cluster}"))
    elif one_per_customer:
        rows.append(_row("clustered_errors", "passes", "one row per customer: robust (HC1) "
                         "standard errors, no clustering needed"))
    else:
        rows.append(_row("clustered_errors", "warning",
                         "no clustering: repeated rows per customer understate uncertainty"))
    if placebo:
        try:
            table = placebo_check(panel, drivers=drivers, controls=controls, design=design,
                                  cluster=cluster, alpha=alpha)
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


def caveat_text(*, design: str, outcome_label: str, n_obs: int, controls,
                checks: pd.DataFrame | None = None, cluster: str | None = "customer_id") -> str:
    """One paragraph stating the design and what the estimates do not prove.

    It says what the fit did: clustered standard errors only when clustered,
    "the following period" only when the checks confirm the outcome comes
    after the drivers (one row per customer: an association with no order
    in time), and "all guardrail checks pass" only when every check ran and
    passed; a check that did not run is named with its reason.
    """
    status = (checks.set_index("check")["status"] if checks is not None and len(checks)
              else pd.Series(dtype=object))
    ordered = status.get("exposure_before_outcome") == "passes"
    adj = ", ".join(map(str, controls)) if controls else "nothing"
    errors = (f"standard errors clustered by {'customer' if cluster == 'customer_id' else cluster}"
              if cluster else "robust (HC1) standard errors, not clustered")
    if ordered:
        who = ("customer-periods with at least one ticket (quality given contact)"
               if design == "quality_given_contact" else "all customer-periods")
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


@adapts
def compare_naive(panel: pd.DataFrame, *, drivers=(), volume: str = "ticket_count",
                  prior: str = "ticket_count_prior", controls=models.DEFAULT_CONTROLS,
                  outcome: str = "churned_next", cluster: str | None = "customer_id",
                  alpha: float = 0.05) -> pd.DataFrame:
    """Naive, adjusted and within-customer churn effects side by side (pp per unit).

    * ``naive``: all customers, ``outcome ~ volume + controls`` (``prior``
      is taken out of the controls if given there); quality drivers are left out because they exist
      only for contacted customers.
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
    controls = [c for c in controls if prior not in models.formula_columns([c])]
    naive = models.fit_retention(panel, drivers=[volume], controls=controls, outcome=outcome,
                                 cluster=cluster, design="all", alpha=alpha, placebo=False)
    adjusted = models.fit_retention(panel, drivers=[volume, *drivers],
                                    controls=[*controls, prior], outcome=outcome,
                                    cluster=cluster, design="quality_given_contact",
                                    alpha=alpha, placebo=False)
    within = fit_within(panel, drivers=[volume, *drivers], outcome=outcome, alpha=alpha)
    out = pd.DataFrame({"term": [volume, *drivers]})
    for name, res in (("naive", naive), ("adjusted", adjusted), ("within", within)):
        eff = res.effects()[["term", "ame", "ame_conf_low", "ame_conf_high", "p_value"]]
        eff.columns = ["term", f"{name}_ame", f"{name}_conf_low", f"{name}_conf_high",
                       f"{name}_p_value"]
        out = out.merge(eff, on="term", how="left")
    from cxkit.evidence import CONFOUNDED, evidence_label

    out["evidence"] = [evidence_label(adjusted, t) for t in out["term"]]
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
    drivers = list(drivers)
    extra = [time] if time else []
    df, dropped = models.prepare_rows(panel, drivers=drivers, controls=extra, outcome=outcome,
                                      cluster=entity, design=design)
    sizes = df.groupby(entity)[entity].transform("size")
    single = int((sizes < 2).sum())
    df = df.loc[sizes >= 2].reset_index(drop=True)
    dropped = pd.concat([dropped, pd.DataFrame([{
        "step": "single_row_customer", "reason": "customer has one usable row (no within "
        "variation)", "rows_dropped": single, "rows_remaining": len(df)}])], ignore_index=True)
    models._check_drivers(df, drivers)
    y = df[outcome].astype(float)
    x = df[drivers].astype(float)
    if time:
        dummies = pd.get_dummies(df[time], prefix="period", drop_first=True, dtype=float)
        x = pd.concat([x, dummies], axis=1)
    g = df[entity]
    yd = y - y.groupby(g).transform("mean")
    xd = x - x.groupby(g).transform("mean")
    keep = [c for c in xd.columns if c in drivers or xd[c].abs().sum() > 0]
    model = sm.OLS(yd.to_numpy(), xd[keep])
    models._check_rank(model, drivers)
    res = models._fit(model, groups=models._groups(df, entity), drivers=drivers,
                      label="Within model")
    tidy = models.tidy_frame(res, alpha)
    scale = 100.0 if set(pd.unique(y)) <= {0.0, 1.0} else 1.0
    unit = "pp" if scale == 100.0 else "outcome units"
    t = tidy.set_index("term").loc[drivers]
    effects = pd.DataFrame({"term": drivers, "ame": scale * t["estimate"].to_numpy(),
                            "ame_std_error": scale * t["std_error"].to_numpy(),
                            "ame_conf_low": scale * t["conf_low"].to_numpy(),
                            "ame_conf_high": scale * t["conf_high"].to_numpy(),
                            "p_value": t["p_value"].to_numpy(), "unit": unit})
    label = models.outcome_label(panel, outcome)
    rows = [_row("customer_fixed_effects", "passes",
                 "time-constant customer differences removed by demeaning")]
    absorbing = _absorbing(panel, outcome=outcome, entity=entity, time=time)
    if absorbing:
        rows.append(_row("absorbing_outcome", "warning",
                         f"{outcome} never returns to 0 once it is 1 (an event that ends "
                         "the customer's rows): within-customer estimates are biased for it (fixed effects need "
                         "repeated events); read them for direction only and take effect "
                         "sizes from fit_retention"))
    checks = pd.DataFrame(rows)
    return ModelResult(
        kind="within", outcome=outcome, drivers=tuple(drivers),
        formula=models.build_formula(outcome, drivers, extra) + f" | {entity} FE",
        n_obs=len(df), effect_unit=unit, outcome_label=label, alpha=alpha, tidy_table=tidy,
        effects_table=effects, dropped_table=dropped, guardrails_table=checks,
        diagnostics={"clusters": int(g.nunique()), "design": design}, model_result=res,
        caveat=(f"Within-customer design: {len(df):,} rows of {g.nunique():,} customers; "
                f"effects come from changes over time within the same customer. Time-varying "
                f"confounders can still bias them."
                + (f" {outcome} ends the customer's history, so these estimates are biased "
                   "(fixed effects need repeated events): a check on direction, not effect "
                   "sizes." if absorbing else "")))


def _absorbing(panel: pd.DataFrame, *, outcome: str, entity: str, time: str | None) -> bool:
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
        ``<by>, term, ame, ame_conf_low, ame_conf_high, p_value, p_value_bh,
        n_obs, error``; ``p_value_bh`` is adjusted over all rows.
    """
    fit = fit or models.fit_retention
    models.check_columns(panel, [by], role="Segment")
    controls = kwargs.pop("controls", models.DEFAULT_CONTROLS)
    controls = [c for c in controls if by not in models.formula_columns([c])]
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
            rows.append({by: value, "term": r.term, "ame": r.ame,
                         "ame_conf_low": r.ame_conf_low, "ame_conf_high": r.ame_conf_high,
                         "p_value": r.p_value, "n_obs": res.n_obs, "error": None})
    out = pd.DataFrame(rows, columns=[by, "term", "ame", "ame_conf_low", "ame_conf_high",
                                      "p_value", "n_obs", "error"])
    out.insert(6, "p_value_bh", adjust_pvalues(out["p_value"].astype(float)))
    return out
