"""Evidence labels: what kind of claim each estimate supports.

Every estimate cxkit reports carries one of three labels:

* ``design-based`` — a support-quality driver measured strictly before the
  outcome, in a design whose checks did not fail (for the panel models:
  outcome in a later period, quality given contact, no failed placebo). It
  still rests on no unmeasured confounding; its E-value or robustness value
  says how strong a confounder would have to be to explain it away.
* ``association only`` — a relation the design cannot order in time or
  protect (one row per customer, lifetime summaries, all customers compared
  on quality metrics that exist only for those who contacted support, a
  failed placebo), and every adjustment term (plan, tenure, ...).
* ``confounded by construction`` — an exposure that measures how much help a
  customer needed (ticket volume, contact rate, having contacted support at
  all: every metric the registry flags ``confounded_by_construction``).
  Customers with more problems both need more help and churn more, so no
  adjustment for observed variables makes such an estimate an effect of
  support. It is shown only
  in the naive-versus-adjusted comparison, never as a finding.
"""

from __future__ import annotations

import re

import pandas as pd

__all__ = ["ASSOCIATION", "CONFOUNDED", "DESIGN_BASED", "EVIDENCE_LABELS", "EVIDENCE_NOTES",
           "evidence_label", "evidence_labels", "is_finding", "is_help_needed", "weakest"]

DESIGN_BASED = "design-based"
ASSOCIATION = "association only"
CONFOUNDED = "confounded by construction"
EVIDENCE_LABELS = (DESIGN_BASED, ASSOCIATION, CONFOUNDED)

#: Plain-words reading of each label (reports and summaries).
EVIDENCE_NOTES = {
    DESIGN_BASED: "support quality measured before the outcome in a checked design; "
                  "causal only if no unmeasured confounder is as strong as its E-value",
    ASSOCIATION: "an association the design cannot order in time or protect; not an effect",
    CONFOUNDED: "measures how much help a customer needed, which problem-prone customers "
                "need more of and churn more: confounded by construction, never a finding",
}

def _column(term: str) -> str:
    """The column behind a formula term: ``np.log1p(ticket_count)`` -> ``ticket_count``."""
    inner = re.findall(r"[A-Za-z_][A-Za-z0-9_]*", re.sub(r"np\.\w+", "", str(term)))
    names = [n for n in inner if n not in {"C", "I", "Q", "T", "log", "log1p", "sqrt", "exp"}]
    return names[0] if names else str(term)


def is_help_needed(term: str) -> bool:
    """Whether ``term`` measures how much help a customer needed (volume, contact).

    The metric registry is the home of that fact (``Metric.confounded_by_construction``):
    ticket volume, contacts, contact rate, having contacted support at all.
    """
    from cxkit import registry

    return bool(registry.lookup(_column(term)).confounded_by_construction)


PLACEBO_CHECK = "placebo_prior_revenue_change"
_PLACEBO_FAILED = "drivers predict the earlier revenue change: "


def _placebo_failed_terms(detail: str) -> list[str]:
    """Drivers a failed placebo names (guardrails write ``<prefix>a, b. <estimates>``)."""
    if not detail.startswith(_PLACEBO_FAILED):
        return []
    return [t.strip() for t in detail[len(_PLACEBO_FAILED):].split(". ")[0].split(",")]


def _design_ok(result, term: str) -> bool:
    checks = result.guardrails
    if not len(checks):
        return False
    status = checks.set_index("check")["status"]
    if status.get("exposure_before_outcome") != "passes":
        return False
    failed = checks.loc[checks["status"] == "fails"]
    for check, detail in failed[["check", "detail"]].itertuples(index=False):
        # a failed placebo speaks against the drivers it names; any other failure, all
        if check != PLACEBO_CHECK or term in _placebo_failed_terms(str(detail)):
            return False
    spec = getattr(result, "spec", None)
    diagnostics = result.diagnostics or {}
    design = diagnostics["design"] if "design" in diagnostics else getattr(spec, "design", None)
    return design != "all"  # quality metrics compared across contacted and silent customers


def evidence_label(result, term: str) -> str:
    """The evidence label of one term of a fitted :class:`~cxkit.results.ModelResult`."""
    if is_help_needed(term):
        return CONFOUNDED
    if term not in result.drivers:
        return ASSOCIATION  # adjustment terms and the intercept are not effects
    return DESIGN_BASED if _design_ok(result, term) else ASSOCIATION


def evidence_labels(result, terms=None) -> pd.Series:
    """Evidence label per term (default: every term of ``result.tidy()``), indexed by term."""
    terms = list(dict.fromkeys(result.estimates_table["term"])) if terms is None \
        else list(terms)
    return pd.Series([evidence_label(result, t) for t in terms], index=terms, name="evidence")


def weakest(labels) -> str:
    """The weakest of several labels (e.g. of the drivers a what-if scenario changes)."""
    order = [CONFOUNDED, ASSOCIATION, DESIGN_BASED]
    ranks = [order.index(x) for x in labels if x in order]
    return order[min(ranks)] if ranks else ASSOCIATION


def is_finding(evidence: str) -> bool:
    """Whether an estimate with this label may be presented as a finding."""
    return evidence != CONFOUNDED
