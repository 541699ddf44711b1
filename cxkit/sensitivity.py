"""Sensitivity of an estimate to unobserved confounding.

How strong would a confounder that cxkit did not measure (a customer's
propensity to have problems, a pending contract renewal, ...) have to be to
explain an estimate away? Two standard answers, one per kind of model:

* **E-value** (VanderWeele & Ding 2017, *Annals of Internal Medicine*
  167(4)) for ratio effects: the minimum risk ratio an unmeasured confounder
  would need with both the driver and the outcome, beyond the measured
  controls, to move the estimate (or its interval) to no effect:
  ``RR + sqrt(RR (RR - 1))`` for ``RR >= 1`` (invert first when below 1).
  Odds ratios and hazard ratios are first put on the risk-ratio scale
  (VanderWeele 2017, *Biometrics* 73(3)): unchanged when the outcome is rare
  (15% or less), else ``sqrt(OR)`` for odds ratios and
  ``(1 - 0.5^sqrt(HR)) / (1 - 0.5^sqrt(1/HR))`` for hazard ratios.
* **Robustness value** (Cinelli & Hazlett 2020, *JRSS-B* 82(1)) for linear
  models: the share of the residual variance of both the driver and the
  outcome a confounder would need to explain to bring the estimate to zero
  (``RV_q``) or to make it statistically indistinguishable from zero
  (``RV_q,alpha``), from the coefficient's t-statistic and residual df.

:func:`describe_sensitivity` applies the right one to every driver of a fitted
:class:`~cxkit.results.ModelResult`, for the same change of the driver its
effect sentence states.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["e_value", "robustness_value", "describe_sensitivity", "RARE_OUTCOME_RATE"]

#: An outcome at or below this rate (by the end of follow-up) counts as rare: OR ~ HR ~ RR.
RARE_OUTCOME_RATE = 0.15

_RATIO_KINDS = {"logit": "odds ratio", "cox": "hazard ratio"}
_LINEAR_KINDS = ("ols", "log_ols", "within")


def _to_rr(ratio: float, measure: str, common: bool) -> float:
    if measure == "rr" or not common:
        return ratio
    if measure == "or":
        return math.sqrt(ratio)
    if measure == "hr":
        return (1 - 0.5 ** math.sqrt(ratio)) / (1 - 0.5 ** math.sqrt(1 / ratio))
    raise ValueError(f"measure={measure!r} is unknown; use 'rr', 'or' or 'hr'.")


def _e(rr: float) -> float:
    rr = 1 / rr if rr < 1 else rr
    return rr + math.sqrt(rr * (rr - 1))


def e_value(estimate: float, conf_low: float | None = None, conf_high: float | None = None, *,
            measure: str = "rr", outcome_rate: float | None = None) -> dict:
    """E-value of a ratio estimate and of the interval limit closer to 1.

    Parameters
    ----------
    estimate, conf_low, conf_high : float
        The ratio (risk, odds or hazard ratio; not its log) and its interval.
    measure : {"rr", "or", "hr"}
        What the ratio is.
    outcome_rate : float, optional
        Share of units with the outcome (by the end of follow-up). Above
        :data:`RARE_OUTCOME_RATE` an odds or hazard ratio is converted to the
        risk-ratio scale first; unknown counts as rare (ratio ~ risk ratio).

    Returns
    -------
    dict
        ``risk_ratio, risk_ratio_conf_low, risk_ratio_conf_high`` (the
        approximate risk ratios), ``e_value`` (for the estimate),
        ``e_value_ci`` (for the limit closer to 1; 1 when the interval
        contains 1) and ``approximation`` (how the risk ratio was obtained).

    Examples
    --------
    VanderWeele & Ding (2017): risk ratio 3.9 (95% CI 1.8 to 8.7).

    >>> ev = e_value(3.9, 1.8, 8.7)
    >>> round(ev["e_value"], 2), round(ev["e_value_ci"], 2)
    (7.26, 3.0)
    """
    common = outcome_rate is not None and outcome_rate > RARE_OUTCOME_RATE
    rr = _to_rr(float(estimate), measure, common)
    lo = None if conf_low is None else _to_rr(float(conf_low), measure, common)
    hi = None if conf_high is None else _to_rr(float(conf_high), measure, common)
    if lo is None or hi is None:
        ci = float("nan")
    elif lo <= 1 <= hi:
        ci = 1.0
    else:
        ci = _e(lo if rr > 1 else hi)
    if measure == "rr":
        how = "risk ratio as estimated"
    elif common:
        how = (f"outcome common ({outcome_rate:.0%} > {RARE_OUTCOME_RATE:.0%}): risk ratio ~ "
               + ("sqrt(odds ratio)" if measure == "or"
                  else "(1 - 0.5^sqrt(HR)) / (1 - 0.5^sqrt(1/HR))"))
    else:
        rate = "unknown" if outcome_rate is None else f"{outcome_rate:.1%}"
        how = (f"outcome rare ({rate} <= {RARE_OUTCOME_RATE:.0%}): risk ratio ~ "
               + ("odds ratio" if measure == "or" else "hazard ratio"))
    return {"risk_ratio": rr, "risk_ratio_conf_low": lo, "risk_ratio_conf_high": hi,
            "e_value": _e(rr), "e_value_ci": ci, "approximation": how}


def robustness_value(t_statistic: float, dof: float, *, q: float = 1.0,
                     alpha: float | None = None) -> float:
    """Cinelli & Hazlett's robustness value of a linear-regression coefficient (0-1).

    The share of the residual variance of both the driver and the outcome an
    unobserved confounder must explain to reduce the estimate by ``100 q``%
    (``alpha=None``), or so that it is no longer significant at ``alpha``;
    as ``sensemakr::robustness_value(t_statistic=, dof=, q=, alpha=)``.

    Examples
    --------
    Cinelli & Hazlett (2020), Darfur: t = 4.18445 on 783 df.

    >>> round(robustness_value(4.18445, 783), 4)
    0.1388
    >>> round(robustness_value(4.18445, 783, alpha=0.05), 4)
    0.0763
    """
    fq = q * abs(t_statistic / math.sqrt(dof))
    if alpha is None:
        return 0.5 * (math.sqrt(fq ** 4 + 4 * fq ** 2) - fq ** 2)
    f_crit = abs(float(stats.t.ppf(alpha / 2, dof - 1))) / math.sqrt(dof - 1)
    fqa = fq - f_crit
    if fqa <= 0:
        return 0.0
    if fq > 1 / f_crit:  # extreme case: the bound is set by the outcome side alone
        return (fq ** 2 - f_crit ** 2) / (1 + fq ** 2)
    return 0.5 * (math.sqrt(fqa ** 4 + 4 * fqa ** 2) - fqa ** 2)


def _outcome_rate(result) -> float | None:
    d = result.diagnostics
    if result.kind == "logit":
        return d.get("event_rate")
    if result.kind == "cox" and d.get("events") is not None:
        units = d.get("clusters") or result.n_obs  # customers, when intervals are clustered
        return float(d["events"]) / float(units)
    return None


def _e_sentence(ev: dict, label: str, outcome: str, level: int) -> str:
    return (f"an unmeasured confounder would need a risk ratio of {ev['e_value']:.2f} with both "
            f"{label} and {outcome} to explain this estimate away"
            + (f" ({ev['e_value_ci']:.2f} to move its {level}% interval to include no effect)"
               if ev["e_value_ci"] > 1 else f"; its {level}% interval already includes no effect"))


def _rv_sentence(rv: float, rva: float, label: str, outcome: str, level: int) -> str:
    return (f"confounders explaining {rv:.1%} of the residual variance of both {label} and "
            f"{outcome} would explain this estimate away"
            + (f" ({rva:.1%} would make it indistinguishable from zero)" if rva > 0 else
               f"; it is already indistinguishable from zero at the {level}% level"))


def _two_part(result, tidy: pd.DataFrame, term: str, *, delta: float, label: str,
              level: int) -> dict:
    """E-value of the purchase part (odds ratio) and robustness value of the amount part."""
    row = tidy.loc[f"any_purchase:{term}"]
    b, lo, hi = (float(row[c]) * delta for c in ("estimate", "conf_low", "conf_high"))
    lo, hi = min(lo, hi), max(lo, hi)
    ev = e_value(math.exp(b), math.exp(lo), math.exp(hi), measure="or",
                 outcome_rate=result.diagnostics.get("purchase_rate"))
    out = {"measure": "odds ratio (purchase part); robustness value (amount part)",
           "ratio": math.exp(b), "e_value": ev["e_value"], "e_value_ci": ev["e_value_ci"],
           "approximation": "purchase part: " + ev["approximation"]}
    sentence = _e_sentence(ev, label, "any purchase", level)
    amount = f"log_amount:{term}"
    parts = result.model_result
    if amount in tidy.index and isinstance(parts, tuple) and len(parts) == 2:
        t = float(tidy.loc[amount, "estimate"]) / float(tidy.loc[amount, "std_error"])
        dof = float(parts[1].df_resid)
        rv, rva = robustness_value(t, dof), robustness_value(t, dof, alpha=result.alpha)
        out.update(robustness_value=rv, robustness_value_ci=rva)
        sentence += "; for the amount, " + _rv_sentence(rv, rva, label, "the amount spent", level)
    out["sentence"] = "for the purchase part, " + sentence
    return out


def describe_sensitivity(result, *, deltas=None) -> pd.DataFrame:
    """Sensitivity to unobserved confounding of every driver of a fitted model.

    Logit and Cox effects get E-values, for the change of the driver that
    its effect sentence states (``deltas``; the odds or hazard ratio for that
    change); linear models get robustness values. Other kinds (two-part,
    Tweedie) get a row saying why none is computed.

    Parameters
    ----------
    result : ModelResult
    deltas : mapping, optional
        Driver -> change in driver units; default the driver's effect step in
        the metric registry (:func:`cxkit.registry.lookup`), as in its effect sentence.

    Returns
    -------
    DataFrame
        One row per driver: ``term, delta, measure, ratio, e_value, e_value_ci,
        robustness_value, robustness_value_ci, approximation, sentence``
        (``sentence`` is plain words for the effect sentence).
    """
    from cxkit import registry
    from cxkit.labels import driver_label

    deltas = {} if deltas is None else dict(deltas)
    tidy = result.tidy().set_index("term")
    level = round(100 * (1 - result.alpha))
    rows = []
    for term in result.drivers:
        if term not in tidy.index and f"any_purchase:{term}" not in tidy.index:
            continue
        row = tidy.loc[term] if term in tidy.index else None
        column = result.spec.driver(term).column
        delta = float(deltas[term] if term in deltas else (registry.lookup(column).step or 1.0))
        label = driver_label(column)[0]
        out = {"term": term, "delta": delta, "measure": None, "ratio": np.nan,
               "e_value": np.nan, "e_value_ci": np.nan, "robustness_value": np.nan,
               "robustness_value_ci": np.nan, "approximation": None, "sentence": ""}
        if result.kind in _RATIO_KINDS:
            b, lo, hi = (float(row[c]) * delta for c in ("estimate", "conf_low", "conf_high"))
            lo, hi = min(lo, hi), max(lo, hi)
            ev = e_value(math.exp(b), math.exp(lo), math.exp(hi),
                         measure="or" if result.kind == "logit" else "hr",
                         outcome_rate=_outcome_rate(result))
            out.update(measure=_RATIO_KINDS[result.kind], ratio=math.exp(b),
                       e_value=ev["e_value"], e_value_ci=ev["e_value_ci"],
                       approximation=ev["approximation"])
            out["sentence"] = _e_sentence(ev, label, result.outcome_label, level)
        elif result.kind in _LINEAR_KINDS:
            res = result.model_result
            t = float(row["estimate"]) / float(row["std_error"])
            dof = float(res.df_resid)
            rv = robustness_value(t, dof)
            rva = robustness_value(t, dof, alpha=result.alpha)
            out.update(measure="robustness value", robustness_value=rv,
                       robustness_value_ci=rva,
                       approximation="t-statistic of the reported standard errors, residual df")
            out["sentence"] = _rv_sentence(rv, rva, label, result.outcome_label, level)
        elif result.kind == "two_part" and f"any_purchase:{term}" in tidy.index:
            out.update(_two_part(result, tidy, term, delta=delta, label=label, level=level))
        elif result.kind == "tweedie":
            b, lo, hi = (float(row[c]) * delta for c in ("estimate", "conf_low", "conf_high"))
            lo, hi = min(lo, hi), max(lo, hi)
            ev = e_value(math.exp(b), math.exp(lo), math.exp(hi))
            out.update(measure="ratio of mean revenue", ratio=math.exp(b), e_value=ev["e_value"],
                       e_value_ci=ev["e_value_ci"],
                       approximation="ratio of means (log link) read as a rate ratio")
            out["sentence"] = _e_sentence(ev, label, result.outcome_label, level)
        else:
            out["approximation"] = f"no standard sensitivity measure for a {result.kind} model"
        rows.append(out)
    return pd.DataFrame(rows, columns=["term", "delta", "measure", "ratio", "e_value",
                                       "e_value_ci", "robustness_value",
                                       "robustness_value_ci", "approximation", "sentence"])
