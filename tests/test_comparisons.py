"""Tests of cxkit.comparisons, and truth recovery on the generated sample."""

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from statsmodels.stats.multitest import multipletests

from cxkit.comparisons import (
    adjust_pvalues,
    compare_naive,
    fit_by_segment,
    fit_within,
    is_absorbing,
)
from cxkit.models import fit_retention
from cxkit.panel import build_panel
from cxkit.revenue import fit_revenue
from cxkit.synth import make_sample

DRIVERS = ["resolution_hours_mean", "fcr_rate"]


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
    np.testing.assert_allclose(eff.loc[DRIVERS, "estimate"], 100 * direct.params, rtol=1e-8)
    np.testing.assert_allclose(eff.loc[DRIVERS, "std_error"], 100 * direct.bse, rtol=1e-8)
    assert res.dropped.set_index("step").loc["single_row_customer", "rows_dropped"] > 0



def test_within_flags_an_outcome_that_ends_the_customer_history():
    frame = pd.DataFrame({"customer_id": ["a"] * 4 + ["b"] * 3,
                          "period_index": [0, 1, 2, 3, 0, 1, 2],
                          "churned_next": [0, 0, 1, 1, 0, 0, np.nan],  # horizon 2: two 1s
                          "repeat_purchase_next": [1, 0, 1, 0, 0, 1, 0]})
    assert is_absorbing(frame, outcome="churned_next", entity="customer_id", time="period_index")
    assert not is_absorbing(frame, outcome="repeat_purchase_next", entity="customer_id",
                          time="period_index")
    shuffled = frame.iloc[[3, 0, 2, 1, 6, 5, 4]]  # order by period, not by row position
    assert is_absorbing(shuffled, outcome="churned_next", entity="customer_id",
                      time="period_index")
    frame.loc[3, "churned_next"] = 0  # a return to 0 is not an absorbing event
    assert not is_absorbing(frame, outcome="churned_next", entity="customer_id",
                          time="period_index")


# -- truth recovery on the generated sample -------------------------------------------------

@pytest.fixture(scope="module")
def sample():
    data, truth = make_sample()  # an import error of cxkit fails, never skips
    return build_panel(data), truth


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
    assert eff["conf_low"] < truth["revenue"]["amount_per_csat_point"] < eff["conf_high"]
    tidy = res.tidy().set_index("term")
    for term, key in (("any_purchase:csat_mean", "any_purchase_log_odds_per_csat_point"),
                      ("log_amount:csat_mean", "amount_log_per_csat_point")):
        assert tidy.loc[term, "conf_low"] < truth["revenue"][key] < tidy.loc[term, "conf_high"]
