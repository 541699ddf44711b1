"""Revenue models: next-period revenue on support drivers, effects in currency.

:func:`fit_revenue` runs through the kernel of :mod:`cxkit.fitting` (rows,
checks, fits with the chosen covariance) and adds what money needs: a
two-part model (any purchase x amount, retransformed with Duan's smearing
factor), log-OLS and a Tweedie GLM. :func:`predict_revenue` is the one
prediction of expected revenue per row for all three; the currency effects
here and the money rows of :func:`cxkit.whatif.what_if` both read it.
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy.special import expit

from cxkit import fitting, guardrails
from cxkit.availability import adapts
from cxkit.exceptions import ModelError, ParameterError, SmallSampleWarning
from cxkit.fitting import DEFAULT_CONTROLS, Design, ModelSpec
from cxkit.results import ModelResult

__all__ = ["fit_revenue", "predict_revenue", "counterfactual_designs", "METHODS"]

METHODS = ("two_part", "log_ols", "tweedie")
INTERVALS = ("delta", "bootstrap")
ESTIMAND = ("Money effect, the same estimand for every method: the change in expected "
            "next-period revenue per customer-period, averaged over the rows used, for +1 unit "
            "of the driver (0 to 1 for a 0/1 or threshold driver); the methods differ in how "
            "they model revenue, not in what they report.")


def predict_revenue(method: str, theta, x: np.ndarray, *, smear: float = 1.0) -> np.ndarray:
    """Expected revenue of each row of design matrix ``x`` under parameters ``theta``.

    * ``two_part``: ``P(any purchase) * exp(x g) * smear`` with
      ``theta = [logit coefficients, log-amount coefficients]``;
    * ``log_ols``: ``exp(x b) * smear - 1`` (the model is of log(1 + revenue));
    * ``tweedie``: ``exp(x b)`` (log link).
    """
    theta = np.asarray(theta, float)
    if method == "two_part":
        k = x.shape[1]
        return expit(x @ theta[:k]) * np.exp(x @ theta[k:]) * smear
    if method == "log_ols":
        return np.exp(x @ theta) * smear - 1.0
    if method == "tweedie":
        return np.exp(x @ theta)
    raise ParameterError(f"method={method!r} is unknown; use one of {', '.join(METHODS)}.")


def counterfactual_designs(design: Design, term) -> tuple[np.ndarray, np.ndarray]:
    """Design matrices before and after the change an effect is stated for.

    +1 unit of the driver's column (through its transform), or 0 -> 1 for a
    threshold or a column holding only 0 and 1 (every row set to 0, then to 1).
    """
    raw = design.raw[term.column]
    if term.binary or np.all((raw == 0) | (raw == 1)):
        j = design.index(term.text)
        x0, x1 = design.matrix.copy(), design.matrix.copy()
        x0[:, j], x1[:, j] = 0.0, 1.0
        return x0, x1
    return design.matrix, design.with_values({term.column: raw + 1.0})


@adapts
def fit_revenue(panel: pd.DataFrame, *, drivers, controls=DEFAULT_CONTROLS,
                outcome: str = "revenue_next_amount", method: str = "two_part",
                cluster: str | None = "customer_id", design: str = "quality_given_contact",
                cov_type: str | None = None, alpha: float = 0.05, currency: str | None = None,
                placebo: bool = True, interval: str = "delta", n_boot: int = 200,
                seed: int = 0) -> ModelResult:
    """Next-period revenue on support drivers; effects in currency per unit of driver.

    Methods
    -------
    ``"two_part"`` (default)
        Logit of any purchase (revenue > 0) times OLS of log(revenue) among
        purchasers, retransformed with Duan's smearing factor.
    ``"log_ols"``
        OLS of log(1 + revenue); ``exp(coefficient) - 1`` is the relative
        change per unit.
    ``"tweedie"``
        GLM with Tweedie variance (power 1.5) and log link.

    For every method the effect of a driver is the average over rows of
    ``E[revenue | x changed] - E[revenue | x]`` (:func:`predict_revenue`),
    the change being +1 unit of the driver's column (through its transform)
    or 0 -> 1 for a threshold or 0/1 driver.

    Intervals of the currency effects
    ---------------------------------
    ``interval="delta"`` (default, fast): delta method with the models'
    covariances; for the two-part model the two parts are treated as
    independent and the smearing factor as fixed.
    ``interval="bootstrap"``: customers (``cluster``) are resampled with
    replacement ``n_boot`` times (seeded by ``seed``) and the whole model,
    smearing factor included, is refitted; percentile interval, standard
    error from the spread of the refits, and p-value from the share of
    refits on the other side of zero (at least 1 / refits).

    Parameters are as in :func:`cxkit.models.fit_retention`; ``currency``
    labels the effects (default ``panel.attrs["currency"]`` or ``"currency"``).

    Returns
    -------
    ModelResult
        Estimates of quantities ``coefficient`` (terms prefixed
        ``any_purchase:`` / ``log_amount:`` for the two parts) and
        ``effect_amount``; ``diagnostics["interval"]`` says how the intervals
        were made.
    """
    if method not in METHODS:
        raise ParameterError(f"method={method!r} is unknown; use one of {', '.join(METHODS)}.")
    if interval not in INTERVALS:
        raise ParameterError(f"interval={interval!r} is unknown; use 'delta' or 'bootstrap'.")
    if interval == "bootstrap" and (cluster is None or isinstance(n_boot, bool)
                                    or not isinstance(n_boot, int) or n_boot < 50):
        raise ParameterError("interval='bootstrap' resamples customers: it needs cluster= "
                             f"(e.g. 'customer_id') and n_boot >= 50 (got cluster={cluster!r}, "
                             f"n_boot={n_boot!r}).")
    spec = fitting.make_spec(panel, outcome=outcome, drivers=drivers, controls=controls,
                             design=design, cluster=cluster, cov_type=cov_type)
    unit = currency or str(panel.attrs.get("currency", "currency"))
    frame, dropped = fitting.prepare_rows(panel, spec)
    y = frame[outcome].to_numpy(dtype=float)
    if (y < 0).any():
        raise ModelError(f"Outcome {outcome!r} has negative values (e.g. "
                         f"{y[y < 0][:3].tolist()}); revenue models need amounts >= 0. "
                         f"Net refunds out before modelling or use a different outcome.")
    fitting.check_drivers(frame, spec)
    fit = _revenue_fit(frame, spec, method=method, cluster_se=True)
    est, se = fitting.delta_method(fit["effect"], fit["theta"], fit["cov"])
    diagnostics = {"smearing_factor": fit["smear"] if method != "tweedie" else None}
    if interval == "bootstrap":
        boot, failed = _bootstrap(frame, spec, method=method, n_boot=n_boot, seed=seed)
        effects = _bootstrap_rows(est, boot, spec, alpha=alpha, unit=unit)
        diagnostics["interval"] = (f"cluster bootstrap by {cluster}, {n_boot - failed} refits "
                                   f"({failed} failed and left out), percentile")
    else:
        effects = fitting.estimate_rows(spec.driver_names, est, se, alpha=alpha,
                                        quantity="effect_amount", unit=unit, spec=spec)
        diagnostics["interval"] = "delta method"
    res = fit["result"]
    if method == "two_part":
        coefficients = pd.concat([
            fitting.coefficient_rows(res[0], alpha=alpha, unit="log-odds", spec=spec,
                                     prefix="any_purchase:"),
            fitting.coefficient_rows(res[1], alpha=alpha, unit="log amount", spec=spec,
                                     prefix="log_amount:")], ignore_index=True)
        diagnostics.update({"purchase_rate": float((y > 0).mean()),
                            "purchasers": int((y > 0).sum())})
    else:
        coefficients = fitting.coefficient_rows(
            res, alpha=alpha, unit="log(1 + amount)" if method == "log_ols" else "log amount",
            spec=spec)
    diagnostics.update({"mean_outcome_amount": float(y.mean()),
                        "clusters": None if cluster is None else
                        int(pd.unique(frame[cluster]).size)})
    n_params = len(fit["theta"]) // (2 if method == "two_part" else 1)
    checks = guardrails.design_checks(panel, frame, spec, events=None, n_params=n_params,
                                      placebo=placebo, alpha=alpha)
    label = fitting.outcome_label(spec)
    return ModelResult(
        kind=method, spec=spec, n_obs=len(frame), effect_unit=unit,
        effect_quantity="effect_amount", outcome_label=label, alpha=alpha,
        estimates_table=pd.concat([coefficients, effects], ignore_index=True),
        dropped_table=dropped, guardrails_table=checks, diagnostics=diagnostics,
        model_result=res,
        caveat=guardrails.caveat_text(spec, outcome_label=label, n_obs=len(frame),
                                      checks=checks) + " " + ESTIMAND)


def _named(design: Design) -> pd.DataFrame:
    return pd.DataFrame(design.matrix, columns=list(design.names))


def _revenue_fit(frame: pd.DataFrame, spec: ModelSpec, *, method: str,
                 cluster_se: bool) -> dict:
    """Fit one revenue model; its parameters, covariance and ``effect(theta)`` in currency.

    ``effect`` maps the parameter vector to the currency effect of each
    driver (averaged over the rows of ``frame``), for the delta method and
    the bootstrap alike. ``cluster_se=False`` (bootstrap refits) skips the
    covariance the refits do not use.
    """
    fit_spec = spec if cluster_se else dataclasses.replace(spec, cov_type="nonrobust")
    design = fitting.build_design(frame, spec)
    fitting.check_rank(design, spec)
    y = frame[spec.outcome].to_numpy(dtype=float)
    groups = fitting.cluster_codes(frame, spec.cluster) \
        if fit_spec.cov_type == "cluster" else None
    if method == "two_part":
        buy = (y > 0).astype(float)
        fitting.check_events(buy, design.matrix.shape[1], spec.outcome + " > 0")
        r1 = fitting.fit_model(sm.Logit(pd.Series(buy, name="any_purchase"), _named(design)),
                               fit_spec, groups=groups, label="Any-purchase logit", disp=0,
                               maxiter=200)
        pos = frame.loc[y > 0].reset_index(drop=True)
        pos_design = fitting.build_design(pos, spec)
        if pos_design.names != design.names:
            raise ModelError("Some plan/segment category has no purchasers, so the two parts "
                             "have different terms; merge rare categories or drop the control.")
        fitting.check_rank(pos_design, spec)
        r2 = fitting.fit_model(
            sm.OLS(pd.Series(np.log(y[y > 0]), name="log_amount"), _named(pos_design)),
            fit_spec, groups=fitting.cluster_codes(pos, spec.cluster)
            if fit_spec.cov_type == "cluster" else None, label="Amount OLS")
        smear = float(np.mean(np.exp(r2.resid)))
        theta = np.concatenate([r1.params, r2.params])
        k = len(r1.params)
        cov = np.zeros((2 * k, 2 * k))
        cov[:k, :k], cov[k:, k:] = r1.cov_params(), r2.cov_params()
        result = (r1, r2)
    else:
        if method == "log_ols":
            model = sm.OLS(pd.Series(np.log1p(y), name=f"np.log1p({spec.outcome})"),
                           _named(design))
        else:
            family = sm.families.Tweedie(var_power=1.5, link=sm.families.links.Log())
            model = sm.GLM(pd.Series(y, name=spec.outcome), _named(design), family=family)
        result = fitting.fit_model(model, fit_spec, groups=groups, label=f"Revenue {method}")
        smear = float(np.mean(np.exp(result.resid))) if method == "log_ols" else 1.0
        theta = np.asarray(result.params, float)
        cov = np.asarray(result.cov_params(), float)
    matrices = [counterfactual_designs(design, t) for t in spec.drivers]

    def effect(th):
        return [np.mean(predict_revenue(method, th, x1, smear=smear)
                        - predict_revenue(method, th, x0, smear=smear))
                for x0, x1 in matrices]

    return {"result": result, "theta": theta, "cov": cov, "effect": effect, "smear": smear}


def _bootstrap(frame: pd.DataFrame, spec: ModelSpec, *, method: str, n_boot: int,
               seed: int) -> tuple[np.ndarray, int]:
    """Currency effects of ``n_boot`` customer-bootstrap refits of the whole model.

    Each replicate draws as many customers as there are, with replacement,
    keeps all rows of each draw (a customer drawn twice counts twice) and
    refits. Replicates whose fit fails (e.g. a category without purchasers)
    are left out and counted; more than 10% failing is an error.
    """
    draws, failed = [], 0
    for rows in fitting.cluster_bootstrap_rows(frame[spec.cluster], n_boot=n_boot, seed=seed):
        sample = frame.iloc[rows].reset_index(drop=True)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", SmallSampleWarning)
                fit = _revenue_fit(sample, spec, method=method, cluster_se=False)
        except ModelError:
            failed += 1
            continue
        draws.append(fit["effect"](fit["theta"]))
    if failed > 0.1 * n_boot:
        raise ModelError(f"The bootstrap failed in {failed} of {n_boot} refits (a resample "
                         "left a category without purchasers, or a driver constant); merge "
                         "rare plan/segment categories or use interval='delta'.")
    return np.asarray(draws, float), failed


def _bootstrap_rows(est, draws: np.ndarray, spec: ModelSpec, *, alpha: float,
                    unit: str) -> pd.DataFrame:
    """Effect rows with the bootstrap's SE, percentile interval and p-value."""
    se = draws.std(axis=0, ddof=1)
    low, high = np.quantile(draws, [alpha / 2, 1 - alpha / 2], axis=0)
    # two-sided p-value of "no effect": twice the share of replicates on the far side of 0
    share = np.minimum((draws <= 0).mean(axis=0), (draws >= 0).mean(axis=0))
    rows = fitting.estimate_rows(spec.driver_names, est, se, alpha=alpha,
                                 quantity="effect_amount", unit=unit, spec=spec)
    rows["conf_low"], rows["conf_high"] = low, high
    rows["p_value"] = np.clip(2 * share, 1 / len(draws), 1.0)
    return rows
