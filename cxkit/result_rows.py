"""Rows for a run's ``results.json``: one per reported estimate.

Each function turns fitted results, KPIs or the data-quality table into the
rows :func:`cxkit.report.write_results` writes (``model, outcome, term,
estimate, conf_low, conf_high, p_value, n_obs, effect``; model estimates also
``evidence`` and their sensitivity to unobserved confounding). No row names a
notebook: ``write_results`` fills in the notebook that writes it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cxkit import registry
from cxkit.availability import adapts
from cxkit.data import SupportData

__all__ = ["headline_rows", "quality_rows", "kpi_rows"]


@adapts(combine=True)
def headline_rows(*results) -> pd.DataFrame:
    """Result rows for ``results.json``: one per driver of each fitted model.

    ``estimate`` and its interval are on the model's own scale (log-odds for
    a logit, log hazard for Cox, currency per driver unit for revenue models),
    so they can be compared with a generator's truth; ``effect`` is the plain
    sentence for the change in the driver's registry entry (``step``, see
    :func:`cxkit.registry.lookup`).
    """
    rows = []
    for res in results:
        coefficients = res.tidy().set_index("term")
        effects = res.effects().set_index("term")
        for term in res.drivers:
            if term not in effects.index:
                continue
            money = res.effect_unit not in ("pp", "hazard ratio")
            src = effects.loc[term] if money else coefficients.loc[term]
            column = res.spec.driver(term).column
            rows.append({"model": res.kind, "outcome": res.outcome,
                         "term": term, "estimate": float(src["estimate"]),
                         "conf_low": float(src["conf_low"]),
                         "conf_high": float(src["conf_high"]), "p_value": float(src["p_value"]),
                         "n_obs": int(res.n_obs), "evidence": src["evidence"],
                         "effect": res.effect(term, registry.lookup(column).step)["sentence"]})
    return _labelled(pd.DataFrame(rows, columns=["model", "outcome", "term", "estimate",
                                                 "conf_low", "conf_high", "p_value", "n_obs",
                                                 "evidence", "effect"]), results)


def _labelled(rows: pd.DataFrame, results) -> pd.DataFrame:
    """Headline rows with their evidence label and sensitivity to unobserved confounding.

    The effect sentence ends with the label, and for a finding with how
    strong an unmeasured confounder would have to be to explain it away.
    """
    from cxkit.evidence import CONFOUNDED, evidence_label
    from cxkit.sensitivity import describe_sensitivity

    if not len(rows):
        return rows.reindex(columns=list(dict.fromkeys([
            *rows.columns, "evidence", "e_value", "e_value_ci", "robustness_value",
            "robustness_value_ci", "sensitivity"])))
    extra = []
    for res in results:
        sens = describe_sensitivity(res).set_index("term")
        for term in res.drivers:
            s = sens.loc[term] if term in sens.index else {}
            extra.append({"model": res.kind, "outcome": res.outcome, "term": term,
                          "label_": evidence_label(res, term),
                          **{c: s.get(c, np.nan) for c in ("e_value", "e_value_ci",
                                                           "robustness_value",
                                                           "robustness_value_ci")},
                          "sensitivity": s.get("sentence") or None})
    out = rows.merge(pd.DataFrame(extra), on=["model", "outcome", "term"], how="left")
    if "evidence" not in out.columns:
        out["evidence"] = out["label_"]
    out = out.drop(columns="label_")
    # the effect sentence already ends with the evidence label (ModelResult.effect)
    out["effect"] = [
        e if ev == CONFOUNDED else e + (f"; {s}" if isinstance(s, str) and s else "")
        for e, ev, s in zip(out["effect"], out["evidence"], out["sensitivity"], strict=True)]
    return out


def quality_rows(data: SupportData) -> pd.DataFrame:
    """Result rows for ``results.json``: rows set aside per table and rule."""
    q = data.quality
    if not len(q):
        return pd.DataFrame(columns=["model", "outcome", "term", "estimate", "n_obs"])
    return pd.DataFrame({"model": "data_quality",
                         "outcome": "rows_quarantined",
                         "term": q["table"].astype(str) + ": " + q["rule"].astype(str),
                         "estimate": q["rows_quarantined"].astype(float),
                         "n_obs": q["rows_in"].astype(int),
                         "effect": q["rows_quarantined"].astype(int).astype(str)
                         + " of " + q["rows_in"].astype(int).astype(str) + " rows set aside: "
                         + q["description"].astype(str)})


def kpi_rows(data: SupportData, *, alpha: float = 0.05) -> pd.DataFrame:
    """Result rows for ``results.json``: overall KPIs, and NPS with its interval."""
    from cxkit import metrics

    k = metrics.compute_kpis(data).iloc[0]
    rows = []
    for col in ("first_response_minutes_median", "resolution_hours_median", "fcr_rate",
                "reopen_rate", "csat_mean", "ces_mean"):
        unit = registry.lookup(col).unit_words
        if col in k.index and pd.notna(k[col]):
            rows.append({"model": "kpi", "outcome": col, "term": "overall",
                         "estimate": float(k[col]), "n_obs": int(k["n_tickets"]),
                         "effect": f"{col.replace('_', ' ')}: {k[col]:.3g} {unit}"})
    if data.surveys is not None and len(data.surveys):
        n = metrics.nps(data, alpha=alpha).iloc[0]
        rows.append({"model": "kpi", "outcome": "nps", "term": "overall",
                     "estimate": float(n["nps"]), "conf_low": float(n["nps_conf_low"]),
                     "conf_high": float(n["nps_conf_high"]), "n_obs": int(n["n_responses"]),
                     "effect": f"NPS {n['nps']:+.1f} ({round(100 * (1 - alpha))}% CI "
                               f"{n['nps_conf_low']:+.1f} to {n['nps_conf_high']:+.1f})"})
    return pd.DataFrame(rows)
