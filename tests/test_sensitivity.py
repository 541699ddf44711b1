"""Tests of cxkit.sensitivity against textbook examples, computed by hand."""

import math

import numpy as np
import pytest

from cxkit.sensitivity import describe_sensitivity, e_value, robustness_value


def test_e_value_breastfeeding_example():
    # VanderWeele & Ding (2017), Ann Intern Med 167(4): RR 3.9 (95% CI 1.8 to 8.7)
    # -> "E-value 7.26; for the lower limit 3.0". By hand: 3.9 + sqrt(3.9 * 2.9) = 7.2630,
    # 1.8 + sqrt(1.8 * 0.8) = 3.0.  R: EValue::evalues.RR(3.9, 1.8, 8.7)
    ev = e_value(3.9, 1.8, 8.7)
    assert ev["e_value"] == pytest.approx(3.9 + math.sqrt(3.9 * 2.9), abs=1e-12)
    assert round(ev["e_value"], 2) == 7.26
    assert ev["e_value_ci"] == pytest.approx(3.0, abs=1e-12)


def test_e_value_protective_leukemia_example():
    # VanderWeele & Ding (2017): RR 0.80 (0.71 to 0.91) -> E-values 1.81 and 1.43.
    # By hand: 1/0.8 = 1.25 -> 1.25 + sqrt(1.25 * 0.25); upper limit 1/0.91 = 1.0989...
    ev = e_value(0.80, 0.71, 0.91)
    assert ev["e_value"] == pytest.approx(1.25 + math.sqrt(1.25 * 0.25), abs=1e-12)
    r = 1 / 0.91
    assert ev["e_value_ci"] == pytest.approx(r + math.sqrt(r * (r - 1)), abs=1e-12)
    assert (round(ev["e_value"], 2), round(ev["e_value_ci"], 2)) == (1.81, 1.43)


def test_e_value_interval_including_one_is_one():
    assert e_value(1.3, 0.9, 1.8)["e_value_ci"] == 1.0


def test_odds_ratio_common_outcome_uses_square_root():
    # EValue::evalues.OR(0.86, 0.75, 0.99, rare = FALSE): RR ~ sqrt(OR)
    ev = e_value(0.86, 0.75, 0.99, measure="or", outcome_rate=0.30)
    rr = 1 / math.sqrt(0.86)
    assert ev["risk_ratio"] == pytest.approx(math.sqrt(0.86))
    assert ev["e_value"] == pytest.approx(rr + math.sqrt(rr * (rr - 1)), abs=1e-12)
    hi = 1 / math.sqrt(0.99)
    assert ev["e_value_ci"] == pytest.approx(hi + math.sqrt(hi * (hi - 1)), abs=1e-12)
    assert "sqrt(odds ratio)" in ev["approximation"]
    rare = e_value(0.86, 0.75, 0.99, measure="or", outcome_rate=0.03)
    assert rare["risk_ratio"] == 0.86 and "rare" in rare["approximation"]


def test_hazard_ratio_common_outcome_conversion():
    # EValue::evalues.HR(0.56, 0.46, 0.69, rare = FALSE):
    # RR = (1 - 0.5^sqrt(0.56)) / (1 - 0.5^sqrt(1/0.56)) = 0.67011...
    rr = (1 - 0.5 ** math.sqrt(0.56)) / (1 - 0.5 ** math.sqrt(1 / 0.56))
    ev = e_value(0.56, 0.46, 0.69, measure="hr", outcome_rate=0.5)
    assert ev["risk_ratio"] == pytest.approx(rr, abs=1e-12)
    assert round(rr, 4) == 0.6701
    inv = 1 / rr
    assert ev["e_value"] == pytest.approx(inv + math.sqrt(inv * (inv - 1)), abs=1e-12)
    assert round(ev["e_value"], 2) == 2.35


def test_robustness_value_darfur():
    # Cinelli & Hazlett (2020), sensemakr's test-02-darfur.R:
    #   sensemakr(estimate = 0.09731582, se = 0.02325654, dof = 783, ...)
    #   expect_equivalent(rv_q, 0.1387764); expect_equivalent(rv_qa, 0.07625797)
    t = 0.09731582 / 0.02325654
    assert robustness_value(t, 783) == pytest.approx(0.1387764, abs=1e-6)
    assert robustness_value(t, 783, alpha=0.05) == pytest.approx(0.07625797, abs=1e-6)
    assert robustness_value(1.0, 783, alpha=0.05) == 0.0  # not significant to begin with


def test_sensitivity_of_a_retention_logit(panel):
    from cxkit.models import fit_retention

    res = fit_retention(panel, drivers=["resolution_hours_mean", "fcr_rate"])
    table = describe_sensitivity(res, deltas={"resolution_hours_mean": -2.0, "fcr_rate": 0.1})
    row = table.set_index("term").loc["fcr_rate"]
    b = res.tidy().set_index("term").loc["fcr_rate", "estimate"]
    assert row["ratio"] == pytest.approx(math.exp(0.1 * b))
    rr = max(row["ratio"], 1 / row["ratio"])  # monthly churn is rare: RR ~ OR
    assert row["e_value"] == pytest.approx(rr + math.sqrt(rr * (rr - 1)))
    assert "rare" in row["approximation"]
    assert row["sentence"].startswith("an unmeasured confounder would need a risk ratio of ")
    assert np.isnan(row["robustness_value"])


def test_sensitivity_of_a_two_part_revenue_model(panel):
    from cxkit.revenue import fit_revenue

    res = fit_revenue(panel, drivers=["csat_mean"], placebo=False)
    row = describe_sensitivity(res, deltas={"csat_mean": 1.0}).set_index("term").loc["csat_mean"]
    tidy = res.tidy().set_index("term")
    odds = math.exp(tidy.loc["any_purchase:csat_mean", "estimate"])
    rate = res.diagnostics["purchase_rate"]
    assert rate > 0.15  # common: RR ~ sqrt(OR)
    rr = max(math.sqrt(odds), 1 / math.sqrt(odds))
    assert row["e_value"] == pytest.approx(rr + math.sqrt(rr * (rr - 1)))
    assert 0 < row["robustness_value"] < 1  # the amount part, a linear model of log amount
    assert row["sentence"].startswith("for the purchase part, an unmeasured confounder")
