"""Retention model: logit of next-period churn on support drivers.

:func:`fit_retention` takes any DataFrame (usually the customer x period
panel of :func:`cxkit.panel.build_panel`, one row per customer and period,
support metrics of period t and outcomes of period t+1) and runs it through
the kernel of :mod:`cxkit.fitting`: rows prepared with counted drops,
identification checks, a fit with the chosen covariance (clustered by
customer by default), and an immutable :class:`~cxkit.results.ModelResult`
whose estimates table holds coefficients, odds ratios and average marginal
effects in percentage points of churn.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats
from scipy.special import expit

from cxkit import fitting, guardrails
from cxkit.availability import adapts
from cxkit.fitting import DEFAULT_CONTROLS, Design, ModelSpec
from cxkit.results import ModelResult

__all__ = ["fit_retention", "logit_ame", "auc_score", "calibration_table", "DEFAULT_CONTROLS"]


def auc_score(y, p) -> float:
    """Area under the ROC curve (Mann-Whitney form; ties count one half)."""
    y = np.asarray(y, dtype=bool)
    ranks = stats.rankdata(np.asarray(p, dtype=float))
    n1, n0 = y.sum(), (~y).sum()
    if n1 == 0 or n0 == 0:
        return float("nan")
    return float((ranks[y].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def calibration_table(y, p, bins: int = 10) -> pd.DataFrame:
    """Predicted vs observed rate by decile of predicted probability."""
    frame = pd.DataFrame({"y": np.asarray(y, float), "p": np.asarray(p, float)})
    frame["decile"] = pd.qcut(frame["p"].rank(method="first"), bins, labels=False) + 1
    return frame.groupby("decile").agg(n=("y", "size"), predicted_rate=("p", "mean"),
                                       observed_rate=("y", "mean")).reset_index()


def _mcfadden_r2(llf: float, y: np.ndarray) -> float:
    """McFadden's pseudo-R2 against the intercept-only logit, whose log-likelihood has a
    closed form (statsmodels' ``prsquared`` refits it by Nelder-Mead)."""
    rate = float(np.mean(y))
    llnull = len(y) * (rate * np.log(rate) + (1 - rate) * np.log(1 - rate))
    return 1.0 - llf / llnull


def _zero_one(x: np.ndarray) -> bool:
    return bool(np.all((x == 0) | (x == 1)))


def logit_ame(design: Design, params, cov, spec: ModelSpec) -> tuple[np.ndarray, np.ndarray]:
    """Average marginal effects of the drivers of a logit, with delta-method SEs.

    On the probability scale (multiply by 100 for percentage points), per
    unit of each driver's *column*:

    * a continuous driver: the average derivative of the predicted
      probability, through the transform by the chain rule,
      ``mean(p (1 - p) b g'(x))`` (``g' = 1`` for a plain column, as
      statsmodels' ``get_margeff(at="overall")``);
    * a 0/1 driver (a threshold, or a column holding only 0 and 1): the
      change in mean predicted probability from setting it to 0 for
      everyone to setting it to 1 for everyone.

    Standard errors by the delta method with the analytic Jacobian and the
    fit's covariance (no numerical differentiation).
    """
    x = design.matrix
    b = np.asarray(params, float)
    cov = np.asarray(cov, float)
    n = len(x)
    eta = x @ b
    p = expit(eta)
    w = p * (1 - p)
    est, se = [], []
    for term in spec.drivers:
        j = design.index(term.text)
        raw = design.raw[term.column]
        if term.binary or _zero_one(raw):
            xj = x[:, j]
            p1, p0 = expit(eta + b[j] * (1 - xj)), expit(eta - b[j] * xj)
            f1, f0 = p1 * (1 - p1), p0 * (1 - p0)
            value = float(np.mean(p1 - p0))
            grad = (f1 - f0) @ x / n
            grad[j] = np.mean(f1)
        else:
            slope = term.slope(raw)
            value = float(np.mean(w * slope) * b[j])
            grad = (w * (1 - 2 * p) * slope * b[j]) @ x / n
            grad[j] += np.mean(w * slope)
        est.append(value)
        se.append(float(np.sqrt(grad @ cov @ grad)))
    return np.asarray(est), np.asarray(se)


@adapts
def fit_retention(panel: pd.DataFrame, *, drivers, controls=DEFAULT_CONTROLS,
                  outcome: str = "churned_next", cluster: str | None = "customer_id",
                  design: str = "quality_given_contact", cov_type: str | None = None,
                  alpha: float = 0.05, placebo: bool = True) -> ModelResult:
    """Logit of next-period churn on support drivers, clustered by customer.

    One row of ``panel`` is a customer in a period; drivers are measured in
    period t and the outcome in t+1. Effects are average marginal effects in
    percentage points of churn per unit of the driver's column (per hour,
    per minute, per 1.0 of a 0-1 rate; see :func:`logit_ame` for transformed
    and 0/1 drivers), with odds ratios alongside.

    Parameters
    ----------
    panel : DataFrame
        Customer x period table.
    drivers : sequence of str
        Numeric driver columns, or transforms / thresholds of them:
        ``"log(resolution_hours_mean)"``, ``"log1p(x)"``, ``"sqrt(x)"``,
        ``"fcr_rate >= 0.5"`` (see :mod:`cxkit.terms`).
    controls : sequence of str
        Adjustment terms: columns, transforms, ``C(column)`` (default plan,
        segment, log tenure).
    outcome : str
        0/1 outcome column (NaN rows are dropped and counted).
    cluster : str or None
        Column whose groups get cluster-robust standard errors.
    design : {"quality_given_contact", "all"}
        Restrict to periods with a ticket (default), or use all rows.
    cov_type : {"cluster", "HC1", "nonrobust"}, optional
        Standard errors; default ``"cluster"`` when ``cluster`` is given,
        else ``"HC1"``. ``"nonrobust"`` gives statsmodels' model-based errors.
    alpha : float
        Intervals are ``1 - alpha`` intervals.
    placebo : bool
        Run the placebo check of :func:`cxkit.guardrails.placebo_check`.

    Returns
    -------
    ModelResult
        ``kind="logit"``; estimates of quantities ``coefficient`` (log-odds),
        ``odds_ratio`` and ``ame_pp``; diagnostics hold ``auc``, ``events``,
        ``clusters``; ``calibration`` the decile table.

    Raises
    ------
    ParameterError
        A driver or control outside the whitelist, an unknown design or covariance.
    ModelError
        Unknown column, too few events, constant, separating or collinear
        driver, non-convergence.

    Examples
    --------
    >>> from cxkit.synth import make_sample  # doctest: +SKIP
    >>> from cxkit.panel import build_panel  # doctest: +SKIP
    >>> panel = build_panel(make_sample()[0])  # doctest: +SKIP
    >>> fit_retention(panel, drivers=["resolution_hours_mean", "fcr_rate"]).effect(
    ...     "resolution_hours_mean", -2)["sentence"]  # doctest: +SKIP
    """
    spec = fitting.make_spec(panel, outcome=outcome, drivers=drivers, controls=controls,
                             design=design, cluster=cluster, cov_type=cov_type)
    frame, dropped = fitting.prepare_rows(panel, spec)
    y = fitting.binary_outcome(frame, outcome)
    design_matrix = fitting.build_design(frame, spec)
    n_params = design_matrix.matrix.shape[1]
    events = fitting.check_events(y, n_params, outcome)
    fitting.check_drivers(frame, spec, y)
    fitting.check_rank(design_matrix, spec)
    model = sm.Logit(pd.Series(y, name=outcome),
                     pd.DataFrame(design_matrix.matrix, columns=list(design_matrix.names)))
    res = fitting.fit_model(model, spec, groups=fitting.cluster_codes(frame, spec.cluster)
                            if spec.cov_type == "cluster" else None,
                            label="Retention logit", disp=0, maxiter=200)
    ame, ame_se = logit_ame(design_matrix, res.params, res.cov_params(), spec)
    coefficients = fitting.coefficient_rows(res, alpha=alpha, unit="log-odds", spec=spec)
    estimates = pd.concat([
        coefficients,
        fitting.ratio_rows(coefficients, terms=list(design_matrix.names[1:]),
                           quantity="odds_ratio", unit="odds ratio", spec=spec),
        fitting.estimate_rows(spec.driver_names, 100 * ame, 100 * ame_se, alpha=alpha,
                              quantity="ame_pp", unit="pp", spec=spec),
    ], ignore_index=True)
    p = np.asarray(res.predict(), float)
    diagnostics = {"auc": auc_score(y, p), "events": events, "event_rate": float(y.mean()),
                   "clusters": None if spec.cluster is None else
                   int(pd.unique(frame[spec.cluster]).size),
                   "pseudo_r2": _mcfadden_r2(float(res.llf), y)}
    checks = guardrails.design_checks(panel, frame, spec, events=events, n_params=n_params,
                                      placebo=placebo, alpha=alpha)
    label = fitting.outcome_label(spec)
    return ModelResult(
        kind="logit", spec=spec, n_obs=len(frame), effect_unit="pp", effect_quantity="ame_pp",
        outcome_label=label, alpha=alpha, estimates_table=estimates, dropped_table=dropped,
        guardrails_table=checks, calibration_table=calibration_table(y, p),
        diagnostics=diagnostics, model_result=res,
        caveat=guardrails.caveat_text(spec, outcome_label=label, n_obs=len(frame),
                                      checks=checks))
