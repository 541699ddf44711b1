"""Revenue models: next-period revenue on support drivers, effects in currency.

:func:`fit_revenue` shares the row preparation, checks and clustered fits of
:mod:`cxkit.models` and adds what money needs: a two-part model (any
purchase x amount, retransformed with Duan's smearing factor), log-OLS and a
Tweedie GLM, with the effect of +1 unit of each driver stated in the
currency of the data and an interval from the delta method or a customer
cluster bootstrap.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import statsmodels.api as sm
import statsmodels.formula.api as smf
from scipy import stats

from cxkit.exceptions import ModelError, SmallSampleWarning
from cxkit.models import (DEFAULT_CONTROLS, _check_drivers, _check_events, _check_rank, _fit,
                          _groups, build_formula, cluster_bootstrap_rows, outcome_label,
                          prepare_rows, tidy_frame)
from cxkit.results import ModelResult
from cxkit.availability import adapts

__all__ = ["fit_revenue"]


@adapts
def fit_revenue(panel: pd.DataFrame, *, drivers, controls=DEFAULT_CONTROLS,
                outcome: str = "revenue_next_amount", method: str = "two_part",
                cluster: str | None = "customer_id", design: str = "quality_given_contact",
                alpha: float = 0.05, currency: str | None = None, placebo: bool = True,
                interval: str = "delta", n_boot: int = 200, seed: int = 0) -> ModelResult:
    """Next-period revenue on support drivers; effects in currency per unit of driver.

    Methods
    -------
    ``"two_part"`` (default)
        Logit of any purchase (revenue > 0) times OLS of log(revenue) among
        purchasers, retransformed with Duan's smearing factor. The effect of
        +1 unit of a driver is the average over rows of
        ``E[revenue | x + 1] - E[revenue | x]``.
    ``"log_ols"``
        OLS of log(1 + revenue); ``estimate`` x 100 is ~% change per unit;
        the currency effect is ``mean(exp(Xb)) * smearing * (exp(b) - 1)``.
    ``"tweedie"``
        GLM with Tweedie variance (power 1.5) and log link; the currency
        effect is ``mean(mu) * (exp(b) - 1)``.

    Intervals of the currency effects
    ---------------------------------
    ``interval="delta"`` (default, fast): delta method with the
    cluster-robust covariances; for the two-part model the two parts are
    treated as independent and the smearing factor as fixed.
    ``interval="bootstrap"``: customers (``cluster``) are resampled with
    replacement ``n_boot`` times (seeded by ``seed``) and the whole model,
    smearing factor included, is refitted; percentile interval, standard
    error from the spread of the refits, and p-value from the share of
    refits on the other side of zero (at least 1 / refits). Slower, and
    honest about everything the delta method holds fixed.

    Parameters are as in :func:`fit_retention`; ``currency`` labels the
    effects (default ``panel.attrs["currency"]`` or ``"currency"``).

    Returns
    -------
    ModelResult
        ``effect_unit`` is the currency; ``effects()`` one row per driver;
        ``diagnostics["interval"]`` says how the intervals were made (and,
        for the bootstrap, how many refits failed and were left out).
    """
    from cxkit import guardrails

    methods, intervals = ("two_part", "log_ols", "tweedie"), ("delta", "bootstrap")
    if method not in methods:
        raise ModelError(f"method={method!r} is unknown; use one of {', '.join(methods)}.")
    if interval not in intervals:
        raise ModelError(f"interval={interval!r} is unknown; use 'delta' or 'bootstrap'.")
    if interval == "bootstrap" and (cluster is None or isinstance(n_boot, bool)
                                    or not isinstance(n_boot, int) or n_boot < 50):
        raise ModelError("interval='bootstrap' resamples customers: it needs cluster= (e.g. "
                         f"'customer_id') and n_boot >= 50 (got cluster={cluster!r}, "
                         f"n_boot={n_boot!r}).")
    drivers = list(drivers)
    unit = currency or str(panel.attrs.get("currency", "currency"))
    df, dropped = prepare_rows(panel, drivers=drivers, controls=controls, outcome=outcome,
                               cluster=cluster, design=design)
    y = df[outcome].astype(float)
    if (y < 0).any():
        raise ModelError(f"Outcome {outcome!r} has negative values (e.g. "
                         f"{y[y < 0].head(3).tolist()}); revenue models need amounts >= 0. "
                         f"Net refunds out before modelling or use a different outcome.")
    _check_drivers(df, drivers)
    rhs = build_formula("y_", drivers, controls).split("~", 1)[1]
    df["any_purchase_"] = (y > 0).astype(float)
    df["log_amount_"] = np.log(y.where(y > 0))
    fit = _revenue_fit(df, method=method, rhs=rhs, outcome=outcome, drivers=drivers,
                       cluster=cluster)
    effects = _delta_effects(fit["effect"], fit["theta"], fit["cov"], drivers, alpha, unit)
    idx = fit["idx"]
    res = fit["result"]
    if method == "two_part":
        t1, t2 = tidy_frame(res[0], alpha), tidy_frame(res[1], alpha)
        t1["term"] = "any_purchase:" + t1["term"]
        t2["term"] = "log_amount:" + t2["term"]
        tidy = pd.concat([t1, t2], ignore_index=True)
        formula = f"{outcome} ~{rhs} (two-part)"
        diagnostics = {"purchase_rate": float(df["any_purchase_"].mean()),
                       "smearing_factor": fit["smear"], "purchasers": int((y > 0).sum())}
    else:
        tidy = tidy_frame(res, alpha)
        if method == "log_ols":
            tidy["pct_effect"] = 100 * (np.exp(tidy["estimate"]) - 1)
        formula = str(res.model.formula)
        diagnostics = {"smearing_factor": fit["smear"] if method == "log_ols" else None}
    diagnostics["interval"] = "delta method"
    if interval == "bootstrap":
        effects, failed = _bootstrap_effects(df, effects, method=method, rhs=rhs,
                                             outcome=outcome, drivers=drivers, cluster=cluster,
                                             alpha=alpha, n_boot=n_boot, seed=seed)
        diagnostics["interval"] = (f"cluster bootstrap by {cluster}, {n_boot - failed} refits "
                                   f"({failed} failed and left out), percentile")
    if method != "two_part":
        tidy = tidy.merge(effects[["term", "ame", "ame_conf_low", "ame_conf_high"]],
                          on="term", how="left")
    diagnostics.update({"mean_outcome_amount": float(y.mean()),
                        "clusters": None if cluster is None else int(df[cluster].nunique()),
                        "design": design})
    checks = guardrails.design_checks(panel, df, outcome=outcome, drivers=drivers,
                                      controls=controls, design=design, cluster=cluster,
                                      events=None, n_params=len(idx) + 1, placebo=placebo,
                                      alpha=alpha)
    label = outcome_label(panel, outcome)
    return ModelResult(
        kind=method, outcome=outcome, drivers=tuple(drivers), formula=formula, n_obs=len(df),
        effect_unit=unit, outcome_label=label, alpha=alpha, tidy_table=tidy,
        effects_table=effects, dropped_table=dropped, guardrails_table=checks,
        diagnostics=diagnostics, model_result=res,
        caveat=guardrails.caveat_text(design=design, outcome_label=label, n_obs=len(df),
                                      controls=controls, checks=checks, cluster=cluster))


def _revenue_fit(df: pd.DataFrame, *, method: str, rhs: str, outcome: str, drivers,
                 cluster: str | None) -> dict:
    """Fit one revenue model; its parameters, covariance and ``effect(theta)`` in currency.

    ``effect`` maps the parameter vector to the currency effect of +1 unit of
    each driver (averaged over the rows of ``df``), for the delta method and
    the bootstrap alike.
    """
    groups = _groups(df, cluster)
    if method == "two_part":
        m1 = smf.logit("any_purchase_ ~" + rhs, df)
        _check_events(df["any_purchase_"], m1.exog.shape[1], outcome + " > 0")
        _check_rank(m1, drivers)
        r1 = _fit(m1, groups=groups, drivers=drivers, label="Any-purchase logit", disp=0,
                  maxiter=200)
        pos = df.loc[df["any_purchase_"] > 0].reset_index(drop=True)
        m2 = smf.ols("log_amount_ ~" + rhs, pos)
        _check_rank(m2, drivers)
        if list(m2.exog_names) != list(m1.exog_names):
            raise ModelError("Some plan/segment category has no purchasers, so the two parts "
                             "have different terms; merge rare categories or drop the control.")
        r2 = _fit(m2, groups=_groups(pos, cluster), drivers=drivers, label="Amount OLS")
        smear = float(np.mean(np.exp(r2.resid)))
        x = np.asarray(m1.exog, float)
        k = x.shape[1]
        idx = [list(m1.exog_names).index(d) for d in drivers]

        def effect(theta):
            b, g = theta[:k], theta[k:]
            base = (1 / (1 + np.exp(-x @ b))) * np.exp(x @ g) * smear
            out = []
            for j in idx:
                p1 = 1 / (1 + np.exp(-(x @ b + b[j])))
                out.append(np.mean(p1 * np.exp(x @ g + g[j]) * smear - base))
            return out

        theta = np.concatenate([r1.params, r2.params])
        cov = np.zeros((2 * k, 2 * k))
        cov[:k, :k], cov[k:, k:] = r1.cov_params(), r2.cov_params()
        return {"result": (r1, r2), "theta": theta, "cov": cov, "effect": effect,
                "smear": smear, "idx": idx}
    if method == "log_ols":
        model = smf.ols("np.log1p(" + outcome + ") ~" + rhs, df)
    else:
        family = sm.families.Tweedie(var_power=1.5, link=sm.families.links.Log())
        model = smf.glm(outcome + " ~" + rhs, df, family=family)
    _check_rank(model, drivers)
    res = _fit(model, groups=groups, drivers=drivers, label=f"Revenue {method}")
    x = np.asarray(model.exog, float)
    idx = [list(model.exog_names).index(d) for d in drivers]
    smear = float(np.mean(np.exp(res.resid))) if method == "log_ols" else 1.0

    def effect(theta):
        level = np.mean(np.exp(x @ theta)) * smear
        return [level * (np.exp(theta[j]) - 1) for j in idx]

    return {"result": res, "theta": np.asarray(res.params, float),
            "cov": np.asarray(res.cov_params(), float), "effect": effect, "smear": smear,
            "idx": idx}


def _bootstrap_effects(df: pd.DataFrame, effects: pd.DataFrame, *, method: str, rhs: str,
                       outcome: str, drivers, cluster: str, alpha: float, n_boot: int,
                       seed: int) -> tuple[pd.DataFrame, int]:
    """Replace the delta-method columns of ``effects`` by a customer-cluster bootstrap.

    Each replicate draws as many customers as there are, with replacement,
    keeps all rows of each draw (a customer drawn twice counts twice) and
    refits the whole model. Replicates whose fit fails (e.g. a category
    without purchasers) are left out and counted; more than 10% failing is
    an error.
    """
    draws, failed = [], 0
    for rows in cluster_bootstrap_rows(df[cluster], n_boot=n_boot, seed=seed):
        sample = df.iloc[rows].reset_index(drop=True)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", SmallSampleWarning)
                fit = _revenue_fit(sample, method=method, rhs=rhs, outcome=outcome,
                                   drivers=drivers, cluster=None)
        except ModelError:
            failed += 1
            continue
        draws.append(fit["effect"](fit["theta"]))
    if failed > 0.1 * n_boot:
        raise ModelError(f"The bootstrap failed in {failed} of {n_boot} refits (a resample "
                         "left a category without purchasers, or a driver constant); merge "
                         "rare plan/segment categories or use interval='delta'.")
    draws = np.asarray(draws, float)
    se = draws.std(axis=0, ddof=1)
    low, high = np.quantile(draws, [alpha / 2, 1 - alpha / 2], axis=0)
    # two-sided p-value of "no effect": twice the share of replicates on the far side of 0
    share = np.minimum((draws <= 0).mean(axis=0), (draws >= 0).mean(axis=0))
    out = effects.copy()
    out["ame_std_error"], out["ame_conf_low"], out["ame_conf_high"] = se, low, high
    out["p_value"] = np.clip(2 * share, 1 / len(draws), 1.0)
    return out, failed


def _delta_effects(fn, theta: np.ndarray, cov: np.ndarray, drivers, alpha: float, unit: str):
    """Effects ``fn(theta) -> array`` with delta-method standard errors."""
    est = np.asarray(fn(theta), float)
    jac = np.empty((len(est), len(theta)))
    for k in range(len(theta)):
        h = 1e-6 * max(1.0, abs(theta[k]))
        up, down = theta.copy(), theta.copy()
        up[k] += h
        down[k] -= h
        jac[:, k] = (np.asarray(fn(up)) - np.asarray(fn(down))) / (2 * h)
    se = np.sqrt(np.einsum("ik,kl,il->i", jac, cov, jac))
    z = stats.norm.ppf(1 - alpha / 2)
    return pd.DataFrame({"term": list(drivers), "ame": est, "ame_std_error": se,
                         "ame_conf_low": est - z * se, "ame_conf_high": est + z * se,
                         "p_value": 2 * stats.norm.sf(np.abs(est / se)), "unit": unit})
