"""Tests of cxkit.guardrails: the design checks, the placebo and the caveat."""

import numpy as np
import pandas as pd
import pytest

from cxkit.exceptions import ModelError
from cxkit.fitting import make_spec
from cxkit.guardrails import caveat_text, placebo_check, placebo_outcome
from cxkit.models import fit_retention

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


def test_caveat_text_names_design_and_flags():
    checks = pd.DataFrame({"check": ["exposure_before_outcome", "placebo"],
                           "status": ["passes", "fails"], "detail": ["", ""]})
    spec = make_spec(outcome="churned_next", drivers=["fcr_rate"], controls=["C(plan)"],
                     design="all", cluster="customer_id")
    text = caveat_text(spec, outcome_label="monthly churn", n_obs=1234, checks=checks)
    assert text.startswith("Design: 1,234 all customer-periods")
    assert "adjusted for C(plan), standard errors clustered by customer." in text
    assert "Guardrails flagged: placebo." in text
    hc1 = make_spec(outcome="churned_next", drivers=["fcr_rate"], design="all")
    assert "robust (HC1) standard errors, not clustered" in caveat_text(
        hc1, outcome_label="churn", n_obs=10)


def test_placebo_outcome_equals_a_merge_of_earlier_periods(panel):
    shuffled = panel.sample(frac=1.0, random_state=0)  # order must not matter
    got = placebo_outcome(shuffled)
    base = shuffled[["customer_id", "period_index", "revenue_amount"]]
    lags = [base.assign(period_index=base["period_index"] + k).rename(
        columns={"revenue_amount": f"lag{k}"}) for k in (1, 2)]
    direct = shuffled.merge(lags[0], on=["customer_id", "period_index"], how="left").merge(
        lags[1], on=["customer_id", "period_index"], how="left")
    np.testing.assert_allclose(got, (direct["lag1"] - direct["lag2"]).to_numpy())
    assert np.isnan(got).sum() == 2 * panel["customer_id"].nunique()  # periods 0 and 1


def test_placebo_uses_the_driver_transform(panel):
    table = placebo_check(panel, drivers=["log(resolution_hours_mean)", "fcr_rate >= 0.5"])
    assert list(table["term"]) == ["log(resolution_hours_mean)", "fcr_rate >= 0.5"]


def test_caveat_never_says_all_pass_when_a_check_did_not_run():
    checks = pd.DataFrame({"check": ["exposure_before_outcome", "placebo_prior_revenue_change"],
                           "status": ["passes", "not run"],
                           "detail": ["", "revenue_amount is always 0"]})
    spec = make_spec(outcome="churned_next", drivers=["fcr_rate"],
                     design="quality_given_contact")
    text = caveat_text(spec, outcome_label="monthly churn", n_obs=10, checks=checks)
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
