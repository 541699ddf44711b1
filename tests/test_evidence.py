"""Tests of cxkit.evidence: every estimate's evidence label."""

import pandas as pd
import pytest

from cxkit.evidence import (
    ASSOCIATION,
    CONFOUNDED,
    DESIGN_BASED,
    evidence_label,
    evidence_labels,
    is_finding,
    is_help_needed,
)
from cxkit.models import fit_retention


@pytest.mark.parametrize("term", ["ticket_count", "ticket_count_prior", "np.log1p(ticket_count)",
                                  "tickets_per_month", "contacted", "contact_rate"])
def test_volume_and_contact_are_help_needed(term):
    assert is_help_needed(term)


@pytest.mark.parametrize("term", ["fcr_rate", "resolution_hours_mean", "csat_mean", "C(plan)"])
def test_quality_metrics_are_not_help_needed(term):
    assert not is_help_needed(term)


def test_guarded_panel_model_labels(panel):
    res = fit_retention(panel, drivers=["resolution_hours_mean", "fcr_rate", "ticket_count"],
                        controls=["C(plan)", "ticket_count_prior"])
    labels = evidence_labels(res)
    assert labels["resolution_hours_mean"] == DESIGN_BASED
    assert labels["fcr_rate"] == DESIGN_BASED
    assert labels["ticket_count"] == CONFOUNDED  # however it is adjusted
    assert labels["ticket_count_prior"] == CONFOUNDED
    assert labels["C(plan)[T.pro]"] == ASSOCIATION  # an adjustment term, not an effect
    assert not is_finding(labels["ticket_count"]) and is_finding(labels["fcr_rate"])


def test_all_customers_design_is_association_only(panel):
    res = fit_retention(panel, drivers=["resolution_hours_mean"], design="all",
                        controls=["C(plan)"], placebo=False)
    assert evidence_label(res, "resolution_hours_mean") == ASSOCIATION


def test_one_row_per_customer_is_association_only(panel):
    one = panel.loc[panel["period_index"] == 0].copy()
    one.attrs = {}
    one["churned"] = one["churned_next"]
    res = fit_retention(one, drivers=["resolution_hours_mean"], outcome="churned",
                        controls=["C(plan)"], cluster=None, design="all", placebo=False)
    assert evidence_label(res, "resolution_hours_mean") == ASSOCIATION


def test_failed_guardrail_demotes_to_association(panel):
    res = fit_retention(panel, drivers=["fcr_rate", "resolution_hours_mean"],
                        controls=["C(plan)"], placebo=False)
    assert evidence_label(res, "fcr_rate") == DESIGN_BASED
    checks = res.guardrails
    placebo = checks["check"] == "placebo_prior_revenue_change"
    # a failed placebo speaks against the driver it names (as design_checks writes it)
    checks.loc[placebo, ["status", "detail"]] = [
        "fails", "drivers predict the earlier revenue change: fcr_rate. fcr_rate: -6 (-11 to -1)"]
    object.__setattr__(res, "guardrails_table", checks)
    assert evidence_label(res, "fcr_rate") == ASSOCIATION
    assert evidence_label(res, "resolution_hours_mean") == DESIGN_BASED
    other = pd.concat([checks, pd.DataFrame([{"check": "some_check", "status": "fails",
                                              "detail": "x"}])])
    object.__setattr__(res, "guardrails_table", other)
    assert evidence_label(res, "resolution_hours_mean") == ASSOCIATION


def test_headline_rows_carry_label_and_sensitivity_and_findings_leave_volume_out(panel):
    from cxkit.describe import describe_findings
    from cxkit.result_rows import headline_rows

    res = fit_retention(panel, drivers=["resolution_hours_mean", "fcr_rate", "ticket_count"],
                        controls=["C(plan)", "ticket_count_prior"], placebo=False)
    rows = headline_rows(res).set_index("term")
    assert rows.loc["fcr_rate", "evidence"] == DESIGN_BASED
    assert rows.loc["fcr_rate", "e_value"] > 1
    assert "[design-based]; an unmeasured confounder would need a risk ratio of" in \
        rows.loc["fcr_rate", "effect"]
    assert rows.loc["ticket_count", "evidence"] == CONFOUNDED
    assert rows.loc["ticket_count", "effect"].endswith("[confounded by construction: not a finding]")
    findings = describe_findings(res)
    body, note = findings.iloc[:-1], findings.iloc[-1]
    assert not body["finding"].str.contains("ticket").any()
    assert set(body["evidence"]) == {DESIGN_BASED}
    assert note["model"] == "note" and "ticket_count" in note["finding"]


def test_tidy_summary_and_effect_carry_the_label(panel):
    res = fit_retention(panel, drivers=["fcr_rate", "ticket_count"],
                        controls=["C(plan)", "ticket_count_prior"], placebo=False)
    tidy = res.tidy().set_index("term")
    assert tidy.loc["fcr_rate", "evidence"] == DESIGN_BASED
    assert tidy.loc["ticket_count", "evidence"] == CONFOUNDED
    eff = res.effect("fcr_rate", 0.1)
    assert eff["evidence"] == DESIGN_BASED and eff["sentence"].endswith("[design-based]")
    assert res.effect("ticket_count")["sentence"].endswith(
        "[confounded by construction: not a finding]")
    text = repr(res.summary())
    assert "Sensitivity to unobserved confounding" in text and "e_value" in text
    assert "confounded by construction" in text
