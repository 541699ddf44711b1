"""Tests of cxkit.guardrails, and truth recovery on the generated sample."""

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from statsmodels.stats.multitest import multipletests

from cxkit.guardrails import (adjust_pvalues, caveat_text, compare_naive, fit_by_segment,
                              fit_within, placebo_check)
from cxkit.exceptions import ModelError
from cxkit.models import fit_retention
from cxkit.revenue import fit_revenue

DRIVERS = ["resolution_hours_mean", "fcr_rate"]


def test_placebo_passes_when_drivers_are_unrelated_to_the_past(panel):
    table = placebo_check(panel, drivers=DRIVERS)
    assert list(table["term"]) == DRIVERS
    assert (table["verdict"] == "passes").all()


def test_placebo_fails_when_driver_tracks_earlier_revenue(panel):
    p = panel.sort_values(["customer_id", "period_index"]).copy()
    rev = p.groupby("customer_id")["revenue_amount"]
    change = rev.shift(1) - rev.shift(2)  # the placebo outcome itself, as a "driver"
    p["leaky_rate"] = (0.5 + change.fillna(0) / 2000).clip(0, 1)
    table = placebo_check(p, drivers=["leaky_rate"]).set_index("term")
    assert table.loc["leaky_rate", "verdict"] == "fails"
    res = fit_retention(p, drivers=["leaky_rate"])
    assert res.guardrails.set_index("check").loc["placebo_prior_revenue_change",
                                                 "status"] == "fails"
    assert "placebo_prior_revenue_change" in res.caveat


def test_placebo_not_run_without_history(panel):
    res = fit_retention(panel.drop(columns="revenue_amount"), drivers=DRIVERS)
    row = res.guardrails.set_index("check").loc["placebo_prior_revenue_change"]
    assert row["status"] == "not run" and "revenue_amount" in row["detail"]


def test_adjust_pvalues_benjamini_hochberg():
    p = [0.01, 0.04, 0.03, 0.005, np.nan]
    # by hand: sorted 0.005, 0.01, 0.03, 0.04 -> 0.02, 0.02, 0.04, 0.04
    np.testing.assert_allclose(adjust_pvalues(p), [0.02, 0.04, 0.04, 0.02, np.nan])
    np.testing.assert_allclose(adjust_pvalues(p[:4]), multipletests(p[:4], method="fdr_bh")[1])


def test_fit_by_segment(panel):
    table = fit_by_segment(panel, drivers=DRIVERS, placebo=False)
    assert set(table["segment"]) == {"smb", "mid", "ent"}
    assert len(table) == 6 and table["error"].isna().all()
    assert (table["p_value_bh"] >= table["p_value"] - 1e-15).all()
    np.testing.assert_allclose(table["p_value_bh"], adjust_pvalues(table["p_value"]))


def test_fit_by_segment_records_failures(panel):
    p = panel.copy()
    small = p["segment"] == "ent"
    p.loc[small & (p["churned_next"] == 1), "churned_next"] = 0.0
    table = fit_by_segment(p, drivers=DRIVERS, placebo=False).set_index("segment")
    assert "Too few events" in table.loc["ent", "error"]
    assert table.loc["smb", "error"].isna().all()


def test_within_equals_direct_demeaned_ols(panel):
    res = fit_within(panel, drivers=DRIVERS, time=None)
    df = panel.loc[panel["outcome_observed"] & panel["contacted"]]
    df = df[df.groupby("customer_id")["customer_id"].transform("size") >= 2]
    cols = ["churned_next", *DRIVERS]
    dm = df[cols] - df.groupby("customer_id")[cols].transform("mean")
    direct = sm.OLS(dm["churned_next"], dm[DRIVERS]).fit(
        cov_type="cluster", cov_kwds={"groups": pd.factorize(df["customer_id"])[0]})
    eff = res.effects().set_index("term")
    np.testing.assert_allclose(eff.loc[DRIVERS, "ame"], 100 * direct.params, atol=1e-6)
    np.testing.assert_allclose(eff.loc[DRIVERS, "ame_std_error"], 100 * direct.bse, atol=1e-6)
    assert res.dropped.set_index("step").loc["single_row_customer", "rows_dropped"] > 0



def test_within_flags_an_outcome_that_ends_the_customer_history():
    from cxkit.guardrails import _absorbing
    frame = pd.DataFrame({"customer_id": ["a"] * 4 + ["b"] * 3,
                          "period_index": [0, 1, 2, 3, 0, 1, 2],
                          "churned_next": [0, 0, 1, 1, 0, 0, np.nan],  # horizon 2: two 1s
                          "repeat_purchase_next": [1, 0, 1, 0, 0, 1, 0]})
    assert _absorbing(frame, outcome="churned_next", entity="customer_id", time="period_index")
    assert not _absorbing(frame, outcome="repeat_purchase_next", entity="customer_id",
                          time="period_index")
    shuffled = frame.iloc[[3, 0, 2, 1, 6, 5, 4]]  # order by period, not by row position
    assert _absorbing(shuffled, outcome="churned_next", entity="customer_id",
                      time="period_index")
    frame.loc[3, "churned_next"] = 0  # a return to 0 is not an absorbing event
    assert not _absorbing(frame, outcome="churned_next", entity="customer_id",
                          time="period_index")


def test_caveat_text_names_design_and_flags():
    checks = pd.DataFrame({"check": ["exposure_before_outcome", "placebo"],
                           "status": ["passes", "fails"], "detail": ["", ""]})
    text = caveat_text(design="all", outcome_label="monthly churn", n_obs=1234,
                       controls=["C(plan)"], checks=checks)
    assert text.startswith("Design: 1,234 all customer-periods")
    assert "in the following period" in text and "clustered by customer" in text
    assert "Guardrails flagged: placebo." in text


