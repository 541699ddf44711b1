"""Churn timing: Cox proportional hazards, Kaplan-Meier curves, log-rank tests.

Works on any table with one row per customer (or per customer spell, or per
customer-period interval): a duration until churn or censoring (e.g.
``duration_months``), an event flag (1 = churned, 0 = still active at the end
of observation), optionally a delayed-entry time (customers first observed
after signup: left truncation; or the start of a counting-process interval),
and covariates. Hazard ratios above 1 mean earlier churn.

Customers who signed up before the data window opens are only seen because
they had not churned by then; leaving their entry time out counts them as
at risk from signup and overstates survival. Every estimator here takes
``entry`` for that reason.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.duration.hazard_regression import PHReg
from statsmodels.duration.survfunc import SurvfuncRight, survdiff

from cxkit import fitting, registry
from cxkit.exceptions import ModelError, SmallSampleWarning
from cxkit.results import ModelResult

__all__ = ["fit_churn_timing", "kaplan_meier", "logrank_test", "ph_test", "concordance"]


def _clean(table: pd.DataFrame, *, duration, event, entry, covariates, strata, cluster):
    cols = [t.column for t in fitting.parse_terms(covariates, role="control")]
    needed = [duration, event, *cols] + [c for c in (entry, strata, cluster) if c]
    fitting.check_columns(table, needed, role="Survival")
    df = table.copy()
    rows = [{"step": "input", "reason": "rows in the table", "rows_dropped": 0,
             "rows_remaining": len(df)}]
    bad = df[needed].isna().any(axis=1)
    rows.append({"step": "missing_value", "reason": f"a value of {', '.join(needed)} is missing",
                 "rows_dropped": int(bad.sum()), "rows_remaining": int((~bad).sum())})
    df = df.loc[~bad]
    bad = df[duration].astype(float) <= 0
    if entry:
        bad |= df[entry].astype(float) >= df[duration].astype(float)
    rows.append({"step": "invalid_duration", "reason": "duration <= 0 or entry >= duration",
                 "rows_dropped": int(bad.sum()), "rows_remaining": int((~bad).sum())})
    df = df.loc[~bad].reset_index(drop=True)
    values = set(pd.unique(df[event].astype(float)))
    if not values <= {0.0, 1.0}:
        raise ModelError(f"Event column {event!r} must be 1 (churned) / 0 (censored); found "
                         f"{sorted(values)[:5]}.")
    return df, pd.DataFrame(rows)


def concordance(time, event, risk, *, entry=None, strata=None) -> float:
    """Harrell's concordance of a risk score with time to churn (0.5 = chance, 1 = perfect).

    A pair is comparable when one customer churns at ``t`` while the other is
    at risk and still active after ``t`` (entered before ``t``, left after
    ``t``, or was censored at ``t``), in the same stratum. It is concordant
    when the one who churned has the higher risk score; equal scores count
    one half. Pairs churning at the same time are not comparable. This is
    the definition of R's ``survival::concordance`` for ``coxph`` fits and of
    lifelines' ``concordance_index`` (which takes predicted survival, i.e.
    minus the risk score).

    Parameters
    ----------
    time, event : array-like
        Churn or censoring time and 1/0 churn flag per row.
    risk : array-like
        Risk score per row (e.g. the Cox linear predictor); higher = earlier churn.
    entry : array-like, optional
        Time each row enters the risk set (delayed entry, or the start of a
        counting-process interval); default 0.
    strata : array-like, optional
        Pairs are compared only within a stratum.

    Returns
    -------
    float
    """
    time = np.asarray(time, float)
    event = np.asarray(event, float) > 0
    risk = np.asarray(risk, float)
    entry = np.full_like(time, -np.inf) if entry is None else np.asarray(entry, float)
    strata = np.zeros(len(time)) if strata is None else pd.factorize(np.asarray(strata))[0]
    good = bad = tied = 0.0
    for s in np.unique(strata):
        ins = strata == s
        t, e, r, a = time[ins], event[ins], risk[ins], entry[ins]
        for tk in np.unique(t[e]):
            dead = e & (t == tk)
            others = np.sort(r[(a < tk) & ((t > tk) | ((t == tk) & ~e))])
            if not len(others):
                continue
            lo = np.searchsorted(others, r[dead], side="left")
            hi = np.searchsorted(others, r[dead], side="right")
            good += lo.sum()
            tied += (hi - lo).sum()
            bad += (len(others) - hi).sum()
    total = good + bad + tied
    return float((good + tied / 2) / total) if total else float("nan")


def _drop_never_at_risk(df, dropped, *, duration, event, entry, strata):
    """Drop rows at risk at no churn time of their stratum (counted).

    Such rows (e.g. an interval that ends before the first churn) add
    nothing to the partial likelihood, so estimates do not change; statsmodels'
    score residuals, which the clustered covariance needs, are undefined for them.
    """
    stop = df[duration].astype(float).to_numpy()
    start = df[entry].astype(float).to_numpy() if entry else np.full(len(df), -np.inf)
    died = df[event].astype(float).to_numpy() > 0
    groups = pd.factorize(df[strata])[0] if strata else np.zeros(len(df), int)
    at_risk = np.zeros(len(df), bool)
    for g in np.unique(groups):
        ins = groups == g
        times = np.unique(stop[ins & died])
        lo = np.searchsorted(times, start[ins], side="right")  # first churn time > start
        hi = np.searchsorted(times, stop[ins], side="right")  # churn times <= stop
        at_risk[ins] = hi > lo
    row = {"step": "never_at_risk", "reason": "at risk at no churn time (adds nothing to the "
           "partial likelihood)", "rows_dropped": int((~at_risk).sum()),
           "rows_remaining": int(at_risk.sum())}
    return (df.loc[at_risk].reset_index(drop=True),
            pd.concat([dropped, pd.DataFrame([row])], ignore_index=True))


def ph_test(result, *, transform: str = "rank") -> pd.DataFrame:
    """Proportional-hazards check per covariate (Grambsch-Therneau score test).

    Scaled Schoenfeld residuals of each covariate are tested for a linear
    trend in (ranked) event time: ``T = (sum g_c s)^2 / (d V_jj sum g_c^2)``,
    chi-square with 1 df, as R's ``cox.zph`` (pre-3.0) and lifelines'
    ``proportional_hazard_test``. A small p-value means the hazard ratio
    changes over time.

    Returns
    -------
    DataFrame
        ``term, statistic, p_value, verdict`` (``ok`` or ``violated`` at 0.05).
    """
    res = getattr(result, "model_result", result)  # a ModelResult or a PHReg result
    resid = np.asarray(res.schoenfeld_residuals, float)
    keep = ~np.isnan(resid).any(axis=1)
    times = np.asarray(res.model.endog, float)[keep]
    d = keep.sum()
    cov = np.asarray(res.cov_params(), float) if not hasattr(res, "naive_cov") else \
        np.asarray(res.naive_cov, float)
    scaled = d * resid[keep] @ cov
    g = stats.rankdata(times) if transform == "rank" else times
    gc = g - g.mean()
    stat = (gc @ scaled) ** 2 / d / np.diag(cov) / (gc ** 2).sum()
    p = stats.chi2.sf(stat, 1)
    return pd.DataFrame({"term": list(res.model.exog_names), "statistic": stat, "p_value": p,
                         "verdict": np.where(p < 0.05, "violated", "ok")})


def _fit_facts(model, res, df: pd.DataFrame, *, duration, event, entry, strata) -> dict:
    """Partial log-likelihoods, the likelihood-ratio test against no covariates, concordance.

    As R's ``summary(coxph(...))``: ``Likelihood ratio test = 2 (l(b) - l(0))``
    on as many df as coefficients, and the concordance of the linear predictor.
    """
    null = float(model.loglike(np.zeros(model.exog.shape[1])))
    llf = float(res.llf)
    lr = 2.0 * (llf - null)
    k = int(model.exog.shape[1])
    risk = np.asarray(model.exog, float) @ np.asarray(res.params, float)
    c = concordance(df[duration], df[event], risk,
                    entry=df[entry] if entry else None, strata=df[strata] if strata else None)
    return {"partial_loglik": llf, "null_partial_loglik": null, "lr_statistic": lr,
            "lr_df": k, "lr_p_value": float(stats.chi2.sf(lr, k)), "concordance": c}


def _damped_start(model, *, max_iter: int = 100) -> np.ndarray:
    """Maximise the partial likelihood by Newton steps halved until it improves.

    statsmodels' Newton steps have no step-size control, so a covariate
    measured in large units (resolution hours up to hundreds) can overshoot
    into a region where the partial likelihood is not finite. The result is
    used as ``start_params`` of the ordinary fit, which then converges in a
    step and computes the covariance as usual.
    """
    beta = np.zeros(model.exog.shape[1])
    ll = model.loglike(beta)
    for _ in range(max_iter):
        step = np.linalg.solve(-model.hessian(beta), model.score(beta))
        t = 1.0
        while t > 1e-10:
            new = beta + t * step
            new_ll = model.loglike(new)
            if np.isfinite(new_ll) and new_ll >= ll:
                break
            t /= 2
        else:
            break
        beta, done = new, abs(new_ll - ll) < 1e-12
        ll = new_ll
        if done:
            break
    return beta


def _exposure_check(table: pd.DataFrame) -> dict:
    """Guardrail row: are the covariates measured before the interval they predict?"""
    horizon = table.attrs.get("horizon")
    if isinstance(horizon, (int, np.integer)) and horizon >= 1 and "start_months" in table:
        return {"check": "exposure_before_outcome", "status": "passes",
                "detail": f"covariates of period t, churn counted over the next {horizon} "
                          f"period(s) (counting-process intervals)"}
    return {"check": "exposure_before_outcome", "status": "warning",
            "detail": "cannot confirm the covariates precede the churn they predict (one row "
                      "per customer, e.g. lifetime summaries that include tickets close to "
                      "churn); use build_churn_intervals for time-varying support metrics"}


def fit_churn_timing(table: pd.DataFrame, *, covariates, duration: str = "duration_months",
                     event: str = "event", entry: str | None = None, strata: str | None = None,
                     cluster: str | None = None, alpha: float = 0.05) -> ModelResult:
    """Cox proportional-hazards model of time to churn (statsmodels ``PHReg``).

    Parameters
    ----------
    table : DataFrame
        One row per customer (spell).
    covariates : sequence of str
        Formula terms (columns, or ``C(plan)``); plain numeric columns get
        hazard ratios in ``effects()``.
    duration : str
        Time to churn or censoring (e.g. months); must be > 0.
    event : str
        1 = churned, 0 = censored.
    entry : str, optional
        Delayed-entry time (left truncation), same unit as ``duration``.
    strata : str, optional
        Column whose levels get separate baseline hazards.
    cluster : str, optional
        Column of groups for robust (sandwich) standard errors.
    alpha : float
        Intervals are ``1 - alpha`` intervals.

    Returns
    -------
    ModelResult
        ``kind="cox"``, ``effect_unit="hazard ratio"``; estimates of quantities
        ``coefficient`` (log hazard ratio, with its SE) and ``hazard_ratio``
        (exponentiated interval, no SE); ``guardrails`` holds the
        proportional-hazards check.
        Ties are handled with Efron's method.
    """
    terms = fitting.parse_terms(covariates, role="control")
    covariates = [t.text for t in terms]
    df, dropped = _clean(table, duration=duration, event=event, entry=entry,
                         covariates=covariates, strata=strata, cluster=cluster)
    df, dropped = _drop_never_at_risk(df, dropped, duration=duration, event=event, entry=entry,
                                      strata=strata)
    events = int(df[event].sum())
    if events < 20:
        raise ModelError(f"Too few events for {event!r}: {events} churns in {len(df):,} rows; "
                         f"at least 20 are needed. Use a longer history or fewer covariates.")
    formula = f"{duration} ~ {' + '.join(covariates)}"
    kwargs = {"status": df[event].astype(float).to_numpy(), "ties": "efron"}
    if entry:
        kwargs["entry"] = df[entry].astype(float).to_numpy()
    if strata:
        kwargs["strata"] = df[strata].to_numpy()
    model = PHReg.from_formula(formula, df, **kwargs)
    if events < 10 * model.exog.shape[1]:
        warnings.warn(f"{events} events for {model.exog.shape[1]} covariates (< 10 per "
                      f"covariate): hazard ratios may be unstable.", SmallSampleWarning,
                      stacklevel=2)
    numeric = [t for t in terms if t.kind != "categorical"
               and pd.api.types.is_numeric_dtype(df[t.column])]
    spec = fitting.make_spec(table, outcome=event, drivers=numeric,
                             controls=[t for t in terms if t not in numeric], design="all",
                             cluster=cluster, cov_type="cluster" if cluster else "nonrobust")
    fitting.check_drivers(df, spec)
    fitting.check_rank(fitting.build_design(df, spec, intercept=False), spec)
    fit_kwargs = {"groups": pd.factorize(df[cluster])[0]} if cluster else {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            try:
                res = model.fit(**fit_kwargs)
                overshot = not np.all(np.isfinite(res.bse))
            except np.linalg.LinAlgError:  # the robust covariance of a diverged fit
                overshot = True
            if overshot:  # Newton overshot on a wide-ranged covariate
                caught.clear()
                res = model.fit(start_params=_damped_start(model), **fit_kwargs)
        except np.linalg.LinAlgError as exc:
            raise ModelError(f"Cox model: singular information matrix ({exc}); check "
                             f"{', '.join(covariates)} for collinearity.") from None
    if any("Convergence" in type(w.message).__name__ for w in caught) or \
            not np.all(np.isfinite(res.bse)):
        raise ModelError(f"Cox model did not converge; a covariate among "
                         f"{', '.join(covariates)} may separate churners (e.g. all churners "
                         f"share one value). Drop or bin it.")
    fit_facts = _fit_facts(model, res, df, duration=duration, event=event, entry=entry,
                           strata=strata)
    coefficients = fitting.coefficient_rows(res, alpha=alpha, unit="log hazard ratio",
                                            spec=spec)
    estimates = pd.concat([coefficients, fitting.ratio_rows(
        coefficients, terms=list(model.exog_names), quantity="hazard_ratio",
        unit="hazard ratio", spec=spec)], ignore_index=True)
    ph = ph_test(res)
    ordered = _exposure_check(table)
    checks = pd.concat([pd.DataFrame([ordered]), pd.DataFrame({
        "check": "proportional_hazards:" + ph["term"],
        "status": np.where(ph["verdict"] == "ok", "passes", "warning"),
        "detail": [f"Schoenfeld trend p = {p:.3g}" for p in ph["p_value"]]})],
        ignore_index=True)
    bad = ph.loc[ph["verdict"] == "violated", "term"].tolist()
    caveat = (f"Cox model of time to churn on {len(df):,} rows ({events:,} churns); hazard "
              f"ratios compare churn speed at any moment, adjusted for the other covariates. "
              f"Likelihood-ratio test {fit_facts['lr_statistic']:.2f} on {fit_facts['lr_df']} "
              f"df (p = {fit_facts['lr_p_value']:.2g}); concordance "
              f"{fit_facts['concordance']:.2f}. "
              + (f"Standard errors clustered by {cluster}. " if cluster else
                 "Model-based standard errors (no clustering). ")
              + ("Covariates are measured in the period before each interval. "
                 if ordered["status"] == "passes" else
                 "Covariates may include what happened just before churn (e.g. lifetime "
                 "summaries): read the hazard ratios as description, not effects. ")
              + (f"Proportional hazards look violated for {', '.join(bad)}: their hazard ratio "
                 f"is an average over time; consider strata or a time interaction."
                 if bad else "Proportional-hazards check passes."))
    return ModelResult(
        kind="cox", spec=spec, n_obs=len(df), effect_unit="hazard ratio",
        effect_quantity="hazard_ratio", outcome_label="churn", alpha=alpha,
        estimates_table=estimates, dropped_table=dropped, guardrails_table=checks,
        diagnostics={"events": events, "ties": "efron", "delayed_entry": bool(entry),
                     "clusters": int(df[cluster].nunique()) if cluster else None,
                     "design": table.attrs.get("design"), **fit_facts},
        caveat=caveat, model_result=res)


def _km_rows(table: pd.DataFrame, *, duration, event, entry, by, bins, role: str):
    """Rows and group labels for Kaplan-Meier and log-rank; ``entry`` resolved."""
    if entry == "entry_months" and entry not in table.columns:
        entry = None  # the default: delayed entry when the survival table carries it
    needed = [duration, event] + [c for c in (entry, by) if c]
    fitting.check_columns(table, needed, role=role)
    df = table.dropna(subset=needed)
    if entry and (df[entry].astype(float) >= df[duration].astype(float)).any():
        bad = int((df[entry].astype(float) >= df[duration].astype(float)).sum())
        raise ModelError(f"{role}: {bad} row(s) have {entry} >= {duration} (they leave before "
                         f"they enter); fix the survival table or drop those rows.")
    if by is None:
        groups = pd.Series("all", index=df.index)
    elif bins is not None:
        groups = _band_names(pd.qcut(df[by], bins, duplicates="drop") if isinstance(bins, int)
                             else pd.cut(df[by], bins, include_lowest=True))
    else:
        groups = df[by].astype(str)
    return df, groups, entry


def _band_names(bands: pd.Series) -> pd.Series:
    """Numeric bands (intervals of ``pd.cut``/``pd.qcut``) named for readers, in their order:
    ``≤ 7.27``, ``7.27–13.5``, ``> 13.5`` (an ordered categorical; empty bands dropped)."""
    edges = bands.cat.categories
    for digits in (3, 4, 6, 12):  # as few digits as keep the names apart
        def num(x, d=digits):
            return f"{x:,.{d}g}"
        names = [f"{num(iv.left)}–{num(iv.right)}" if len(edges) == 1 else
                 f"≤ {num(iv.right)}" if i == 0 else
                 f"> {num(iv.left)}" if i == len(edges) - 1 else
                 f"{num(iv.left)}–{num(iv.right)}" for i, iv in enumerate(edges)]
        if len(set(names)) == len(names):
            break
    named = bands.cat.rename_categories(names).cat.as_ordered()
    return named.cat.remove_unused_categories()


def _group_title(by: str | None) -> str:
    """The legend title of groups of ``by``: its registry label with the unit."""
    if by is None:
        return "group"
    return registry.lookup(by).axis_label.removesuffix(" (value)")


def kaplan_meier(table: pd.DataFrame, *, duration: str = "duration_months",
                 event: str = "event", entry: str | None = "entry_months",
                 by: str | None = None, bins=None, alpha: float = 0.05) -> pd.DataFrame:
    """Kaplan-Meier survival (share not yet churned) over time, by group, with delayed entry.

    A customer first observed ``entry`` months after signup (signed up
    before the data window opened) joins the risk set only then (left
    truncation), as ``lifelines.KaplanMeierFitter().fit(durations, events,
    entry=...)`` and statsmodels ``SurvfuncRight(..., entry=...)``.

    Parameters
    ----------
    table : DataFrame
        One row per customer, e.g. from :func:`cxkit.build_survival`.
    duration, event : str
        Time from signup to churn or censoring, and the 1/0 churn flag.
    entry : str or None
        Delayed-entry time (same unit as ``duration``). The default
        ``"entry_months"`` is used when the table has that column (as
        :func:`cxkit.build_survival` gives); ``None`` treats every customer
        as observed from time 0.
    by : str, optional
        Column to split by; numeric columns are banded with ``bins`` (an
        int = equal-count bands, or a list of edges).
    bins : int or sequence, optional
        Banding of a numeric ``by`` column.
    alpha : float
        Intervals are ``1 - alpha`` intervals.

    Returns
    -------
    DataFrame
        ``group, time, survival, conf_low, conf_high, at_risk``; survival
        is a share (0-1) at each churn time, with a pointwise log-log interval.
        Bands of a numeric ``by`` are named by their bounds (``≤ 7.27``,
        ``7.27–13.5``, ``> 13.5``) and kept in order (an ordered
        categorical); ``attrs["group_title"]`` names ``by`` with its unit
        (``"Resolution time, mean (hours)"``) for a legend.

    Examples
    --------
    >>> import cxkit as cx
    >>> surv = cx.build_survival(cx.load_data("sample"))
    >>> km = cx.kaplan_meier(surv)
    >>> round(float(km.loc[km["time"] <= 24, "survival"].iloc[-1]), 2)
    0.67
    """
    df, groups, entry = _km_rows(table, duration=duration, event=event, entry=entry, by=by,
                                 bins=bins, role="Kaplan-Meier")
    z = stats.norm.ppf(1 - alpha / 2)
    banded = isinstance(groups.dtype, pd.CategoricalDtype)
    out = []
    for name in (groups.cat.categories if banded else sorted(groups.unique())):
        part = df.loc[groups == name]
        sf = SurvfuncRight(part[duration].astype(float).to_numpy(),
                           part[event].astype(float).to_numpy(),
                           entry=None if entry is None else part[entry].astype(float).to_numpy())
        s, se = sf.surv_prob, sf.surv_prob_se
        with np.errstate(divide="ignore", invalid="ignore"):
            theta = np.log(-np.log(s))
            se_t = se / (s * np.abs(np.log(s)))
            lo, hi = np.exp(-np.exp(theta + z * se_t)), np.exp(-np.exp(theta - z * se_t))
        out.append(pd.DataFrame({"group": name, "time": sf.surv_times, "survival": s,
                                 "conf_low": np.where(s >= 1, 1.0, lo),
                                 "conf_high": np.where(s >= 1, 1.0, hi),
                                 "at_risk": sf.n_risk}))
    km = pd.concat(out, ignore_index=True)
    if banded:  # bands keep their order (a plot's legend, a groupby)
        km["group"] = pd.Categorical(km["group"], categories=groups.cat.categories, ordered=True)
    km.attrs["group_title"] = _group_title(by)
    return km


def logrank_test(table: pd.DataFrame, *, by: str, duration: str = "duration_months",
                 event: str = "event", entry: str | None = "entry_months", bins=None,
                 strata: str | None = None) -> pd.DataFrame:
    """Log-rank test that churn timing is the same in every group (statsmodels ``survdiff``).

    Delayed entry is honoured as in :func:`kaplan_meier`: a customer joins
    the risk sets only from ``entry`` on.

    Parameters
    ----------
    by : str
        Group column (a numeric column is banded with ``bins``).
    strata : str, optional
        Stratified log-rank test (groups compared within each stratum).

    Returns
    -------
    DataFrame
        One row: ``by, groups, statistic, df, p_value`` (chi-square with
        ``groups - 1`` df).
    """
    df, groups, entry = _km_rows(table, duration=duration, event=event, entry=entry, by=by,
                                 bins=bins, role="Log-rank")
    if groups.nunique() < 2:
        raise ModelError(f"Log-rank: {by!r} has a single group in the rows used; it needs two "
                         f"or more to compare.")
    kwargs = {"entry": df[entry].astype(float).to_numpy()} if entry else {}
    if strata:
        fitting.check_columns(table, [strata], role="Strata")
        kwargs["strata"] = df[strata].to_numpy()
    stat, p = survdiff(df[duration].astype(float).to_numpy(), df[event].astype(float).to_numpy(),
                       groups.to_numpy(), **kwargs)
    return pd.DataFrame([{"by": by, "groups": int(groups.nunique()), "statistic": float(stat),
                          "df": int(groups.nunique() - 1), "p_value": float(p)}])
