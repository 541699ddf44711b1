"""Survival curves for reading: cohort retention and adjusted (standardised) survival.

Both return the long table of :func:`cxkit.survival.kaplan_meier` (``group,
time, survival, conf_low, conf_high, at_risk``), so :func:`cxkit.km_plot`
draws them.

* :func:`cohort_retention` — Kaplan-Meier retention by signup cohort, on the
  time axis "months since signup" (the classic cohort table, as curves).
* :func:`adjusted_survival` — survival curves of a Cox model standardised
  over the customers it was fitted on, one per level of a support metric:
  what the churn-free share would be, by tenure, if that metric had been at
  each level, everything else as observed (direct adjustment).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cxkit.exceptions import ModelError
from cxkit.fitting import check_columns
from cxkit.periods import pandas_freq
from cxkit.survival import kaplan_meier

__all__ = ["cohort_retention", "adjusted_survival"]

def cohort_retention(survival: pd.DataFrame, *, period: str = "Q", min_customers: int = 30,
                       alpha: float = 0.05) -> pd.DataFrame:
    """Retention curves by signup cohort (months since signup), from the survival table.

    Customers who signed up before the data window opens are seen only from
    then on (left truncation); their cohorts' curves would be conditional on
    surviving to the window and are left out. Each remaining cohort gets a
    Kaplan-Meier curve of the share still active by months since signup.

    Parameters
    ----------
    survival : DataFrame
        From :func:`cxkit.build_survival` (needs ``signup_at``,
        ``entry_months``, ``duration_months``, ``event``).
    period : {"W", "M", "Q"}
        Cohort width: signup week, month or quarter (:mod:`cxkit.periods`).
    min_customers : int
        Cohorts with fewer customers are left out (too noisy to read).
    alpha : float
        Intervals are ``1 - alpha`` pointwise intervals.

    Returns
    -------
    DataFrame
        ``group`` (the cohort, e.g. ``2024Q1``), ``time`` (months since
        signup), ``survival`` (share still active, 0-1), ``conf_low,
        conf_high, at_risk``.
    """
    check_columns(survival, ["signup_at", "entry_months", "duration_months", "event"],
                  role="Cohort retention")
    inside = survival.loc[survival["entry_months"] <= 0]
    cohort = inside["signup_at"].dt.to_period(pandas_freq(period)).astype(str)
    sizes = cohort.value_counts()
    keep = cohort.isin(sizes.index[sizes >= min_customers])
    if not keep.any():
        raise ModelError(f"Cohort retention: no signup cohort inside the data window has "
                         f"{min_customers} customers; use a wider period or a lower "
                         f"min_customers.")
    table = inside.loc[keep].assign(signup_cohort=cohort[keep])
    return kaplan_meier(table, by="signup_cohort", entry=None, alpha=alpha)


def _breslow(stop, start, event, risk):
    """Breslow cumulative baseline hazard at each distinct churn time."""
    times = np.unique(stop[event])
    jumps = np.array([(event & (stop == t)).sum() / risk[(start < t) & (stop >= t)].sum()
                      for t in times])
    return times, np.cumsum(jumps)


def adjusted_survival(result, *, term: str | None = None, levels=None) -> pd.DataFrame:
    """Survival curves of a Cox model standardised over its customers, per level of ``term``.

    For each level ``x``: ``S_x(t) = mean_i exp(-H0(t) exp(b'z_i(x)))`` where
    ``z_i(x)`` is row i's covariates with ``term`` set to ``x`` and ``H0`` the
    Breslow baseline cumulative hazard of the fit, averaged over the rows the
    model was fitted on (for panel intervals: customer-periods). The
    difference between curves is the model's adjusted contrast, not a
    raw comparison of customers who happened to get better support. For a fit
    on :func:`cxkit.build_churn_intervals`, time is tenure in months and each
    curve reads "churn-free share by tenure if every month after a ticket had
    been handled at this level". Point estimates (no intervals).

    Parameters
    ----------
    result : ModelResult
        From :func:`cxkit.fit_churn_timing` (strata are not supported).
    term : str, optional
        A numeric covariate of the model; default its first driver.
    levels : sequence of float, optional
        Values of ``term`` to compare; default its 25th and 75th percentiles
        in the rows the model was fitted on.

    Returns
    -------
    DataFrame
        ``group`` (e.g. ``"first-contact resolution = 0.9"``), ``time``,
        ``survival``, ``conf_low``/``conf_high`` (NaN), ``at_risk`` (NaN).
    """
    from cxkit.labels import driver_label

    res = result.model_result
    model = res.model
    names = list(model.exog_names)
    term = result.drivers[0] if term is None else term
    if term not in names:
        raise ModelError(f"adjusted_survival: {term!r} is not a covariate of the model; "
                         f"use one of {', '.join(names)}.")
    if getattr(model, "surv", None) is not None and model.surv.nstrat > 1:
        raise ModelError("adjusted_survival: stratified Cox models have one baseline per "
                         "stratum; fit without strata for standardised curves.")
    x = np.asarray(model.exog, float)
    beta = np.asarray(res.params, float)
    stop = np.asarray(model.endog, float)
    start = (np.asarray(model.entry, float) if getattr(model, "entry", None) is not None
             else np.full(len(stop), -np.inf))
    died = np.asarray(model.status, float) > 0
    times, cumhaz = _breslow(stop, start, died, np.exp(x @ beta))
    rows = x
    j = names.index(term)
    if levels is None:
        levels = [float(f"{v:.3g}") for v in np.quantile(x[:, j], [0.25, 0.75])]
    label = driver_label(term)[0]
    out = []
    for level in levels:
        z = rows.copy()
        z[:, j] = float(level)
        hazard = np.exp(z @ beta)
        surv = np.exp(-np.outer(cumhaz, hazard)).mean(axis=1)
        out.append(pd.DataFrame({"group": f"{label} = {level:g}", "time": times,
                                 "survival": surv, "conf_low": np.nan, "conf_high": np.nan,
                                 "at_risk": np.nan}))
    return pd.concat(out, ignore_index=True)