def test_caveat_never_says_all_pass_when_a_check_did_not_run():
    checks = pd.DataFrame({"check": ["exposure_before_outcome", "placebo_prior_revenue_change"],
                           "status": ["passes", "not run"],
                           "detail": ["", "revenue_amount is always 0"]})
    text = caveat_text(design="quality_given_contact", outcome_label="monthly churn",
                       n_obs=10, controls=[], checks=checks, cluster=None)
    assert "All guardrail checks pass" not in text
    assert "Not run: placebo_prior_revenue_change (revenue_amount is always 0)." in text
    assert "robust (HC1) standard errors, not clustered" in text
    assert "clustered by customer" not in text


def test_one_row_per_customer_caveat_says_churn_not_next_period(panel):
    one = panel.loc[panel["period_index"] == 0].copy()
    one.attrs = {}
    one["churned"] = one["churned_next"]
    res = fit_retention(one, drivers=["resolution_hours_mean"], outcome="churned",
                        controls=["C(plan)"], cluster=None, design="all", placebo=False)
    assert res.outcome_label == "churn"
    assert "next-period" not in res.caveat and "following period" not in res.caveat
    assert "associations only" in res.caveat and "not clustered" in res.caveat
    assert "next-period" not in res.effect("resolution_hours_mean")["sentence"]


def test_placebo_fails_whenever_its_interval_excludes_zero(panel):
    p = panel.copy()
    # revenue of period t-1 moves with period t's resolution time: the drivers "predict" the
    # earlier revenue change, which they cannot cause
    ahead = p.groupby("customer_id")["resolution_hours_mean"].shift(-1)
    p["revenue_amount"] = p["revenue_amount"] + 5.0 * ahead.fillna(ahead.mean())
    table = placebo_check(p, drivers=["resolution_hours_mean"], controls=["C(plan)"])
    row = table.iloc[0]
    assert row["conf_high"] < 0 or row["conf_low"] > 0
    assert row["verdict"] == "fails"


def test_placebo_not_run_names_constant_revenue(panel):
    flat = panel.assign(revenue_amount=0.0)
    with pytest.raises(ModelError, match="revenue_amount is always 0 .* no earlier revenue "
                                         "change to test"):
        placebo_check(flat, drivers=["resolution_hours_mean"], controls=["C(plan)"])
    res = fit_retention(flat, drivers=["resolution_hours_mean"], controls=["C(plan)"])
    status = res.guardrails.set_index("check")["status"]
    assert status["placebo_prior_revenue_change"] == "not run"
    assert "All guardrail checks pass" not in res.caveat and "Not run: placebo" in res.caveat


# -- truth recovery on the generated sample -------------------------------------------------

@pytest.fixture(scope="module")
def sample():
    synth = pytest.importorskip("cxkit.synth")
    panel_mod = pytest.importorskip("cxkit.panel")
    data, truth = synth.make_sample()
    return panel_mod.build_panel(data), truth


def test_sample_churn_effects_recovered(sample):
    panel, truth = sample
    planted = truth["churn"]["log_odds"]
    drivers = ["resolution_hours_mean", "fcr_rate", "first_response_minutes_median"]
    res = fit_retention(panel, drivers=drivers, placebo=False)
    tidy = res.tidy().set_index("term")
    for term in drivers:
        assert tidy.loc[term, "conf_low"] < planted[term] < tidy.loc[term, "conf_high"], term
    assert planted["first_response_minutes_median"] == 0.0


def test_sample_naive_ticket_effect_is_spurious(sample):
    panel, truth = sample
    assert truth["churn"]["log_odds"]["ticket_count"] == 0.0
    table = compare_naive(panel, drivers=["resolution_hours_mean", "fcr_rate"]).set_index("term")
    row = table.loc["ticket_count"]
    assert row["naive_ame"] > 0 and row["naive_p_value"] < 0.01
    assert row["within_conf_low"] < 0 < row["within_conf_high"]
    assert row["evidence"] == "confounded by construction" and "the trap" in row["reading"]
    assert table.loc["fcr_rate", "evidence"] == "design-based"


def test_within_churn_on_the_sample_carries_the_absorbing_warning(sample, panel):
    sample_panel, _ = sample
    churn = fit_within(sample_panel, drivers=DRIVERS)
    assert churn.guardrails.set_index("check").loc["absorbing_outcome", "status"] == "warning"
    assert "not effect sizes" in churn.caveat
    spend = fit_within(sample_panel, drivers=DRIVERS, outcome="revenue_next_amount")
    assert "absorbing_outcome" not in set(spend.guardrails["check"])
    # the toy panel draws churn afresh each period (it can return to 0): no warning
    assert "absorbing_outcome" not in set(fit_within(panel, drivers=DRIVERS).guardrails["check"])


def test_sample_revenue_effect_recovered(sample):
    panel, truth = sample
    res = fit_revenue(panel, drivers=["csat_mean"], placebo=False)
    eff = res.effects().iloc[0]
    assert eff["ame_conf_low"] < truth["revenue"]["amount_per_csat_point"] < eff["ame_conf_high"]
    tidy = res.tidy().set_index("term")
    for term, key in (("any_purchase:csat_mean", "any_purchase_log_odds_per_csat_point"),
                      ("log_amount:csat_mean", "amount_log_per_csat_point")):
        assert tidy.loc[term, "conf_low"] < truth["revenue"][key] < tidy.loc[term, "conf_high"]
